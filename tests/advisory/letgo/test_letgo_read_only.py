"""A let-go client's disagreements are read-only: the page offers no change (no
edit, decision, outcome, amendment, review, archive or comment), says why, and
a change asked for anyway — a form opened before the let-go, a typed address,
the API — is refused with that reason before anything sent is read, changing
nothing. Reading them (the page, its history, the API) goes on as before."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken
from advisory.models import Client, Comment, Disagreement
from advisory.records.versioning import let_go_read_only
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory
from tests.records import fresh, reviewed

pytestmark = pytest.mark.django_db

D = Disagreement
READ_ONLY = "Acme Holdings has been let go: its disagreements are read-only"


@pytest.fixture
def proceeded(dispute, manager) -> Disagreement:
    """Acme's disagreement: the client went against advice, reviewed by the manager."""
    D.objects.filter(pk=dispute.pk).update(
        decision=D.Decision.PROCEEDED, decided_on=dispute.occurred_on
    )
    return reviewed(fresh(dispute), manager)


def let_go(disagreement: Disagreement) -> Disagreement:
    Client.objects.filter(pk=disagreement.client_id).update(status=Client.Status.LET_GO)
    return fresh(disagreement)


def state(disagreement: Disagreement) -> tuple:
    d = fresh(disagreement)
    return (
        d.version,
        d.history.count(),
        d.title,
        d.decision,
        d.verdict,
        d.is_archived,
        Comment.objects.filter(disagreement=d).count(),
    )


