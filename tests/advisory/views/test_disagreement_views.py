"""The disagreement pages: the log, logging, editing, the decision and outcome,
review and amendments, comments, archive and history."""

from __future__ import annotations

import datetime
import html
import re
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from advisory.models import Amendment, Client, Comment, Disagreement, EvidenceFile
from advisory.records import choices
from advisory.records.comments import comment_add
from advisory.records.services import disagreement_record_decision
from advisory.records.versioning import record_save
from advisory.views import common
from advisory.views.common import PAGE_SIZE
from advisory.web.widgets import LongSelect
from tests.factories import (
    ClientFactory,
    DisagreementFactory,
    EngagementFactory,
    UserFactory,
)
from tests.pages import error_under, list_queries
from tests.records import reviewed

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
OCCURRED = TODAY - 10 * DAY  # what DisagreementFactory gives on TODAY
SCRIPT = "<script>alert('pwned')</script>"


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    # Autouse, so it runs before the fixtures that create records.
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


@pytest.fixture
def colleague(team, acme_engagement):
    """An advisor on the Acme engagement (so they see `dispute`) who did not log it."""
    user = UserFactory(username="erin", first_name="Erin", team=team)
    acme_engagement.members.add(user)
    return user


@pytest.fixture
def outside_manager(other_team):
    """A manager, but of the other team: Acme is outside their scope."""
    user = UserFactory(username="frank", first_name="Frank", role=Role.MANAGER, team=other_team)
    other_team.managers.add(user)
    return user


@pytest.fixture
def stranger(other_advisor):
    """A disagreement on a client of `other_advisor`, outside `advisor`'s scope."""
    engagement = EngagementFactory(
        client=ClientFactory(name="Initech", lead_advisor=other_advisor),
        title="Payroll review",
    )
    return DisagreementFactory(engagement=engagement, title="Overtime unpaid")


def url(name: str, disagreement: Disagreement) -> str:
    return reverse(name, args=[disagreement.pk])


def text(response) -> str:
    return response.content.decode()


def labels(page: str) -> dict[str, str]:
    """Field name → its label text (ids id_<name>, or decision-<name> and outcome-<name>
    for the two quick-action forms that share the disagreement page)."""
    found = re.findall(
        r'<label[^>]*for="(?:id_|decision-|outcome-)(\w+)"[^>]*>\s*(.*?)\s*<', page, re.S
    )
    return {name: html.unescape(label).strip() for name, label in found}


def element(page: str, name: str) -> str:
    """The opening tag of the form control named `name`."""
    match = re.search(rf'<(?:input|textarea|select)[^>]*name="{name}"[^>]*>', page)
    assert match, f"no control named {name}"
    return match[0]


def options(page: str, name: str) -> list[tuple[str, bool]]:
    """A select's (value, selected) options, the empty choice left out."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select named {name}"
    found = re.findall(r'<option value="([^"]*)"( selected)?>', select[1])
    return [(value, bool(selected)) for value, selected in found if value]


def picked(page: str) -> list[tuple[str, bool]]:
    """The engagement picker's (value, checked) choices."""
    found = re.findall(r'<input[^>]*type="radio" name="engagement" value="(\d+)"( checked)?', page)
    return [(value, bool(checked)) for value, checked in found]


def titles(response) -> list[str]:
    return [d.title for d in response.context["page_obj"].object_list]


def log_data(engagement, **overrides) -> dict:
    return {
        "engagement": engagement.pk,
        "occurred_on": (TODAY - 2 * DAY).isoformat(),
        "title": "Bonus accrual left out",
        "topic": Disagreement.Topic.APPROACH,
        "client_request": "Leave the bonus accrual out of the half-year accounts.",
        "recommendation": "Accrue the bonus; it is a present obligation.",
        "rationale": "Leaving it out overstates profit by 4%.",
        "severity": Disagreement.Severity.HIGH,
        "tone": Disagreement.Tone.TENSE,
        "follow_up_on": "",
        **overrides,
    }


def edit_data(disagreement: Disagreement, **overrides) -> dict:
    """What the edit form posts back unchanged, at the version it was opened."""
    fields = ["occurred_on", "title", "topic", "client_request", "recommendation", "rationale"]
    data = {name: str(getattr(disagreement, name)) for name in fields}
    data |= {
        "engagement": disagreement.engagement_id,
        "severity": disagreement.severity,
        "tone": disagreement.tone,
        "follow_up_on": disagreement.follow_up_on or "",
        "version": disagreement.version,
        "change_reason": "",
    }
    return data | overrides


def decision_data(disagreement: Disagreement, **overrides) -> dict:
    return {
        "version": disagreement.version,
        "decision": Disagreement.Decision.PROCEEDED,
        "decided_on": (TODAY - DAY).isoformat(),
        "risk_acknowledged": "True",
        "acknowledged_on": (TODAY - DAY).isoformat(),
        "acknowledgment_method": Disagreement.AcknowledgmentMethod.EMAIL,
        "client_words": "We have read your letter and proceed at our own risk.",
        **overrides,
    }


def decide(disagreement: Disagreement, by, decision=Disagreement.Decision.ACCEPTED) -> None:
    disagreement.decision, disagreement.decided_on = decision, TODAY
    disagreement_record_decision(disagreement, by=by, expected_version=disagreement.version)


# --- Who may open what ---------------------------------------------------------------

PER_RECORD = [
    ("get", "disagreement-detail"),
    ("get", "disagreement-edit"),
    ("post", "disagreement-edit"),
    ("get", "disagreement-history"),
    ("post", "disagreement-archive"),
    ("get", "disagreement-decision"),
    ("post", "disagreement-decision"),
    ("get", "disagreement-outcome"),
    ("post", "disagreement-outcome"),
    ("get", "disagreement-amend"),
    ("post", "disagreement-amend"),
    ("post", "comment-create"),
    ("post", "evidence-upload"),
]


@pytest.mark.parametrize("method, name", PER_RECORD)
def test_an_outsider_gets_404_on_every_disagreement_page(
    client, other_advisor, dispute, method, name
):
    client.force_login(other_advisor)

    response = getattr(client, method)(url(name, dispute), {"version": 1, "body": "Hi"})

    assert response.status_code == 404
    dispute.refresh_from_db()
    assert dispute.version == 1
    assert not Comment.objects.exists()


@pytest.mark.parametrize("method, name", [*PER_RECORD, ("post", "disagreement-review")])
def test_a_manager_of_another_team_gets_404(client, outside_manager, dispute, method, name):
    client.force_login(outside_manager)

    response = getattr(client, method)(url(name, dispute), {"version": 1, "body": "Hi"})

    assert response.status_code == 404
    dispute.refresh_from_db()
    assert not dispute.is_reviewed


def test_an_advisor_reviewing_gets_403_whether_or_not_the_record_exists(
    client, other_advisor, dispute
):
    # The role check comes before the scope check, so the 403 confirms nothing.
    client.force_login(other_advisor)

    assert client.post(url("disagreement-review", dispute), {"version": 1}).status_code == 403
    assert client.post(reverse("disagreement-review", args=[9999])).status_code == 403


@pytest.mark.parametrize("name", ["disagreement-review", "disagreement-archive", "comment-create"])
def test_post_only_actions_refuse_get(client, manager, dispute, name):
    client.force_login(manager)

    assert client.get(url(name, dispute)).status_code == 405


