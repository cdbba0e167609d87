"""The REST API: scope and roles per endpoint, writes through the services,
optimistic locking, bad input, filtering, pagination, the schema and the docs."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.roles import Role
from advisory.models import NAME_TAKEN, Client, Comment, Disagreement, Engagement, LetGoCase
from advisory.records.services import disagreement_mark_reviewed
from advisory.records.versioning import record_save
from tests.factories import (
    ClientFactory,
    DisagreementFactory,
    EngagementFactory,
    UserFactory,
)
from tests.records import fresh

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate
D = Disagreement


def api(user=None) -> APIClient:
    """A client calling as `user` with a fresh personal token (none: anonymous)."""
    client = APIClient()
    if user is not None:
        _, secret = ApiToken.objects.issue(user=user, name="tests")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def world(acme, acme_engagement, dispute, other_advisor, manager):
    """Acme's records (the cast's), and Globex's, which only `other_advisor` sees."""
    globex = ClientFactory(name="Globex", lead_advisor=other_advisor)
    globex_engagement = EngagementFactory(client=globex, title="Tax 2026")
    return {
        "client": acme,
        "engagement": acme_engagement,
        "disagreement": dispute,
        "comment": Comment.objects.create(disagreement=dispute, author=manager, body="Noted."),
        "letgo": LetGoCase.objects.create(
            client=acme, proposed_by=manager, reason="other", justification="Enough."
        ),
        "outsider_client": globex,
        "outsider_engagement": globex_engagement,
        "outsider_disagreement": DisagreementFactory(engagement=globex_engagement),
    }


@pytest.fixture
def roleless(team):
    return UserFactory(username="eve", first_name="Eve", role="", team=team)


@pytest.fixture
def colleague(acme_engagement, team):
    """An advisor on Acme's engagement who did not log its disagreement."""
    user = UserFactory(username="frank", first_name="Frank", role=Role.ADVISOR, team=team)
    acme_engagement.members.add(user)
    return user


READS = [
    "/api/clients/",
    "/api/clients/{client}/",
    "/api/clients/{client}/health/",
    "/api/engagements/",
    "/api/engagements/{engagement}/",
    "/api/disagreements/",
    "/api/disagreements/{disagreement}/",
    "/api/disagreements/{disagreement}/comments/",
    "/api/letgo-cases/",
    "/api/letgo-cases/{letgo}/",
]
WRITES = [
    ("post", "/api/clients/"),
    ("patch", "/api/clients/{client}/"),
    ("post", "/api/engagements/"),
    ("patch", "/api/engagements/{engagement}/"),
    ("post", "/api/disagreements/"),
    ("patch", "/api/disagreements/{disagreement}/"),
    ("post", "/api/disagreements/{disagreement}/decision/"),
    ("post", "/api/disagreements/{disagreement}/outcome/"),
    ("post", "/api/disagreements/{disagreement}/comments/"),
]
ENDPOINTS = [("get", url) for url in READS] + WRITES
DETAIL_ENDPOINTS = [(method, url) for method, url in ENDPOINTS if "{" in url]


def fill(url: str, world: dict, *, outsider: bool = False) -> str:
    def pk(match: re.Match) -> str:
        key = match.group(1)
        if outsider and f"outsider_{key}" in world:
            key = f"outsider_{key}"
        return str(world[key].pk)

    return re.sub(r"\{(\w+)\}", pk, url)


# --- Authentication, scope and roles, endpoint by endpoint ----------------------------


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_answers_401_without_credentials(world, method, url):
    response = getattr(api(), method)(fill(url, world), {}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "detail" in response.json()


@pytest.mark.parametrize("url", READS)
def test_every_read_answers_200_with_a_token(world, manager, url):
    response = api(manager).get(fill(url, world))
    assert response.status_code == 200, response.json()


@pytest.mark.parametrize("url", [url for url in READS if "{" in url])
def test_an_outsider_gets_404_for_every_record(world, url):
    outsider = UserFactory(username="olga", role=Role.ADVISOR)
    response = api(outsider).get(fill(url, world))
    assert response.status_code == 404
    assert list(response.json()) == ["detail"]


@pytest.mark.parametrize(("method", "url"), DETAIL_ENDPOINTS)
def test_another_teams_advisor_gets_404_on_every_record(world, other_advisor, method, url):
    response = getattr(api(other_advisor), method)(fill(url, world), {}, format="json")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "url"), [(m, url) for m, url in DETAIL_ENDPOINTS if "letgo" not in url]
)
def test_records_in_scope_are_reached_by_their_own_people(world, other_advisor, method, url):
    """The same endpoints for Globex's advisor and Globex's records: not 404."""
    response = getattr(api(other_advisor), method)(
        fill(url, world, outsider=True), {}, format="json"
    )
    assert response.status_code in (200, 400), response.json()


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_user_without_a_role_gets_403_everywhere(world, roleless, method, url):
    response = getattr(api(roleless), method)(fill(url, world), {}, format="json")
    assert response.status_code == 403