def detail(client, user, disagreement: Disagreement) -> str:
    client.force_login(user)
    response = client.get(disagreement.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


# What each change would send: a page's form, valid in itself.
def forms(d: Disagreement) -> dict[str, tuple[str, dict]]:
    return {
        "edit": (
            reverse("disagreement-edit", args=[d.pk]),
            {
                "version": d.version,
                "engagement": d.engagement_id,
                "occurred_on": d.occurred_on.isoformat(),
                "title": "Retitled after the let-go",
                "topic": d.topic,
                "client_request": d.client_request,
                "recommendation": d.recommendation,
                "severity": d.severity,
                "tone": d.tone,
                "change_reason": "Tidying up.",
            },
        ),
        "decision": (
            reverse("disagreement-decision", args=[d.pk]),
            {"version": d.version, "decision": D.Decision.ACCEPTED},
        ),
        "outcome": (
            reverse("disagreement-outcome", args=[d.pk]),
            {
                "version": d.version,
                "verdict": D.Verdict.ADVICE_VINDICATED,
                "outcome": "It went as we said.",
            },
        ),
        "amend": (
            reverse("disagreement-amend", args=[d.pk]),
            {
                "version": d.version,
                "field": "severity",
                "new_value": D.Severity.CRITICAL,
                "reason": "Understated.",
            },
        ),
        "review": (reverse("disagreement-review", args=[d.pk]), {"version": d.version}),
        "archive": (
            reverse("disagreement-archive", args=[d.pk]),
            {"version": d.version, "archive": "on", "reason": "Done."},
        ),
    }


# --- The page ----------------------------------------------------------------------


def test_the_page_offers_changes_before_the_let_go(client, manager, proceeded):
    page = detail(client, manager, proceeded)

    for offered in ["Record the client's decision", "Record the outcome", "Amend a fact"]:
        assert offered in page
    assert reverse("disagreement-edit", args=[proceeded.pk]) in page
    assert "Add comment" in page


def test_a_let_go_clients_disagreement_page_offers_no_change_and_says_why(
    client, manager, proceeded
):
    page = detail(client, manager, let_go(proceeded))

    assert "Acme Holdings has been let go: this disagreement is kept as it was, read-only." in page
    assert "Closed at let-go" in page
    for action in ["edit", "decision", "outcome", "amend", "review", "archive", "comment-create"]:
        name = action if action == "comment-create" else f"disagreement-{action}"
        assert reverse(name, args=[proceeded.pk]) not in page, action
    for button in ["Record decision", "Record outcome", "Amend a fact", "Add comment", "Archive"]:
        assert f">{button}<" not in page, button
    # What was recorded is all still there.
    assert proceeded.client_request in page
    assert "Proceeded against advice" in page


def test_an_unreviewed_let_go_disagreement_offers_no_review(client, manager, dispute):
    page = detail(client, manager, let_go(dispute))

    assert "Mark reviewed" not in page
    assert reverse("disagreement-review", args=[dispute.pk]) not in page


def test_its_history_is_still_shown(client, advisor, proceeded):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-history", args=[let_go(proceeded).pk]))

    assert response.status_code == 200
    assert "Reviewed: facts locked" in response.content.decode()


# --- Asking anyway: the pages ------------------------------------------------------


@pytest.mark.parametrize("action", ["edit", "decision", "outcome", "amend"])
def test_opening_a_change_form_is_refused_with_the_reason(client, manager, proceeded, action):
    gone = let_go(proceeded)
    url, _data = forms(gone)[action]
    client.force_login(manager)

    response = client.get(url, follow=True)

    assert response.redirect_chain == [(gone.get_absolute_url(), 302)]
    assert READ_ONLY in response.content.decode()


@pytest.mark.parametrize("action", ["edit", "decision", "outcome", "amend", "review", "archive"])
def test_a_change_sent_anyway_is_refused_and_changes_nothing(client, manager, proceeded, action):
    # A form filled in before the let-go, sent after it.
    url, data = forms(proceeded)[action]
    gone = let_go(proceeded)
    before = state(gone)
    client.force_login(manager)

    response = client.post(url, data, follow=True)

    assert response.redirect_chain == [(gone.get_absolute_url(), 302)]
    [message] = [str(m) for m in response.context["messages"]]
    assert message == let_go_read_only(gone.client)
    assert state(gone) == before


def test_a_review_sent_anyway_is_refused(client, manager, dispute):
    gone = let_go(dispute)
    before = state(gone)
    client.force_login(manager)

    response = client.post(reverse("disagreement-review", args=[gone.pk]), {"version": 1})

    assert response.status_code == 302
    assert state(gone) == before and not fresh(gone).is_reviewed


def test_a_comment_sent_anyway_is_refused_with_the_reason(client, manager, proceeded):
    gone = let_go(proceeded)
    before = state(gone)
    client.force_login(manager)

    response = client.post(reverse("comment-create", args=[gone.pk]), {"body": "For the file."})

    assert response.status_code == 400
    assert "Acme Holdings has been let go" in response.content.decode()
    assert state(gone) == before


def test_an_outsider_still_gets_404_and_a_role_too_low_403(client, other_advisor, team, proceeded):
    gone = let_go(proceeded)
    url, data = forms(gone)["decision"]

    client.force_login(other_advisor)
    assert client.post(url, data).status_code == 404
    nobody = UserFactory(username="nobody", role="", team=team)
    client.force_login(nobody)
    assert client.post(url, data).status_code == 403


# --- Asking anyway: the API --------------------------------------------------------


@pytest.fixture
def api(manager) -> APIClient:
    _, secret = ApiToken.objects.issue(user=manager, name="tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def api_writes(d: Disagreement) -> dict[str, tuple[str, str, dict]]:
    base = f"/api/disagreements/{d.pk}/"
    return {
        "change": ("patch", base, {"version": d.version, "title": "Retitled"}),
        "decision": ("post", f"{base}decision/", {"version": d.version, "decision": "accepted"}),
        "outcome": (
            "post",
            f"{base}outcome/",
            {"version": d.version, "verdict": "advice_vindicated", "outcome": "As we said."},
        ),
        "comment": ("post", f"{base}comments/", {"body": "For the file."}),
        # Bad input too: the let-go is what the answer says, not the input.
        "bad input": ("post", f"{base}decision/", {"decision": "maybe"}),
    }


@pytest.mark.parametrize("write", ["change", "decision", "outcome", "comment", "bad input"])
def test_the_api_refuses_changes_to_a_let_go_clients_disagreement(api, proceeded, write):
    method, url, data = api_writes(proceeded)[write]
    gone = let_go(proceeded)
    before = state(gone)

    response = getattr(api, method)(url, data, format="json")

    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [let_go_read_only(gone.client)]}
    assert state(gone) == before


def test_the_api_still_reads_it(api, proceeded):
    gone = let_go(proceeded)

    record = api.get(f"/api/disagreements/{gone.pk}/")
    comments = api.get(f"/api/disagreements/{gone.pk}/comments/")

    assert record.status_code == 200 and record.json()["is_open"] is False
    assert comments.status_code == 200


def test_the_api_still_takes_changes_on_another_client(api, manager):
    other = DisagreementFactory(
        engagement=EngagementFactory(client=ClientFactory(lead_advisor=manager))
    )
    method, url, data = api_writes(other)["decision"]

    assert getattr(api, method)(url, data, format="json").status_code == 200