def test_a_user_without_a_role_may_not_log_a_disagreement(client, acme_engagement):
    nobody = UserFactory(username="newhire", role="")
    client.force_login(nobody)

    assert client.get(reverse("disagreement-create")).status_code == 403
    response = client.post(reverse("disagreement-create"), log_data(acme_engagement))

    assert response.status_code == 403
    assert not Disagreement.objects.exists()


def test_anonymous_visitors_are_sent_to_log_in(client, dispute):
    response = client.get(url("disagreement-detail", dispute))

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- The list ---------------------------------------------------------------------------


def test_the_list_shows_the_disagreements_in_the_users_scope(client, advisor, dispute, stranger):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-list"))

    assert response.status_code == 200
    assert titles(response) == ["Stock count skipped"]
    page = text(response)
    assert "Acme Holdings" in page
    assert "Awaiting decision" in page
    assert "Overtime unpaid" not in page


@pytest.fixture
def log(acme_engagement, advisor) -> None:
    """Disagreements to filter: one per state, severity and date."""

    def make(title: str, **fields) -> Disagreement:
        return DisagreementFactory(engagement=acme_engagement, title=title, **fields)

    make("pending low", severity="low", occurred_on=TODAY - 30 * DAY)
    make(
        "proceeded critical",
        severity="critical",
        occurred_on=TODAY - 20 * DAY,
        decision="proceeded",
        decided_on=TODAY - 19 * DAY,
        client_request="Use the old forklift in the warehouse.",
    )
    make(
        "accepted high",
        severity="high",
        occurred_on=TODAY - 9 * DAY,
        decision="accepted",
        decided_on=TODAY - 8 * DAY,
    )
    make(
        "closed moderate",
        severity="moderate",
        occurred_on=TODAY - 5 * DAY,
        decision="withdrew",
        decided_on=TODAY - 5 * DAY,
    )
    make("archived critical", severity="critical", occurred_on=TODAY - DAY, is_archived=True)


@pytest.mark.parametrize(
    "query, expected",
    [
        ({}, ["closed moderate", "accepted high", "proceeded critical", "pending low"]),
        ({"severity": "critical"}, ["proceeded critical"]),
        ({"decision": "proceeded"}, ["proceeded critical"]),
        ({"state": "open"}, ["accepted high", "proceeded critical", "pending low"]),
        ({"state": "closed"}, ["closed moderate"]),
        ({"state": "awaiting_acknowledgment"}, ["proceeded critical"]),
        ({"state": "awaiting_decision"}, ["pending low"]),
        ({"state": "awaiting_outcome"}, ["accepted high", "proceeded critical"]),
        (
            {"occurred_after": "2026-02-24", "occurred_before": "2026-03-07"},
            ["accepted high", "proceeded critical"],
        ),
        ({"occurred_after": "2026-03-07"}, ["closed moderate", "accepted high"]),
        ({"q": "FORKLIFT"}, ["proceeded critical"]),
        ({"q": "acme"}, ["closed moderate", "accepted high", "proceeded critical", "pending low"]),
        ({"q": "nothing like this"}, []),
        ({"archived": "only"}, ["archived critical"]),
    ],
)
def test_the_list_filters(client, advisor, log, query, expected):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-list"), query)

    assert response.status_code == 200
    assert titles(response) == expected


def test_bad_filter_input_shows_no_rows_rather_than_all(client, advisor, log):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-list"), {"severity": "apocalyptic"})

    assert response.status_code == 200
    assert titles(response) == []
    assert "Select a valid choice" in text(response)


def test_the_list_sorts_by_severity_rank_not_alphabetically(client, advisor, log):
    client.force_login(advisor)

    descending = client.get(reverse("disagreement-list"), {"o": "-severity"})
    ascending = client.get(reverse("disagreement-list"), {"o": "severity"})

    assert titles(descending) == [
        "proceeded critical",
        "accepted high",
        "closed moderate",
        "pending low",
    ]
    assert titles(ascending) == [
        "pending low",
        "closed moderate",
        "accepted high",
        "proceeded critical",
    ]


def test_the_list_sorts_by_tone_rank(client, advisor, acme_engagement):
    for tone in ["tense", "hostile", "collaborative"]:
        DisagreementFactory(engagement=acme_engagement, title=tone, tone=tone)
    client.force_login(advisor)

    response = client.get(reverse("disagreement-list"), {"o": "-tone"})

    assert titles(response) == ["hostile", "tense", "collaborative"]


def _many(engagement, count: int, **fields) -> list[Disagreement]:
    return [
        DisagreementFactory(
            engagement=engagement,
            title=f"Row {n:03d}",
            occurred_on=TODAY - datetime.timedelta(days=n),
            **fields,
        )
        for n in range(count)
    ]


def test_the_list_is_paginated(client, advisor, acme_engagement):
    _many(acme_engagement, PAGE_SIZE + 5)
    client.force_login(advisor)

    first = client.get(reverse("disagreement-list"))
    second = client.get(reverse("disagreement-list"), {"page": 2})

    assert titles(first) == [f"Row {n:03d}" for n in range(PAGE_SIZE)]
    assert titles(second) == [f"Row {n:03d}" for n in range(PAGE_SIZE, PAGE_SIZE + 5)]
    assert "Page 1 of 2" in text(first)
    assert f"Showing 1\u2013{PAGE_SIZE} of {PAGE_SIZE + 5} disagreements" in text(first)


def test_sorting_by_severity_pages_through_every_row_once_newest_first(
    client, advisor, acme_engagement
):
    # Many rows share a severity: without a tiebreaker the pages' order is up to
    # the database, and a row can show on two pages while another shows on none.
    # Logged oldest first, so the database's own order is not the newest-first one.
    rows = [
        DisagreementFactory(
            engagement=acme_engagement,
            title=f"Row {n:03d}",
            severity="high",
            occurred_on=TODAY - datetime.timedelta(days=PAGE_SIZE + 5 - n),
        )
        for n in range(PAGE_SIZE + 5)
    ]
    client.force_login(advisor)

    seen = []
    for number in (1, 2):
        response = client.get(reverse("disagreement-list"), {"o": "-severity", "page": number})
        seen += titles(response)

    assert seen == [row.title for row in reversed(rows)]


def _log_for(advisor, colleague, team, count: int) -> None:
    """`count` disagreements spread over several of `advisor`'s clients,
    engagements and loggers, so a missing select_related shows."""
    engagements = [
        EngagementFactory(client=ClientFactory(lead_advisor=advisor, team=team)) for _ in range(3)
    ]
    for engagement in engagements:
        engagement.members.add(colleague)
    for n in range(count):
        DisagreementFactory(
            engagement=engagements[n % 3],
            logged_by=[advisor, colleague][n % 2],
            follow_up_on=TODAY - DAY if n % 4 == 0 else None,
        )


def _queries(client, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params or {})
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("params", [{}, {"o": "-severity"}, {"state": "open"}, {"page": 2}])
def test_the_list_query_count_does_not_grow_with_the_rows(client, advisor, colleague, team, params):
    client.force_login(advisor)
    _log_for(advisor, colleague, team, 3)
    few = _queries(client, reverse("disagreement-list"), params)

    _log_for(advisor, colleague, team, 3 * PAGE_SIZE)
    many = _queries(client, reverse("disagreement-list"), params)

    assert many == few