def test_the_letgo_queue_is_for_managers_and_admins(world, advisor, manager, admin):
    assert api(advisor).get("/api/letgo-cases/").status_code == 403
    for user in (manager, admin):
        response = api(user).get("/api/letgo-cases/")
        assert [case["id"] for case in response.json()["results"]] == [world["letgo"].pk]
    # An advisor still reads a case on their own client, as on the case page.
    response = api(advisor).get(f"/api/letgo-cases/{world['letgo'].pk}/")
    assert response.status_code == 200
    assert response.json()["client"] == world["client"].pk


def test_lists_hold_only_the_users_scope(world, advisor, other_advisor, manager, admin):
    def names(user) -> set[str]:
        return {c["name"] for c in api(user).get("/api/clients/").json()["results"]}

    assert names(advisor) == {"Acme Holdings"}
    assert names(other_advisor) == {"Globex"}
    assert names(manager) == {"Acme Holdings"}
    assert names(admin) == {"Acme Holdings", "Globex"}
    disagreements = api(other_advisor).get("/api/disagreements/").json()["results"]
    assert [d["id"] for d in disagreements] == [world["outsider_disagreement"].pk]


def test_put_and_delete_are_not_offered(world, advisor):
    url = f"/api/clients/{world['client'].pk}/"
    assert api(advisor).put(url, {}, format="json").status_code == 405
    assert api(advisor).delete(url).status_code == 405
    assert Client.objects.filter(pk=world["client"].pk).exists()


def test_options_and_the_api_root_answer(world, advisor):
    client = api(advisor)
    assert client.options("/api/clients/").status_code == 200
    assert client.options(f"/api/disagreements/{world['disagreement'].pk}/").status_code == 200
    root = client.get("/api/")
    assert root.status_code == 200
    assert root.json()["clients"].endswith("/api/clients/")
    assert api().get("/api/").status_code == 401


def test_unknown_api_paths_answer_404_in_json(advisor):
    client = api(advisor)
    for path in ("/api/clients/abc/", "/api/clients/-1/", "/api/nothing/here/"):
        response = client.patch(path, {}, format="json")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


# --- Clients ------------------------------------------------------------------------