# --- The detail page -----------------------------------------------------------------


def test_the_detail_page_tells_the_story(client, advisor, dispute):
    client.force_login(advisor)

    response = client.get(url("disagreement-detail", dispute))

    assert response.status_code == 200
    page = html.unescape(text(response))
    assert "Stock count skipped" in page
    assert "Skip the stock count this year." in page
    assert "Keep the stock count; the auditors will ask for it." in page
    assert "Awaiting decision" in page
    assert "Alice Tester" in page
    assert "Annual audit 2026" in page


def test_user_text_comes_back_escaped(client, advisor, manager, dispute):
    dispute.client_request = SCRIPT
    dispute.title = f"Title {SCRIPT}"
    record_save(dispute, by=advisor, expected_version=1)
    comment_add(dispute, by=manager, body=f"Comment {SCRIPT}")
    client.force_login(advisor)

    detail = text(client.get(url("disagreement-detail", dispute)))
    listing = text(client.get(reverse("disagreement-list")))
    history = text(client.get(url("disagreement-history", dispute)))

    for page in (detail, listing, history):
        assert SCRIPT not in page
        assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page


def _fill(dispute: Disagreement, users: list, count: int) -> None:
    for n in range(count):
        user = users[n % len(users)]
        Comment.objects.create(disagreement=dispute, author=user, body=f"Comment {n}")
        EvidenceFile.objects.create(
            disagreement=dispute,
            file=f"evidence/{dispute.pk}/file{n}",
            original_name=f"letter-{n}.pdf",
            content_type="application/pdf",
            size=1000 + n,
            sha256=f"{n:064x}",
            uploaded_by=user,
        )
        Amendment.objects.create(
            disagreement=dispute,
            field=Disagreement.LOCKED_FACTS[n % len(Disagreement.LOCKED_FACTS)],
            old_value=f"Old {n}",
            new_value=f"New {n}",
            reason=f"Reason {n}",
            amended_by=user,
        )


def test_the_detail_query_count_does_not_grow_with_comments_evidence_or_amendments(
    client, advisor, colleague, manager, admin, dispute
):
    reviewed(dispute, manager)
    client.force_login(manager)
    _fill(dispute, [manager], 1)
    few = _queries(client, url("disagreement-detail", dispute))

    _fill(dispute, [advisor, colleague, manager, admin], 12)
    many = _queries(client, url("disagreement-detail", dispute))

    assert many == few


# --- Logging a disagreement ----------------------------------------------------------


def test_the_log_form_has_the_contracted_labels(client, advisor, acme_engagement):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-create"))

    assert response.status_code == 200
    found = labels(text(response))
    assert found["client_request"].startswith("Client's request")
    assert found["recommendation"].startswith("Our recommendation")
    assert found["severity"].startswith("Severity")
    assert found["tone"].startswith("Tone")


def test_logging_a_disagreement(client, advisor, acme, acme_engagement):
    client.force_login(advisor)

    response = client.post(reverse("disagreement-create"), log_data(acme_engagement))

    disagreement = Disagreement.objects.get()
    assert response.status_code == 302
    assert response.url == disagreement.get_absolute_url()
    assert disagreement.title == "Bonus accrual left out"
    assert disagreement.client == acme
    assert disagreement.engagement == acme_engagement
    assert disagreement.logged_by == advisor
    assert disagreement.occurred_on == TODAY - 2 * DAY
    assert disagreement.severity == Disagreement.Severity.HIGH
    assert disagreement.decision == Disagreement.Decision.PENDING
    assert disagreement.version == 1
    entry = disagreement.history.get()
    assert entry.history_user == advisor
    assert entry.history_change_reason == "Logged"


def test_logging_costs_a_fixed_number_of_queries(
    client, advisor, acme_engagement, django_assert_num_queries
):
    client.force_login(advisor)
    client.get(reverse("disagreement-create"))  # opened first, as people do
    # Session, the user with role and permissions, the chosen engagement with
    # its client (3; the session comes from Redis in production); then
    # one transaction (2): the client locked, its status and stored health
    # read with the lock; the disagreement, its history entry, the chain's
    # last hash (on PostgreSQL with the chain's lock, one call) and the new link;
    # the board's counts and the snapshots stored; the facts for the score;
    # the client's new health (its first disagreement moves it), the board's
    # counts, the day's snapshot and the month's counts. No lookup of a
    # record already loaded.
    expected = 3 + 2 + 11

    with django_assert_num_queries(expected) as captured:
        response = client.post(reverse("disagreement-create"), log_data(acme_engagement))

    assert response.status_code == 302
    statements = [query["sql"] for query in captured.captured_queries]

    def position(start: str) -> int:
        [found] = [n for n, sql in enumerate(statements) if sql.startswith(start)]
        return found

    lock = position('SELECT "advisory_client"."status"')
    # Locked before anything is written (and before the hash chain's lock).
    assert lock < position('INSERT INTO "advisory_disagreement"')
    if connection.vendor == "postgresql":
        assert statements[lock].endswith("FOR NO KEY UPDATE")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("occurred_on", (TODAY + DAY).isoformat(), "The date cannot be in the future."),
        ("client_request", "", "This field is required."),
        ("client_request", "   ", "This field is required."),
        ("recommendation", "", "This field is required."),
        ("severity", "apocalyptic", "Select a valid choice."),
    ],
)
def test_bad_input_shows_the_error_next_to_the_field_and_saves_nothing(
    client, advisor, acme_engagement, field, value, message
):
    client.force_login(advisor)

    response = client.post(
        reverse("disagreement-create"), log_data(acme_engagement, **{field: value})
    )

    assert response.status_code == 400
    assert error_under(text(response), field).startswith(message)
    assert not Disagreement.objects.exists()
    # What the user typed is kept.
    assert 'value="Bonus accrual left out"' in element(text(response), "title")


def test_the_engagement_choices_come_from_the_users_scope(
    client, advisor, acme_engagement, stranger
):
    client.force_login(advisor)

    response = client.get(reverse("disagreement-create"))

    assert picked(text(response)) == [(str(acme_engagement.pk), False)]
    assert stranger.engagement.client.name not in text(response)


def test_an_engagement_outside_the_scope_cannot_be_posted(
    client, advisor, acme_engagement, stranger
):
    client.force_login(advisor)

    response = client.post(
        reverse("disagreement-create"), log_data(stranger.engagement, title="Sneaky")
    )

    assert response.status_code == 400
    assert "Select a valid choice" in error_under(text(response), "engagement")
    assert not Disagreement.objects.filter(title="Sneaky").exists()


def test_a_let_go_clients_engagements_are_not_offered(client, advisor, acme, acme_engagement):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    client.force_login(advisor)

    response = client.post(reverse("disagreement-create"), log_data(acme_engagement))

    assert response.status_code == 400
    assert picked(text(response)) == []
    assert not Disagreement.objects.exists()


def test_a_client_with_one_engagement_preselects_it(client, advisor, acme, acme_engagement):
    EngagementFactory(client=ClientFactory(lead_advisor=advisor), title="Other client's work")
    client.force_login(advisor)

    response = client.get(reverse("disagreement-create"), {"client": acme.pk})

    assert response.status_code == 200
    assert options(text(response), "engagement") == [(str(acme_engagement.pk), True)]
    assert "For <a" in text(response)


def test_a_client_with_several_engagements_offers_only_those(
    client, advisor, acme, acme_engagement
):
    tax = EngagementFactory(client=acme, title="Tax 2026")
    EngagementFactory(client=ClientFactory(lead_advisor=advisor), title="Other client's work")
    client.force_login(advisor)

    response = client.get(reverse("disagreement-create"), {"client": acme.pk})

    assert sorted(options(text(response), "engagement")) == sorted(
        [(str(acme_engagement.pk), False), (str(tax.pk), False)]
    )


def test_an_engagement_in_the_url_preselects_it(client, advisor, acme, acme_engagement):
    tax = EngagementFactory(client=acme, title="Tax 2026")
    client.force_login(advisor)

    response = client.get(reverse("disagreement-create"), {"engagement": tax.pk})

    assert sorted(options(text(response), "engagement")) == sorted(
        [(str(acme_engagement.pk), False), (str(tax.pk), True)]
    )


@pytest.mark.parametrize("param", ["client", "engagement"])
def test_a_preselection_outside_the_scope_is_404(client, advisor, stranger, param):
    client.force_login(advisor)
    value = stranger.client_id if param == "client" else stranger.engagement_id

    response = client.get(reverse("disagreement-create"), {param: value})

    assert response.status_code == 404


# --- Editing -----------------------------------------------------------------------------


def test_editing_a_disagreement_keeps_the_reason_in_history(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-edit", dispute),
        edit_data(dispute, title="Stock count postponed", change_reason="Client called back"),
    )

    assert response.status_code == 302
    assert response.url == dispute.get_absolute_url()
    dispute.refresh_from_db()
    assert dispute.title == "Stock count postponed"
    assert dispute.version == 2
    entry = dispute.history.first()
    assert entry.history_user == advisor
    assert entry.history_change_reason == "Client called back"


def test_the_edit_form_refuses_a_future_date_and_saves_nothing(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-edit", dispute), edit_data(dispute, occurred_on=TODAY + DAY)
    )

    assert response.status_code == 400
    assert error_under(text(response), "occurred_on") == "The date cannot be in the future."
    dispute.refresh_from_db()
    assert dispute.occurred_on == OCCURRED
    assert dispute.version == 1


def test_moving_the_date_after_the_decision_is_refused_and_saves_nothing(client, advisor, dispute):
    dispute.decision, dispute.decided_on = Disagreement.Decision.ACCEPTED, OCCURRED
    record_save(dispute, by=advisor, expected_version=1)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-edit", dispute), edit_data(dispute, occurred_on=OCCURRED + DAY)
    )

    # The rule is about a field the form does not show: its message is shown
    # on the form rather than failing the request.
    assert response.status_code == 400
    assert "This cannot be before the disagreement occurred." in html.unescape(text(response))
    dispute.refresh_from_db()
    assert dispute.occurred_on == OCCURRED
    assert dispute.version == 2


def test_a_stale_edit_shows_the_conflict_and_overwrites_nothing(client, advisor, manager, dispute):
    client.force_login(advisor)
    mine = edit_data(dispute, client_request="Skip the count; we will estimate the stock.")
    theirs = Disagreement.objects.get(pk=dispute.pk)
    theirs.title = "Stock count postponed"
    record_save(theirs, by=manager, expected_version=1)

    response = client.post(url("disagreement-edit", dispute), mine)

    assert response.status_code == 409
    page = html.unescape(text(response))
    assert "Someone else saved this record while you were editing" in page
    conflict = page[page.index("Someone else saved") : page.index("</table>")]
    assert "Stock count postponed" in conflict  # their value
    assert "Skip the count; we will estimate the stock." in conflict  # beside mine
    # My text is still in the form, now at their version.
    assert "Skip the count; we will estimate the stock.</textarea>" in page
    assert 'value="2"' in element(text(response), "version")
    dispute.refresh_from_db()
    assert dispute.title == "Stock count postponed"
    assert dispute.client_request == "Skip the stock count this year."
    assert dispute.version == 2


def test_resubmitting_after_a_conflict_saves_deliberately(client, advisor, manager, dispute):
    client.force_login(advisor)
    theirs = Disagreement.objects.get(pk=dispute.pk)
    theirs.title = "Stock count postponed"
    record_save(theirs, by=manager, expected_version=1)

    response = client.post(
        url("disagreement-edit", dispute),
        edit_data(dispute, client_request="Estimate the stock.", version=2),
    )

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.client_request == "Estimate the stock."
    assert dispute.version == 3


def test_after_review_the_edit_form_shows_the_facts_locked(client, advisor, manager, dispute):
    reviewed(dispute, manager)
    client.force_login(advisor)

    page = text(client.get(url("disagreement-edit", dispute)))

    for name in Disagreement.LOCKED_FACTS:
        assert "disabled" in element(page, name), name
    assert "disabled" not in element(page, "title")
    assert "disabled" not in element(page, "follow_up_on")
    assert "record an amendment" in page


def test_after_review_posting_a_changed_fact_does_not_change_it(client, advisor, manager, dispute):
    reviewed(dispute, manager)
    client.force_login(advisor)

    client.post(
        url("disagreement-edit", dispute),
        edit_data(
            dispute,
            client_request="Something the client never said.",
            severity="low",
            title="Stock count skipped (FY2026)",
        ),
    )

    dispute.refresh_from_db()
    assert dispute.client_request == "Skip the stock count this year."
    assert dispute.severity == Disagreement.Severity.MODERATE
    assert dispute.title == "Stock count skipped (FY2026)"


# --- Decision and outcome ---------------------------------------------------------------


def test_the_decision_form_has_the_contracted_label(client, advisor, dispute):
    client.force_login(advisor)

    response = client.get(url("disagreement-decision", dispute))

    assert response.status_code == 200
    assert labels(text(response))["decision"].startswith("Client's decision")


@pytest.mark.parametrize("name", ["disagreement-decision", "disagreement-detail"])
@pytest.mark.parametrize("decision", ["pending", "proceeded"])
def test_the_acknowledgment_is_never_pre_filled(client, advisor, acme_engagement, name, decision):
    fresh = DisagreementFactory(
        engagement=acme_engagement,
        decision=decision,
        decided_on=None if decision == "pending" else TODAY,
    )
    client.force_login(advisor)

    page = text(client.get(url(name, fresh)))

    words = re.search(r'<textarea[^>]*name="client_words"[^>]*>(.*?)</textarea>', page, re.S)
    assert words[1].strip() == ""
    for value in ("True", "False"):
        radio = re.search(rf'<input[^>]*name="risk_acknowledged" value="{value}"[^>]*>', page)
        assert "checked" not in radio[0]
    assert "value=" not in element(page, "acknowledged_on")
    assert not any(selected for _, selected in options(page, "acknowledgment_method"))