def test_an_advisor_creates_a_client_they_lead(advisor, team):
    response = api(advisor).post(
        "/api/clients/",
        {"name": "  Initech   Ltd ", "sector": "Software", "contact_email": "bill@initech.example"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    client = Client.objects.get(pk=response.json()["id"])
    assert (client.name, client.lead_advisor, client.team) == ("Initech Ltd", advisor, team)
    assert response.json()["version"] == 1
    assert client.history.get().history_user == advisor


def test_an_advisor_cannot_hand_a_new_client_to_someone_else(advisor, manager):
    response = api(advisor).post(
        "/api/clients/", {"name": "Initech", "lead_advisor": manager.pk}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["lead_advisor"]
    assert not Client.objects.filter(name="Initech").exists()


def test_a_manager_creates_a_client_for_an_advisor_of_the_team(manager, advisor, team):
    response = api(manager).post(
        "/api/clients/", {"name": "Initech", "lead_advisor": advisor.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Client.objects.get(name="Initech").lead_advisor == advisor


def test_client_names_are_unique_ignoring_case(acme, advisor):
    response = api(advisor).post("/api/clients/", {"name": "ACME holdings"}, format="json")
    assert response.status_code == 400
    assert response.json()["name"] == [NAME_TAKEN]


def test_patching_a_client_changes_only_what_is_sent_and_keeps_the_reason(acme, advisor):
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/",
        {"version": 1, "sector": "Retail", "change_reason": "They sold the factories."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    acme = fresh(acme)
    assert (acme.sector, acme.name, acme.version) == ("Retail", "Acme Holdings", 2)
    assert response.json()["version"] == 2
    entry = acme.history.first()
    assert (entry.history_user, entry.history_change_reason) == (
        advisor,
        "They sold the factories.",
    )


def test_a_patch_needs_the_version_it_is_based_on(acme, advisor):
    response = api(advisor).patch(f"/api/clients/{acme.pk}/", {"sector": "Retail"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"version": ["This field is required."]}
    assert fresh(acme).sector == "Manufacturing"


def test_a_stale_client_patch_answers_409_with_the_current_record(acme, advisor, manager):
    acme.sector = "Retail"
    record_save(acme, by=manager, expected_version=1)
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": 1, "sector": "Mining"}, format="json"
    )
    assert response.status_code == 409
    body = response.json()
    assert "nothing was saved" in body["detail"]
    assert (body["current"]["sector"], body["current"]["version"]) == ("Retail", 2)
    assert (fresh(acme).sector, fresh(acme).version) == ("Retail", 2)


def test_an_advisor_cannot_move_a_client_to_another_lead(acme, advisor, manager):
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": 1, "lead_advisor": manager.pk}, format="json"
    )
    assert response.status_code == 400
    assert "lead_advisor" in response.json()
    assert fresh(acme).lead_advisor == advisor


def test_a_future_client_since_date_is_refused_by_the_model_rule(acme, advisor):
    tomorrow = TODAY() + datetime.timedelta(days=1)
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": 1, "client_since": str(tomorrow)}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"client_since": ["The date cannot be in the future."]}
    assert fresh(acme).version == 1


def test_a_let_go_client_is_read_only(acme, advisor):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": 1, "sector": "Retail"}, format="json"
    )
    assert response.status_code == 400
    assert "let go" in response.json()["non_field_errors"][0]


def test_archived_clients_are_listed_only_when_asked_but_always_reachable(acme, advisor):
    Client.objects.filter(pk=acme.pk).update(is_archived=True)
    client = api(advisor)
    assert client.get("/api/clients/").json()["count"] == 0
    assert client.get("/api/clients/?archived=all").json()["count"] == 1
    assert client.get(f"/api/clients/{acme.pk}/").json()["is_archived"] is True


def test_the_health_endpoint_explains_the_score(acme, advisor, dispute):
    dispute.tone = D.Tone.HOSTILE
    record_save(dispute, by=advisor, expected_version=1)
    body = api(advisor).get(f"/api/clients/{acme.pk}/health/").json()
    assert body["client"] == acme.pk
    assert body["as_of"] == str(TODAY())
    assert (body["computed_band"], body["band"]) == ("healthy", "strained")
    assert "hostile disagreement" in body["cap_reason"]
    assert body["score"] == fresh(acme).health_score
    assert body["contributor_count"] == 1
    [line] = body["contributors"]
    assert (line["disagreement"], line["severity_weight"], line["tone_factor"]) == (
        dispute.pk,
        2.0,
        2.0,
    )
    assert body["override"] is None


# --- Engagements -------------------------------------------------------------------


def test_creating_and_patching_an_engagement_with_members(acme, advisor, colleague):
    client = api(advisor)
    response = client.post(
        "/api/engagements/",
        {"client": acme.pk, "title": "Payroll", "members": [colleague.pk], "fee": "1200.50"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    engagement = Engagement.objects.get(pk=response.json()["id"])
    assert engagement.lead_advisor == advisor
    assert list(engagement.members.all()) == [colleague]
    assert response.json()["fee"] == "1200.50"
    response = client.patch(
        f"/api/engagements/{engagement.pk}/",
        {"version": 1, "members": [], "status": "on_hold"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    engagement = fresh(engagement)
    assert (engagement.status, list(engagement.members.all())) == ("on_hold", [])
    assert engagement.history.first().history_user == advisor


def test_an_engagement_for_a_client_out_of_scope_is_refused(world, advisor):
    response = api(advisor).post(
        "/api/engagements/",
        {"client": world["outsider_client"].pk, "title": "Sneaky"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["client"]


def test_an_engagement_cannot_move_to_another_client(world, admin):
    engagement = world["engagement"]
    response = api(admin).patch(
        f"/api/engagements/{engagement.pk}/",
        {"version": 1, "client": world["outsider_client"].pk},
        format="json",
    )
    assert response.status_code == 400
    assert fresh(engagement).client == world["client"]


def test_engagement_dates_and_fee_follow_the_model_rules(acme_engagement, advisor):
    response = api(advisor).patch(
        f"/api/engagements/{acme_engagement.pk}/",
        {"version": 1, "end_date": "2024-01-01", "fee": "-5"},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"fee"}
    response = api(advisor).patch(
        f"/api/engagements/{acme_engagement.pk}/",
        {"version": 1, "end_date": "2024-01-01"},
        format="json",
    )
    assert response.json() == {"end_date": ["The end date cannot be before the start date."]}


def test_a_stale_engagement_patch_answers_409(acme_engagement, advisor):
    response = api(advisor).patch(
        f"/api/engagements/{acme_engagement.pk}/", {"version": 7, "title": "X"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["current"]["title"] == "Annual audit 2026"
    assert fresh(acme_engagement).title == "Annual audit 2026"


# --- Disagreements -----------------------------------------------------------------


def new_disagreement(engagement, **overrides) -> dict:
    return {
        "engagement": engagement.pk,
        "occurred_on": str(TODAY() - datetime.timedelta(days=2)),
        "title": "Wants the audit signed early",
        "topic": "timeline",
        "client_request": "Sign the accounts on Friday whatever happens.",
        "recommendation": "Wait for the bank confirmations.",
        "severity": "high",
        "tone": "tense",
        **overrides,
    }


def test_logging_a_disagreement(acme, acme_engagement, advisor):
    response = api(advisor).post(
        "/api/disagreements/", new_disagreement(acme_engagement), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    disagreement = Disagreement.objects.get(pk=body["id"])
    assert (disagreement.logged_by, disagreement.client) == (advisor, acme)
    assert (body["client"], body["logged_by"], body["decision"]) == (acme.pk, advisor.pk, "pending")
    assert body["is_open"] is True
    entry = disagreement.history.get()
    assert (entry.history_user, entry.history_change_reason) == (advisor, "Logged")
    assert fresh(acme).health_score is not None


def test_a_disagreement_cannot_be_dated_in_the_future(acme_engagement, advisor):
    tomorrow = str(TODAY() + datetime.timedelta(days=1))
    response = api(advisor).post(
        "/api/disagreements/",
        new_disagreement(acme_engagement, occurred_on=tomorrow),
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"occurred_on": ["The date cannot be in the future."]}
    assert Disagreement.objects.count() == 0


def test_a_disagreement_on_an_engagement_out_of_scope_is_refused(world, advisor):
    response = api(advisor).post(
        "/api/disagreements/",
        new_disagreement(world["outsider_engagement"]),
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["engagement"]


def test_the_decision_and_outcome_are_not_set_through_the_record_itself(dispute, advisor):
    response = api(advisor).patch(
        f"/api/disagreements/{dispute.pk}/",
        {"version": 1, "decision": "accepted", "logged_by": 1},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "decision": ["This field is read-only."],
        "logged_by": ["This field is read-only."],
    }
    assert fresh(dispute).decision == "pending"


def test_patching_a_disagreement(dispute, advisor):
    response = api(advisor).patch(
        f"/api/disagreements/{dispute.pk}/",
        {"version": 1, "severity": "critical", "change_reason": "Bank involved."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    dispute = fresh(dispute)
    assert (dispute.severity, dispute.version) == ("critical", 2)
    assert dispute.history.first().history_change_reason == "Bank involved."


def test_a_stale_disagreement_patch_answers_409(dispute, advisor, manager):
    dispute.title = "Renamed by the manager"
    record_save(dispute, by=manager, expected_version=1)
    response = api(advisor).patch(
        f"/api/disagreements/{dispute.pk}/", {"version": 1, "tone": "hostile"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["current"]["title"] == "Renamed by the manager"
    assert fresh(dispute).tone == "tense"


def test_reviewed_facts_are_locked(dispute, advisor, manager):
    disagreement_mark_reviewed(dispute, by=manager, expected_version=1)
    response = api(advisor).patch(
        f"/api/disagreements/{dispute.pk}/", {"version": 2, "severity": "low"}, format="json"
    )
    assert response.status_code == 400
    assert "Locked since the manager's review" in response.json()["severity"][0]
    assert fresh(dispute).severity == "moderate"


def test_recording_a_decision_against_advice_with_the_clients_words(dispute, advisor):
    day = str(TODAY() - datetime.timedelta(days=1))
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {
            "version": 1,
            "decision": "proceeded",
            "decided_on": day,
            "risk_acknowledged": True,
            "acknowledged_on": day,
            "acknowledgment_method": "email",
            "client_words": "I understand the risk and want to skip the count.",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    dispute = fresh(dispute)
    assert (dispute.decision, dispute.risk_acknowledged, dispute.acknowledgment_method) == (
        "proceeded",
        True,
        "email",
    )
    assert response.json()["version"] == 2
    entry = dispute.history.first()
    assert (entry.history_user, entry.history_change_reason) == (
        advisor,
        "Decision: Proceeded against advice",
    )


def test_an_acknowledgment_needs_the_clients_own_words(dispute, advisor):
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {
            "version": 1,
            "decision": "proceeded",
            "risk_acknowledged": True,
            "acknowledged_on": str(TODAY()),
            "acknowledgment_method": "verbal",
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "client_words": ["Quote the client's acknowledgment in their own words."]
    }
    assert fresh(dispute).decision == "pending"


def test_an_acknowledgment_is_refused_unless_the_client_proceeded(dispute, advisor):
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {"version": 1, "decision": "accepted", "risk_acknowledged": True},
        format="json",
    )
    # The service clears an acknowledgment that doesn't apply, as the page does.
    assert response.status_code == 200
    assert fresh(dispute).risk_acknowledged is None


def test_pending_is_not_a_decision(dispute, advisor):
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {"version": 1, "decision": "pending"},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["decision"]


def test_a_stale_decision_answers_409(dispute, advisor):
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {"version": 9, "decision": "accepted"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["current"]["decision"] == "pending"
    assert fresh(dispute).decision == "pending"


def test_recording_the_outcome_after_the_decision(dispute, advisor):
    client = api(advisor)
    url = f"/api/disagreements/{dispute.pk}/"
    response = client.post(f"{url}outcome/", {"version": 1, "verdict": "mixed"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"verdict": ["Record the client's decision before the outcome."]}
    client.post(f"{url}decision/", {"version": 1, "decision": "accepted"}, format="json")
    response = client.post(
        f"{url}outcome/",
        {"version": 2, "verdict": "advice_vindicated", "outcome": "The bank asked for the count."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    dispute = fresh(dispute)
    assert (dispute.verdict, dispute.outcome_recorded_on) == ("advice_vindicated", TODAY())
    assert response.json()["is_open"] is False
    entry = dispute.history.first()
    assert (entry.history_user, entry.history_change_reason) == (
        advisor,
        "Outcome: Advice vindicated",
    )


def test_a_verdict_needs_the_outcome_described(dispute, advisor):
    client = api(advisor)
    client.post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {"version": 1, "decision": "accepted"},
        format="json",
    )
    response = client.post(
        f"/api/disagreements/{dispute.pk}/outcome/",
        {"version": 2, "verdict": "mixed", "outcome": "   "},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"outcome": ["Describe how it turned out."]}


def test_the_same_decision_again_writes_nothing(dispute, advisor):
    client = api(advisor)
    url = f"/api/disagreements/{dispute.pk}/decision/"
    day = str(TODAY())
    client.post(url, {"version": 1, "decision": "accepted", "decided_on": day}, format="json")
    entries = dispute.history.count()

    response = client.post(
        url, {"version": 2, "decision": "accepted", "decided_on": day}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Nothing changed: the decision is already “Accepted advice”."]
    }
    assert (fresh(dispute).version, dispute.history.count()) == (2, entries)


def test_an_outcome_that_records_nothing_is_refused(dispute, advisor):
    client = api(advisor)
    client.post(
        f"/api/disagreements/{dispute.pk}/decision/",
        {"version": 1, "decision": "accepted"},
        format="json",
    )
    entries = dispute.history.count()

    response = client.post(
        f"/api/disagreements/{dispute.pk}/outcome/",
        {"version": 2, "verdict": "pending"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json() == {
        "verdict": ["Choose who was right, or describe how it has turned out so far."]
    }
    dispute = fresh(dispute)
    assert (dispute.outcome_recorded_on, dispute.history.count()) == (None, entries)


def test_a_stale_outcome_answers_409(dispute, advisor):
    dispute.decision = D.Decision.ACCEPTED
    record_save(dispute, by=advisor, expected_version=1)
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/outcome/",
        {"version": 5, "verdict": "mixed", "outcome": "Meh."},
        format="json",
    )
    assert response.status_code == 409


# --- Comments -------------------------------------------------------------------------


def test_a_manager_comments_and_everyone_in_scope_reads_it(dispute, manager, colleague):
    url = f"/api/disagreements/{dispute.pk}/comments/"
    response = api(manager).post(url, {"body": "  Call me before replying.  "}, format="json")
    assert response.status_code == 201, response.json()
    comment = Comment.objects.get()
    assert (comment.author, comment.body, comment.disagreement) == (
        manager,
        "Call me before replying.",
        dispute,
    )
    assert comment.history.get().history_user == manager
    body = api(colleague).get(url).json()
    assert [(c["author"], c["body"]) for c in body["results"]] == [
        (manager.pk, "Call me before replying.")
    ]


def test_the_advisor_who_logged_it_may_reply(dispute, advisor):
    response = api(advisor).post(
        f"/api/disagreements/{dispute.pk}/comments/", {"body": "Done."}, format="json"
    )
    assert response.status_code == 201


def test_another_advisor_on_the_client_may_not_comment(dispute, colleague):
    response = api(colleague).post(
        f"/api/disagreements/{dispute.pk}/comments/", {"body": "Me too."}, format="json"
    )
    assert response.status_code == 403
    assert not Comment.objects.exists()


def test_no_comment_on_an_archived_disagreement(dispute, manager):
    Disagreement.objects.filter(pk=dispute.pk).update(is_archived=True)
    response = api(manager).post(
        f"/api/disagreements/{dispute.pk}/comments/", {"body": "Late."}, format="json"
    )
    assert response.status_code == 400
    assert "archived" in response.json()["non_field_errors"][0]


def test_an_empty_comment_is_refused(dispute, manager):
    response = api(manager).post(
        f"/api/disagreements/{dispute.pk}/comments/", {"body": "  "}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"body": ["This field may not be blank."]}


# --- Bad input: always 400 with the errors, never 500 -------------------------------


def raw(client: APIClient, method: str, url: str, body: str, content_type="application/json"):
    return getattr(client, method)(url, body, content_type=content_type)


@pytest.mark.parametrize(
    "body",
    ['{"name": ', "not json at all", '{"name": "x",}', "\x00\x01", '{"name": NaN}'],
)
def test_bad_json_answers_400(advisor, body):
    response = raw(api(advisor), "post", "/api/clients/", body)
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("body", ["[]", '"a string"', "42", "null"])
def test_a_body_that_is_not_an_object_answers_400(acme_engagement, advisor, body):
    response = raw(api(advisor), "post", "/api/disagreements/", body)
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]


def test_wrong_types_answer_400_keyed_by_field(acme_engagement, advisor):
    body = new_disagreement(acme_engagement) | {
        "engagement": "abc",
        "occurred_on": "yesterday",
        "severity": 5,
        "title": ["a", "list"],
        "follow_up_on": {"not": "a date"},
    }
    response = api(advisor).post("/api/disagreements/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {
        "engagement",
        "occurred_on",
        "severity",
        "title",
        "follow_up_on",
    }
    assert Disagreement.objects.count() == 0


def test_unknown_fields_answer_400(acme, advisor):
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": 1, "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"colour": ["Unknown field."]}
    assert fresh(acme).version == 1


@pytest.mark.parametrize("version", ["one", -1, 0, None, 1.5, True])
def test_a_bad_version_answers_400(acme, advisor, version):
    response = api(advisor).patch(
        f"/api/clients/{acme.pk}/", {"version": version, "sector": "X"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["version"]


def test_huge_numbers_answer_400_or_404_not_500(acme, advisor):
    client = api(advisor)
    assert client.get(f"/api/clients/{10**30}/").status_code == 404
    response = client.patch(
        f"/api/clients/{acme.pk}/", {"version": 10**30, "team": 10**30}, format="json"
    )
    assert response.status_code == 400
    response = client.post(
        "/api/engagements/", {"client": acme.pk, "title": "X", "fee": "1e40"}, format="json"
    )
    assert response.status_code == 400


def test_a_form_encoded_body_is_refused_as_unsupported(advisor):
    response = raw(
        api(advisor), "post", "/api/clients/", "name=x", "application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


# --- Filtering and pagination --------------------------------------------------------


def test_filters_are_the_pages_filters(acme_engagement, advisor):
    DisagreementFactory(engagement=acme_engagement, title="Fee cut", severity="high")
    DisagreementFactory(engagement=acme_engagement, title="Scope creep", severity="low")
    client = api(advisor)
    body = client.get("/api/disagreements/?severity=high").json()
    assert [d["title"] for d in body["results"]] == ["Fee cut"]
    body = client.get("/api/disagreements/?q=creep").json()
    assert [d["title"] for d in body["results"]] == ["Scope creep"]
    body = client.get("/api/disagreements/?o=severity").json()
    assert [d["severity"] for d in body["results"]] == ["low", "high"]


def test_a_bad_filter_value_answers_400_keyed_by_parameter(world, advisor):
    client = api(advisor)
    response = client.get("/api/disagreements/?severity=apocalyptic&occurred_after=never")
    assert response.status_code == 400
    assert set(response.json()) == {"severity", "occurred"}
    # A client out of scope is not a valid choice either.
    response = client.get(f"/api/engagements/?client={world['outsider_client'].pk}")
    assert response.status_code == 400
    assert list(response.json()) == ["client"]


def test_lists_are_paginated(advisor, team):
    ClientFactory.create_batch(60, lead_advisor=advisor, team=team)
    client = api(advisor)
    body = client.get("/api/clients/").json()
    assert (body["count"], len(body["results"])) == (60, 50)
    assert body["next"].endswith("/api/clients/?page=2")
    assert body["previous"] is None
    body = client.get("/api/clients/?page=2").json()
    assert len(body["results"]) == 10
    assert len(client.get("/api/clients/?page_size=500").json()["results"]) == 60
    assert len(client.get("/api/clients/?page_size=7").json()["results"]) == 7
    assert client.get("/api/clients/?page=9").status_code == 404


def test_the_disagreement_list_makes_a_fixed_number_of_queries(
    acme_engagement, advisor, django_assert_num_queries
):
    DisagreementFactory.create_batch(60, engagement=acme_engagement)
    client = api(advisor)
    client.get("/api/disagreements/")  # the token's first use records last_used_at
    # token, the user's groups and permissions (accounts.backends), count, page
    with django_assert_num_queries(4):
        response = client.get("/api/disagreements/")
    assert len(response.json()["results"]) == 50


def test_the_engagement_list_makes_a_fixed_number_of_queries(
    acme, advisor, colleague, django_assert_num_queries
):
    for n in range(60):
        EngagementFactory(client=acme, title=f"Job {n:02}").members.add(colleague)
    client = api(advisor)
    client.get("/api/engagements/")
    # token, the user's groups and permissions, count, page, members
    with django_assert_num_queries(5):
        response = client.get("/api/engagements/")
    assert all(e["members"] for e in response.json()["results"])


# --- Schema and docs -----------------------------------------------------------------


def test_the_schema_is_served_to_anyone(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Candor API"
    assert "/api/disagreements/{id}/decision/" in schema["paths"]
    patch = schema["paths"]["/api/clients/{id}/"]["patch"]
    # 429: too many invalid tokens from the caller's address.
    assert set(patch["responses"]) == {"200", "400", "401", "403", "404", "409", "429"}


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/clients/{id}/health/" in (tmp_path / "s.yml").read_text()


EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_the_docs_page_loads_nothing_from_elsewhere_and_needs_no_inline_code(db):
    client = APIClient()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL.search(html)
    assert "<style" not in html
    # Every script is a file from this site, so the strict CSP holds.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts and all('src="/' in attrs and not body.strip() for attrs, body in scripts)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "style-src 'self';" in csp
    assert "unsafe" not in csp
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
    assert "http://" not in script.content.decode() and "https://" not in script.content.decode()
    # ...and they exist (the sidecar package ships them).
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert len(assets) == 5  # the sidecar's four and our contrast fixes
    assert "css/api-docs.css" in assets
    assert all(finders.find(asset) for asset in assets), assets