def test_recording_a_decision_with_the_acknowledgment(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(url("disagreement-decision", dispute), decision_data(dispute))

    assert response.status_code == 302
    assert response.url == dispute.get_absolute_url()
    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PROCEEDED
    assert dispute.risk_acknowledged is True
    assert dispute.client_words == "We have read your letter and proceed at our own risk."
    assert dispute.version == 2
    entry = dispute.history.first()
    assert entry.history_user == advisor
    assert entry.history_change_reason == "Decision: Proceeded against advice"
    page = html.unescape(text(client.get(dispute.get_absolute_url())))
    assert "We have read your letter and proceed at our own risk." in page


def test_an_acknowledgment_without_the_clients_words_is_refused(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-decision", dispute), decision_data(dispute, client_words="  ")
    )

    assert response.status_code == 400
    assert (
        error_under(text(response), "client_words")
        == "Quote the client's acknowledgment in their own words."
    )
    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PENDING
    assert dispute.version == 1


def test_an_acknowledgment_is_refused_when_the_client_accepted(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-decision", dispute), decision_data(dispute, decision="accepted")
    )

    assert response.status_code == 400
    assert "only applies when the client proceeded" in error_under(
        text(response), "risk_acknowledged"
    )
    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PENDING


def test_a_stale_decision_shows_the_conflict(client, advisor, manager, dispute):
    client.force_login(advisor)
    data = decision_data(dispute)
    dispute.title = "Changed meanwhile"
    record_save(dispute, by=manager, expected_version=1)

    response = client.post(url("disagreement-decision", dispute), data)

    assert response.status_code == 409
    assert "Someone else saved this record while you were editing" in text(response)
    assert "We have read your letter" in text(response)  # the user's words are kept
    dispute.refresh_from_db()
    assert dispute.decision == Disagreement.Decision.PENDING
    assert dispute.client_words == ""


def test_a_stale_outcome_shows_the_conflict(client, advisor, manager, dispute):
    decide(dispute, advisor)
    client.force_login(advisor)
    data = {
        "version": 2,
        "verdict": "client_vindicated",
        "outcome": "The count was not needed.",
        "outcome_recorded_on": TODAY.isoformat(),
    }
    dispute.title = "Changed meanwhile"
    record_save(dispute, by=manager, expected_version=2)

    response = client.post(url("disagreement-outcome", dispute), data)

    assert response.status_code == 409
    assert "The count was not needed." in text(response)
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.PENDING


def test_recording_the_outcome(client, advisor, dispute):
    decide(dispute, advisor)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-outcome", dispute),
        {
            "version": 2,
            "verdict": Disagreement.Verdict.ADVICE_VINDICATED,
            "outcome": "The auditors asked for the count.",
            "outcome_recorded_on": TODAY.isoformat(),
        },
    )

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.ADVICE_VINDICATED
    assert dispute.outcome == "The auditors asked for the count."
    assert dispute.outcome_recorded_on == TODAY
    assert dispute.history.first().history_change_reason == "Outcome: Advice vindicated"


def test_a_verdict_without_the_outcome_is_refused(client, advisor, dispute):
    decide(dispute, advisor)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-outcome", dispute),
        {"version": 2, "verdict": "mixed", "outcome": "", "outcome_recorded_on": ""},
    )

    assert response.status_code == 400
    assert error_under(text(response), "outcome") == "Describe how it turned out."
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.PENDING


def test_an_outcome_before_the_decision_is_refused(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-outcome", dispute),
        {"version": 1, "verdict": "mixed", "outcome": "Partly.", "outcome_recorded_on": ""},
    )

    assert response.status_code == 400
    assert "Record the client's decision before the outcome." in error_under(
        text(response), "verdict"
    )
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.PENDING


# --- Review and amendments --------------------------------------------------------------


def test_a_manager_marks_a_disagreement_reviewed(client, manager, dispute):
    client.force_login(manager)

    response = client.post(url("disagreement-review", dispute), {"version": 1})

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.is_reviewed
    assert dispute.reviewed_by == manager
    page = text(client.get(dispute.get_absolute_url()))
    assert "Reviewed by Charlie Tester" in page
    assert "Mark reviewed" not in page


def test_an_advisor_may_not_mark_a_disagreement_reviewed(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(url("disagreement-review", dispute), {"version": 1})

    assert response.status_code == 403
    dispute.refresh_from_db()
    assert not dispute.is_reviewed
    assert "Mark reviewed" not in text(client.get(dispute.get_absolute_url()))


def test_an_archived_disagreement_offers_no_review_and_refuses_one(client, manager, dispute):
    Disagreement.objects.filter(pk=dispute.pk).update(is_archived=True)
    client.force_login(manager)

    assert "Mark reviewed" not in text(client.get(dispute.get_absolute_url()))
    response = client.post(url("disagreement-review", dispute), {"version": 1}, follow=True)

    assert "archived" in text(response)
    dispute.refresh_from_db()
    assert not dispute.is_reviewed
    assert dispute.history.count() == 1


def test_a_stale_review_is_refused_with_a_message(client, manager, dispute):
    client.force_login(manager)

    response = client.post(url("disagreement-review", dispute), {"version": 0}, follow=True)

    assert "Someone changed this disagreement meanwhile" in text(response)
    dispute.refresh_from_db()
    assert not dispute.is_reviewed


def test_amending_a_reviewed_fact_shows_the_original_beside_it(client, advisor, manager, dispute):
    reviewed(dispute, manager)
    client.force_login(advisor)

    assert client.get(url("disagreement-amend", dispute)).status_code == 200
    response = client.post(
        url("disagreement-amend", dispute),
        {
            "version": 2,
            "field": "client_request",
            "new_value": "Skip the stock count this year and next.",
            "reason": "Misheard on the call; see the client's e-mail.",
        },
    )

    assert response.status_code == 302
    assert response.url == dispute.get_absolute_url()
    dispute.refresh_from_db()
    assert dispute.client_request == "Skip the stock count this year and next."
    amendment = Amendment.objects.get()
    assert amendment.old_value == "Skip the stock count this year."
    assert amendment.amended_by == advisor
    page = html.unescape(text(client.get(dispute.get_absolute_url())))
    request_section = page[page.index("1. The client asked") : page.index("2. We recommended")]
    assert "Skip the stock count this year and next." in request_section
    assert "Originally recorded:" in request_section
    assert "Skip the stock count this year.</blockquote>" in request_section
    assert "Misheard on the call; see the client's e-mail." in request_section


def test_amending_the_severity(client, advisor, manager, dispute):
    reviewed(dispute, manager)
    client.force_login(advisor)

    client.post(
        url("disagreement-amend", dispute),
        {"version": 2, "field": "severity", "new_value": "critical", "reason": "Understated"},
    )

    dispute.refresh_from_db()
    assert dispute.severity == Disagreement.Severity.CRITICAL
    assert Amendment.objects.get().old_value == "Moderate"


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"reason": ""}, "reason", "This field is required."),
        ({"new_value": "Skip the stock count this year."}, "new_value", "The corrected value"),
        ({"field": "title"}, "field", "Select a valid choice."),
        ({"field": "severity", "new_value": "apocalyptic"}, "new_value", "Value"),
        ({"field": "occurred_on", "new_value": "2099-01-01"}, "new_value", "The date cannot"),
    ],
)
def test_a_bad_amendment_shows_the_error_and_saves_nothing(
    client, advisor, manager, dispute, data, field, message
):
    reviewed(dispute, manager)
    client.force_login(advisor)
    post = {"version": 2, "field": "client_request", "new_value": "New words.", "reason": "Why"}

    response = client.post(url("disagreement-amend", dispute), post | data)

    assert response.status_code == 400
    assert error_under(text(response), field).startswith(message)
    assert not Amendment.objects.exists()
    dispute.refresh_from_db()
    assert dispute.version == 2


def test_an_amended_date_after_the_decision_is_refused_next_to_the_value(
    client, advisor, manager, dispute
):
    dispute.decision, dispute.decided_on = Disagreement.Decision.ACCEPTED, OCCURRED
    record_save(dispute, by=advisor, expected_version=1)
    reviewed(dispute, manager)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-amend", dispute),
        {
            "version": 3,
            "field": "occurred_on",
            "new_value": (OCCURRED + DAY).isoformat(),
            "reason": "Wrong day",
        },
    )

    assert response.status_code == 400
    assert error_under(text(response), "new_value") == (
        "This cannot be before the disagreement occurred."
    )
    dispute.refresh_from_db()
    assert dispute.occurred_on == OCCURRED
    assert not Amendment.objects.exists()


def test_a_stale_amendment_is_a_conflict(client, advisor, manager, dispute):
    reviewed(dispute, manager)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-amend", dispute),
        {"version": 1, "field": "tone", "new_value": "hostile", "reason": "Worse"},
    )

    assert response.status_code == 409
    assert "Someone changed this disagreement" in text(response)
    assert not Amendment.objects.exists()


def test_an_unreviewed_disagreement_is_edited_not_amended(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-amend", dispute),
        {"version": 1, "field": "tone", "new_value": "hostile", "reason": "Worse"},
    )

    assert response.status_code == 302
    assert response.url == url("disagreement-edit", dispute)
    assert not Amendment.objects.exists()


# --- Comments -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "admin", "advisor"])
def test_managers_admins_and_the_logging_advisor_comment(client, request, dispute, role):
    user = request.getfixturevalue(role)
    client.force_login(user)

    response = client.post(url("comment-create", dispute), {"body": "Chase the client."})

    assert response.status_code == 302
    assert response.url == f"{dispute.get_absolute_url()}#comments"
    comment = Comment.objects.get()
    assert (comment.author, comment.body, comment.disagreement) == (
        user,
        "Chase the client.",
        dispute,
    )
    assert "Chase the client." in text(client.get(dispute.get_absolute_url()))


def test_an_advisor_who_did_not_log_it_may_not_comment(client, colleague, dispute):
    client.force_login(colleague)

    response = client.post(url("comment-create", dispute), {"body": "Me too."})

    assert response.status_code == 403
    assert not Comment.objects.exists()
    assert "Add comment" not in text(client.get(dispute.get_absolute_url()))


def test_an_empty_comment_shows_the_error_and_saves_nothing(client, manager, dispute):
    client.force_login(manager)

    response = client.post(url("comment-create", dispute), {"body": ""})

    assert response.status_code == 400
    assert error_under(text(response), "body") == "This field is required."
    assert not Comment.objects.exists()


# --- Archive and history ------------------------------------------------------------------


def test_archiving_and_restoring(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(url("disagreement-archive", dispute), {"version": 1, "archive": "on"})

    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.is_archived
    assert dispute.history.first().history_change_reason == "Archived"
    assert titles(client.get(reverse("disagreement-list"))) == []

    client.post(
        url("disagreement-archive", dispute), {"version": 2, "reason": "Archived by mistake"}
    )

    dispute.refresh_from_db()
    assert not dispute.is_archived
    assert dispute.history.first().history_change_reason == "Archived by mistake"
    assert Disagreement.objects.filter(pk=dispute.pk).exists()


def test_a_stale_archive_changes_nothing(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-archive", dispute), {"version": 0, "archive": "on"}, follow=True
    )

    assert "Someone changed this disagreement" in text(response)
    dispute.refresh_from_db()
    assert not dispute.is_archived


def test_the_history_shows_who_changed_what_and_why(client, advisor, manager, dispute):
    client.force_login(advisor)
    client.post(url("disagreement-decision", dispute), decision_data(dispute))
    dispute.refresh_from_db()
    reviewed(dispute, manager)

    response = client.get(url("disagreement-history", dispute))

    assert response.status_code == 200
    page = html.unescape(text(response))
    assert "Reason: Decision: Proceeded against advice" in re.sub(r"<[^>]+>", "", page)
    assert "Reviewed: facts locked" in page
    assert "by Alice Tester" in page
    assert "by Charlie Tester" in page
    assert "Proceeded against advice" in page


def test_a_long_list_counts_only_as_far_as_it_needs(client, advisor, acme_engagement, monkeypatch):
    monkeypatch.setattr(common, "COUNT_UP_TO", PAGE_SIZE * 2)
    for n in range(PAGE_SIZE * 2 + 3):
        DisagreementFactory(engagement=acme_engagement, title=f"Row {n:03d}")
    client.force_login(advisor)

    first = client.get(reverse("disagreement-list")).content.decode()
    assert f"{PAGE_SIZE} of more than {PAGE_SIZE * 2} disagreements" in first
    assert ">Last<" not in first  # the last page is not known
    assert "Page 1 of" not in first

    # Asking for a later page counts one row past it, so Next keeps working,
    # and the count is exact once the end is within reach.
    response = client.get(reverse("disagreement-list"), {"page": 3})
    third = response.content.decode()
    assert f"of {PAGE_SIZE * 2 + 3} disagreements" in third
    assert "Page 3 of 3" in third
    assert len(titles(response)) == 3


def test_the_engagement_filter_offers_the_chosen_clients_engagements_only(
    client, advisor, acme, acme_engagement
):
    other = EngagementFactory(client=ClientFactory(lead_advisor=advisor), title="Elsewhere")
    client.force_login(advisor)

    def offered(query: dict) -> set[str]:
        page = client.get(reverse("disagreement-list"), query).content.decode()
        select = re.search(r'<select[^>]*name="engagement".*?</select>', page, re.S).group(0)
        return set(re.findall(r'<option value="(\d+)"', select))

    assert offered({}) == set()  # "Choose a client first."
    assert offered({"client": acme.pk}) == {str(acme_engagement.pk)}
    assert offered({"engagement": other.pk}) == {str(other.pk)}  # a link to one engagement


@pytest.mark.parametrize("value", [2, "2", None])
def test_a_long_select_renders_as_djangos_select(value):
    choices = [("", "Any"), (1, "Acme <Holdings>"), (2, "Globex")]
    attrs = {"id": "id_client", "aria-describedby": "id_client_helptext"}
    ours = LongSelect(attrs={"class": "form-select"}, choices=choices).render(
        "client", value, attrs
    )
    djangos = forms.Select(attrs={"class": "form-select"}, choices=choices).render(
        "client", value, attrs
    )

    def parsed(html_: str):
        return (
            sorted(re.findall(r'(\w+)="([^"]*)"', re.search(r"<select[^>]*>", html_).group(0))),
            re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', html_),
        )

    assert parsed(ours) == parsed(djangos)
    assert "Acme &lt;Holdings&gt;" in ours


def test_a_filter_with_a_bad_value_says_so_next_to_it(client, advisor):
    client.force_login(advisor)
    page = client.get(reverse("disagreement-list"), {"occurred_after": "2026-13-01"})

    assert page.status_code == 200
    html_ = page.content.decode()
    field = re.search(r"<fieldset.*?</fieldset>", html_, re.S).group(0)
    assert "Occurred between" in field
    assert 'aria-invalid="true"' in field
    assert "Enter a valid date." in field


@pytest.fixture
def globex(advisor):
    """A second client of the advisor's, with two engagements."""
    globex = ClientFactory(name="Globex Shipping", lead_advisor=advisor)
    return [
        EngagementFactory(client=globex, title="Statutory audit"),
        EngagementFactory(client=globex, title="Tax return"),
    ]


def pick(client, query: str = "", **params) -> str:
    return text(client.get(reverse("engagement-pick"), {"q": query, **params}))


def test_the_picker_finds_engagements_by_the_clients_or_their_own_name(
    client, advisor, acme_engagement, globex, stranger
):
    audit, tax = globex
    client.force_login(advisor)

    assert picked(pick(client, "globex")) == [(str(audit.pk), False), (str(tax.pk), False)]
    assert picked(pick(client, "TAX")) == [(str(tax.pk), False)]
    assert picked(pick(client, "  globex   return ")) == [(str(tax.pk), False)]  # every word
    assert picked(pick(client, "audit")) == [
        (str(acme_engagement.pk), False),
        (str(audit.pk), False),
    ]
    nothing = pick(client, "initech")  # the other team's client: out of scope
    assert picked(nothing) == []
    assert "No open engagement in your clients matches “initech”." in nothing


def test_the_picker_keeps_the_engagement_already_chosen(client, advisor, acme_engagement, globex):
    client.force_login(advisor)

    page = pick(client, "globex", engagement=acme_engagement.pk)

    assert picked(page)[0] == (str(acme_engagement.pk), True)
    assert len(picked(page)) == 3


def test_the_picker_never_offers_a_chosen_engagement_out_of_scope(
    client, advisor, acme_engagement, stranger
):
    client.force_login(advisor)

    page = pick(client, "", engagement=stranger.engagement.pk)

    assert str(stranger.engagement.pk) not in dict(picked(page))
    assert "Initech" not in page


def test_untyped_the_picker_offers_the_users_own_engagements(
    client, advisor, admin, acme_engagement, globex, monkeypatch
):
    client.force_login(advisor)
    assert len(picked(pick(client))) == 3
    # The admin leads nothing; a scope longer than the picker shows asks for a name.
    monkeypatch.setattr(choices, "PICKER_SHOWS", 2)
    client.force_login(admin)
    page = pick(client)
    assert picked(page) == []
    assert "Type part of a client's or an engagement's name" in page
    assert "More match" in pick(client, "a")


@pytest.mark.parametrize("query", ["x" * 101, "ab " * 60])
def test_an_over_long_picker_query_is_refused_in_words(client, advisor, acme_engagement, query):
    client.force_login(advisor)

    response = client.get(reverse("engagement-pick"), {"q": query})

    assert response.status_code == 200
    assert "Type at most 100 characters of the name." in text(response)
    assert picked(text(response)) == []


def test_the_picker_answers_only_people_who_may_log(client, acme_engagement):
    anonymous = client.get(reverse("engagement-pick"), {"q": "acme"})
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("login"))
    client.force_login(UserFactory(username="nobody", role=""))
    assert client.get(reverse("engagement-pick"), {"q": "acme"}).status_code == 403


def test_the_picker_costs_the_same_queries_however_many_match(
    client, advisor, acme_engagement, globex, django_assert_max_num_queries
):
    client.force_login(advisor)
    few = list_queries(client, reverse("engagement-pick") + "?q=globex")
    for n in range(15):
        EngagementFactory(client=acme_engagement.client, title=f"Globex matter {n}")

    assert list_queries(client, reverse("engagement-pick") + "?q=globex") == few


def test_without_javascript_find_reloads_the_form_with_the_matches(
    client, advisor, acme_engagement, globex
):
    client.force_login(advisor)

    page = text(client.get(reverse("disagreement-create"), {"q": "tax"}))

    assert picked(page) == [(str(globex[1].pk), False)]
    # The search box and its button belong to a GET form of their own.
    assert re.search(
        r'<input type="search" id="engagement-q" name="q" form="engagement-search"', page
    )
    assert re.search(
        r'<form id="engagement-search" method="get" action="/disagreements/new/"', page
    )
    assert 'value="tax"' in page


def test_a_rejected_log_offers_the_chosen_engagement_again(client, advisor, globex):
    client.force_login(advisor)
    audit, tax = globex

    rejected = client.post(reverse("disagreement-create"), log_data(audit, title=""))

    assert rejected.status_code == 400
    assert (str(audit.pk), True) in picked(text(rejected))
    assert client.post(reverse("disagreement-create"), log_data(tax)).status_code == 302
    assert Disagreement.objects.get().engagement == tax


# --- One-pass capture (issue 18) -----------------------------------------------------


ACKNOWLEDGED = {
    "decision": Disagreement.Decision.PROCEEDED,
    "decided_on": (TODAY - DAY).isoformat(),
    "risk_acknowledged": "True",
    "acknowledged_on": (TODAY - DAY).isoformat(),
    "acknowledgment_method": Disagreement.AcknowledgmentMethod.EMAIL,
    "client_words": "I understand you advised against it and I want to go ahead.",
}


def test_logging_with_the_decision_and_the_acknowledgment_in_one_submit(
    client, advisor, acme_engagement
):
    client.force_login(advisor)

    response = client.post(
        reverse("disagreement-create"), log_data(acme_engagement, **ACKNOWLEDGED)
    )

    disagreement = Disagreement.objects.get()
    assert response.status_code == 302
    assert disagreement.decision == Disagreement.Decision.PROCEEDED
    assert disagreement.decided_on == TODAY - DAY
    assert disagreement.risk_acknowledged is True
    assert disagreement.client_words == ACKNOWLEDGED["client_words"]
    assert not disagreement.awaiting_decision and not disagreement.awaiting_acknowledgment
    assert disagreement.awaiting_outcome
    [entry] = disagreement.history.all()  # one save, one history entry
    assert entry.history_change_reason == "Logged"
    assert entry.decision == Disagreement.Decision.PROCEEDED


def test_the_log_form_offers_the_decision_not_decided_by_default(client, advisor, acme_engagement):
    client.force_login(advisor)

    page = text(client.get(reverse("disagreement-create")))

    assert labels(page)["decision"] == "The client's decision"
    assert options(page, "decision")[0] == (Disagreement.Decision.PENDING, True)
    assert "If the client proceeded against advice" in page
    assert "data-decision-form" in page


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        (
            {"decision": Disagreement.Decision.ACCEPTED},
            "decided_on",
            "Say when the client decided.",
        ),
        (
            {**ACKNOWLEDGED, "decision": Disagreement.Decision.ACCEPTED},
            "risk_acknowledged",
            "An acknowledgment of risk only applies when the client proceeded against advice.",
        ),
        (
            {**ACKNOWLEDGED, "client_words": ""},
            "client_words",
            "Quote the client's acknowledgment in their own words.",
        ),
        (
            {**ACKNOWLEDGED, "decided_on": (TODAY - 9 * DAY).isoformat()},
            "decided_on",
            "This cannot be before the disagreement occurred.",
        ),
        ({"decision": "maybe"}, "decision", "Select a valid choice."),
    ],
)
def test_a_decision_that_does_not_hold_is_refused_at_its_field_and_nothing_saved(
    client, advisor, acme_engagement, overrides, field, message
):
    client.force_login(advisor)

    response = client.post(reverse("disagreement-create"), log_data(acme_engagement, **overrides))

    assert response.status_code == 400
    assert message in error_under(text(response), field)
    assert not Disagreement.objects.exists()


def test_the_error_summary_lists_each_error_with_a_link_to_its_field(
    client, advisor, acme_engagement
):
    client.force_login(advisor)

    response = client.post(
        reverse("disagreement-create"),
        {**log_data(acme_engagement, title="", decision="accepted"), "engagement": ""},
    )

    page = text(response)
    summary = re.search(r"<div[^>]*data-error-summary.*?</div>", page, re.S)[0]
    assert "There is a problem" in summary
    links = re.findall(r'<a href="#([\w-]+)" class="alert-link">(.*?)</a>', summary)
    assert links == [
        ("id_engagement", "Engagement: This field is required."),
        ("id_title", "Short title: This field is required."),
        ("id_decided_on", "Decided on: Say when the client decided."),
    ]
    for target, _ in links:
        assert f'id="{target}"' in page
    assert "data-error-summary" not in text(client.get(reverse("disagreement-create")))


def test_a_filter_with_too_many_choices_offers_only_the_chosen_one(
    client, advisor, acme, monkeypatch
):
    monkeypatch.setattr(LongSelect, "LIMIT", 2)
    others = [ClientFactory(name=f"Zeta {n}", lead_advisor=advisor) for n in range(3)]
    client.force_login(advisor)

    def client_select(query: dict) -> str:
        page = client.get(reverse("disagreement-list"), query).content.decode()
        return re.search(r'<select[^>]*name="client".*?</select>', page, re.S).group(0)

    capped = client_select({})
    assert "More than 2 to list: search by name" in capped
    assert options(capped, "client") == []
    chosen = client_select({"client": others[-1].pk})  # beyond the rows read
    assert options(chosen, "client") == [(str(others[-1].pk), True)]
    assert "Zeta 2" in chosen
    monkeypatch.setattr(LongSelect, "LIMIT", 10)
    assert len(options(client_select({}), "client")) == 4


def test_a_long_select_of_records_reads_them_in_one_query(acme, django_assert_num_queries):
    field = forms.ModelChoiceField(queryset=Client.objects.all())
    widget = LongSelect(choices=field.choices)

    with django_assert_num_queries(1):  # no COUNT first
        html_ = widget.render("client", None)
    assert acme.name in html_


# --- No false success (issue 18) ------------------------------------------------------


def entries(disagreement: Disagreement) -> int:
    return disagreement.history.count()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


OUTCOME_UNCHANGED = (
    "Nothing changed: choose who was right, or describe how it turned out, to record the outcome."
)


def test_recording_the_default_pending_outcome_says_what_to_choose(client, advisor, dispute):
    """The form as it came ("Pending", no text): no "Outcome: Pending" entry, no date."""
    decide(dispute, advisor)
    before = entries(dispute)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-outcome", dispute),
        {"version": 2, "verdict": "pending", "outcome": "", "outcome_recorded_on": TODAY},
        follow=True,
    )

    assert messages_of(response) == [OUTCOME_UNCHANGED]
    dispute.refresh_from_db()
    assert (dispute.outcome_recorded_on, dispute.version) == (None, 2)
    assert entries(dispute) == before


def test_a_pending_outcome_with_only_a_date_is_refused(client, advisor, dispute):
    decide(dispute, advisor)
    before = entries(dispute)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-outcome", dispute),
        {"version": 2, "verdict": "pending", "outcome": "", "outcome_recorded_on": TODAY - DAY},
    )

    assert response.status_code == 400
    assert error_under(text(response), "verdict") == (
        "Choose who was right, or describe how it has turned out so far."
    )
    dispute.refresh_from_db()
    assert (dispute.outcome_recorded_on, dispute.version) == (None, 2)
    assert entries(dispute) == before


def test_an_outcome_sent_back_as_recorded_writes_nothing(client, advisor, dispute):
    decide(dispute, advisor)
    client.force_login(advisor)
    client.post(
        url("disagreement-outcome", dispute),
        {"version": 2, "verdict": "mixed", "outcome": "Half of it went well.",
         "outcome_recorded_on": TODAY},
        follow=True,  # and read its message
    )  # fmt: skip
    dispute.refresh_from_db()
    assert dispute.verdict == Disagreement.Verdict.MIXED
    before = entries(dispute)

    response = client.post(
        url("disagreement-outcome", dispute),
        {"version": dispute.version, "verdict": "mixed", "outcome": "Half of it went well.",
         "outcome_recorded_on": TODAY},
        follow=True,
    )  # fmt: skip

    assert messages_of(response) == [OUTCOME_UNCHANGED]
    assert entries(dispute) == before


def test_the_same_decision_again_is_refused_and_writes_nothing(client, advisor, dispute):
    decide(dispute, advisor)
    dispute.refresh_from_db()
    before = entries(dispute)
    client.force_login(advisor)

    response = client.post(
        url("disagreement-decision", dispute),
        {"version": dispute.version, "decision": "accepted", "decided_on": TODAY.isoformat()},
        follow=True,
    )

    assert messages_of(response) == [
        "Nothing changed: the decision is already “Accepted advice”. Choose another "
        "decision, or change the acknowledgment, to record one."
    ]
    dispute.refresh_from_db()
    assert dispute.version == 2
    assert entries(dispute) == before


def test_an_edit_sent_back_unchanged_says_so_and_writes_nothing(client, advisor, dispute):
    before = entries(dispute)
    client.force_login(advisor)

    response = client.post(url("disagreement-edit", dispute), edit_data(dispute), follow=True)

    assert messages_of(response) == [common.NOTHING_CHANGED]
    dispute.refresh_from_db()
    assert dispute.version == 1
    assert entries(dispute) == before


def test_a_stale_unchanged_form_still_reports_the_conflict(client, advisor, dispute):
    """Unchanged against what the person opened, not against what is stored now."""
    data = edit_data(dispute)
    decide(dispute, advisor)  # someone else, meanwhile

    client.force_login(advisor)
    response = client.post(url("disagreement-edit", dispute), data)

    assert response.status_code == 409  # the other person's change is shown, not "nothing changed"
    assert common.NOTHING_CHANGED not in text(response)
    assert entries(dispute) == 2  # logged, decided: nothing from this post


def test_a_follow_up_before_the_disagreement_is_refused(client, advisor, dispute):
    client.force_login(advisor)

    response = client.post(
        url("disagreement-edit", dispute),
        edit_data(dispute, follow_up_on=(dispute.occurred_on - 400 * DAY).isoformat()),
    )

    assert response.status_code == 400
    assert error_under(text(response), "follow_up_on") == (
        "The follow-up cannot be before the disagreement occurred."
    )
    dispute.refresh_from_db()
    assert dispute.follow_up_on is None


def test_the_disagreement_page_has_no_duplicate_ids(client, advisor, dispute):
    client.force_login(advisor)

    page = text(client.get(url("disagreement-detail", dispute)))

    decide(dispute, advisor)  # both quick-action forms on the page
    page = text(client.get(url("disagreement-detail", dispute)))

    ids = re.findall(r'\sid="([^"]+)"', page)
    duplicates = {name for name in ids if ids.count(name) > 1}
    assert not duplicates
    assert 'id="decision-version"' in page and 'id="outcome-version"' in page
