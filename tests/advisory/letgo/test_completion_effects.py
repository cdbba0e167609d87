"""What a completed let-go does beyond the case: the client's open items close,
each with a history entry (its follow-up cleared, nothing else changed), so they
stop being anyone's open items; reminders stop; and the client leaves the health
board's default view, its band counts and charts, the dashboards and "My
clients", while the board's "Let go" filter and the client list's status filter
still show it. Reinstating brings back the client's status, not its follow-ups."""

from __future__ import annotations

import csv
import datetime
import io
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from advisory.health import selectors as health_selectors
from advisory.letgo.services import (
    client_reinstate,
    letgo_complete,
    letgo_decide,
    letgo_propose,
)
from advisory.models import (
    Client,
    Delivery,
    Disagreement,
    HealthSnapshot,
    LetGoCase,
    Notification,
    NotificationKind,
)
from advisory.notifications import triggers
from advisory.records import selectors as dashboard
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory
from tests.records import fresh, tick_all

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
D = Disagreement
BOARD = reverse("health-board")
HOME = reverse("dashboard")
# A pill saying what a disagreement waits on (templates/advisory/_status_pills.html).
WAITING_PILL = re.compile(r'<span class="badge [^"]*">(Awaiting [a-z]+|Follow-up due)</span>')


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    # Frozen: a session's first request of a minute also moves its expiry.
    time_machine.move_to(
        datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")), tick=False
    )


def let_go(client: Client, *, advisor, admin) -> LetGoCase:
    """Propose, approve, get ready and complete, through the services."""
    evidence = list(client.disagreements.all()[:1])
    case = letgo_propose(
        client,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abuse on every call since March.",
        evidence=evidence,
    )
    case = tick_all(letgo_decide(case, by=admin, approve=True, note="Agreed."), admin)
    return letgo_complete(case, by=admin, expected_version=case.version)


def open_items(client: Client, engagement=None) -> list[Disagreement]:
    """One disagreement waiting on each thing an open item can wait for."""
    engagement = engagement or client.engagements.first() or EngagementFactory(client=client)
    log = DisagreementFactory
    return [
        log(engagement=engagement, title=f"{client} decision", follow_up_on=TODAY - 2 * DAY),
        log(
            engagement=engagement,
            title=f"{client} acknowledgment",
            decision=D.Decision.PROCEEDED,
            decided_on=TODAY - 8 * DAY,
            follow_up_on=TODAY + 2 * DAY,
        ),
        log(
            engagement=engagement,
            title=f"{client} outcome",
            decision=D.Decision.ACCEPTED,
            decided_on=TODAY - 9 * DAY,
            follow_up_on=TODAY,
        ),
    ]


@pytest.fixture
def acme_items(acme, acme_engagement) -> list[Disagreement]:
    return open_items(acme, acme_engagement)


@pytest.fixture
def bolt(advisor, team) -> Client:
    """Another client of `advisor`, staying."""
    bolt = ClientFactory(name="Bolt Logistics", lead_advisor=advisor, team=team)
    open_items(bolt)
    return bolt


def snapshot_of(d: Disagreement) -> tuple:
    d = fresh(d)
    return (d.decision, d.verdict, d.risk_acknowledged, d.follow_up_on, d.version)


def recorded(d: Disagreement) -> dict:
    """Every field of the record as stored, but the follow-up, version and timestamps."""
    row = D.objects.filter(pk=d.pk).values().get()
    for field in ("follow_up_on", "version", "updated_at"):
        row.pop(field)
    return row


# --- Open items --------------------------------------------------------------------


def test_a_let_go_clients_disagreements_are_no_longer_open_items(
    acme, acme_items, bolt, advisor, admin
):
    assert D.objects.filter(client=acme).open().count() == 3

    let_go(acme, advisor=advisor, admin=admin)

    log = D.objects.filter(client=acme)
    assert log.open().count() == 0
    assert log.closed().count() == 3
    for state in [
        "awaiting_decision",
        "awaiting_acknowledgment",
        "awaiting_outcome",
        "follow_up_overdue",
        "follow_up_coming",
        "awaiting_review",
    ]:
        assert not getattr(log, state)().exists(), state
        assert getattr(D.objects.filter(client=bolt), state)().exists(), state


def test_each_open_item_closes_with_a_history_entry_and_its_follow_up_cleared(
    acme, acme_items, bolt, advisor, admin
):
    waiting = DisagreementFactory(engagement=acme_items[0].engagement, title="No follow-up set")
    closing = [*acme_items, waiting]
    before = {d.pk: (recorded(d), fresh(d).version, d.history.count()) for d in closing}
    bolts = {d.pk: snapshot_of(d) for d in D.objects.filter(client=bolt)}

    let_go(acme, advisor=advisor, admin=admin)

    for d in closing:
        row, version, entries = before[d.pk]
        assert recorded(d) == row, d.title  # the decision, outcome, facts: as they were
        assert fresh(d).follow_up_on is None, d.title
        assert fresh(d).version == version + 1, d.title
        assert d.history.count() == entries + 1, d.title
        latest = d.history.latest()
        assert latest.history_change_reason == "Let go on 16 Mar 2026", d.title
        assert latest.history_user == admin, d.title
    # Another client's items stay open, follow-ups and all.
    assert {d.pk: snapshot_of(d) for d in D.objects.filter(client=bolt)} == bolts


def test_the_history_tab_shows_what_the_let_go_changed(client, advisor, acme_items, gone):
    waiting, _proceeded, _accepted = acme_items
    client.force_login(advisor)

    [entry, *_] = client.get(reverse("disagreement-history", args=[waiting.pk])).context["entries"]

    assert (entry.action, entry.reason, entry.user) == (
        "Changed",
        "Let go on 16 Mar 2026",
        gone.completed_by,
    )
    assert [(c.label, c.old, c.new) for c in entry.changes] == [
        ("Follow-up date", "14 Mar 2026", "—")
    ]


def test_what_was_not_open_is_left_as_it_was(acme, acme_engagement, advisor, admin):
    done = DisagreementFactory(
        engagement=acme_engagement,
        title="Settled",
        decision=D.Decision.ACCEPTED,
        decided_on=TODAY - 9 * DAY,
        verdict=D.Verdict.ADVICE_VINDICATED,
        outcome="The audit went through.",
        outcome_recorded_on=TODAY - 2 * DAY,
        follow_up_on=TODAY + 5 * DAY,
    )
    shelved = DisagreementFactory(
        engagement=acme_engagement, title="Shelved", follow_up_on=TODAY, is_archived=True
    )
    before = {d.pk: (snapshot_of(d), d.history.count()) for d in (done, shelved)}

    let_go(acme, advisor=advisor, admin=admin)

    assert {d.pk: (snapshot_of(d), d.history.count()) for d in (done, shelved)} == before


def test_completing_stops_the_clients_reminders_waiting_for_an_e_mail(
    acme, acme_items, bolt, advisor, admin
):
    def reminder(client: Client, kind: str, delivery: str, **fields) -> Notification:
        return Notification.objects.create(
            recipient=advisor,
            kind=kind,
            event_key=f"{client.pk}:{kind}:{delivery}:{len(fields)}",
            title=f"{client}: {kind}",
            client=client,
            delivery=delivery,
            **fields,
        )

    daily = reminder(acme, NotificationKind.FOLLOW_UP_DUE, Delivery.DAILY)
    at_once = reminder(acme, NotificationKind.ACKNOWLEDGMENT_MISSING, Delivery.IMMEDIATE)
    band = reminder(acme, NotificationKind.BAND_WORSENED, Delivery.DAILY)
    sent = reminder(acme, NotificationKind.FOLLOW_UP_DUE, Delivery.DAILY, emailed_at=timezone.now())
    bolts = reminder(bolt, NotificationKind.FOLLOW_UP_DUE, Delivery.DAILY)

    let_go(acme, advisor=advisor, admin=admin)

    delivery = dict(Notification.objects.values_list("pk", "delivery"))
    assert [delivery[n.pk] for n in (daily, at_once, band)] == [Delivery.IN_APP] * 3
    assert delivery[sent.pk] == Delivery.DAILY  # what went stays as it went
    assert delivery[bolts.pk] == Delivery.DAILY
    # The let-go's own news is not a reminder: it goes as chosen.
    decided = Notification.objects.filter(kind=NotificationKind.LETGO_DECIDED, client=acme)
    assert decided.exists()
    assert Delivery.IN_APP not in set(decided.values_list("delivery", flat=True))
    # Stopped for good: reinstating does not send them after all.
    client_reinstate(fresh(acme), by=admin, reason="New board.")
    assert Notification.objects.get(pk=daily.pk).delivery == Delivery.IN_APP


def test_the_advisors_home_leaves_out_a_let_go_clients_open_items(
    client, acme, acme_items, bolt, advisor, admin
):
    let_go(acme, advisor=advisor, admin=admin)
    client.force_login(advisor)

    response = client.get(HOME)

    assert response.context["open_count"] == 3  # Bolt's only
    for panel in response.context["waiting"]:
        assert panel.rows, panel.key
        assert all(d.client_id == bolt.pk for d in panel.rows), panel.key
        assert panel.count == len(panel.rows), panel.key
    assert "Acme Holdings decision" not in response.content.decode()


def test_the_open_items_list_the_home_page_links_to_counts_the_same(
    client, acme, acme_items, bolt, advisor, admin
):
    let_go(acme, advisor=advisor, admin=admin)
    client.force_login(advisor)
    home = client.get(HOME).context

    listed = client.get(home["open_url"]).context["page_obj"]

    assert listed.paginator.count == home["open_count"] == 3
    for panel in home["waiting"]:
        assert client.get(panel.url).context["page_obj"].paginator.count == panel.count


def test_the_managers_home_leaves_out_a_let_go_client(
    client, acme, acme_items, bolt, advisor, manager, admin
):
    Client.objects.filter(pk__in=[acme.pk, bolt.pk]).update(health_band="adversarial")
    for c in (acme, bolt):
        HealthSnapshot.objects.create(client=c, date=TODAY - DAY, score=20, band="adversarial")
    let_go(acme, advisor=advisor, admin=admin)
    Client.objects.filter(pk=acme.pk).update(health_band="adversarial")

    context = dashboard.dashboard(manager)

    assert context["board"]["counts"]["adversarial"] == 1
    panels = {panel.key: panel for panel in context["board"]["panels"]}
    assert [c.name for c in panels["adversarial"].rows] == ["Bolt Logistics"]
    assert panels["review"].count == 3
    assert {d.client_id for d in panels["review"].rows} == {bolt.pk}
    client.force_login(manager)
    reviews = client.get(panels["review"].url).context["page_obj"]
    assert reviews.paginator.count == 3


def test_a_let_go_client_is_not_one_of_my_clients(client, acme, acme_items, bolt, advisor, admin):
    let_go(acme, advisor=advisor, admin=admin)
    client.force_login(advisor)

    response = client.get(HOME)

    assert [c.name for c in response.context["my_clients"]] == ["Bolt Logistics"]
    assert response.context["my_client_count"] == 1
    page = response.content.decode()
    heading = page.index('id="clients-heading"')
    clients = page[heading : page.index("</section>", heading)]
    assert "Bolt Logistics" in clients and "Acme Holdings" not in clients
    # The log's "My clients only" leaves it out too ...
    mine = client.get(reverse("disagreement-list"), {"mine": "yes"}).context["page_obj"]
    assert {d.client_id for d in mine} == {bolt.pk}
    # ... while the client list still finds it, by its status.
    listed = client.get(reverse("client-list"), {"status": Client.Status.LET_GO})
    assert [c.name for c in listed.context["page_obj"]] == ["Acme Holdings"]
    page = listed.content.decode()
    assert '<option value="let_go" selected>Let go</option>' in page


def home_queries(user) -> int:
    """How many queries the home page's reads take (the page itself may be cached)."""
    with CaptureQueriesContext(connection) as queries:
        context = dashboard.dashboard(user)
        list(context["my_clients"]), list(context["teams"]), list(context["team_summary"])
    return len(queries.captured_queries)


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_a_let_go_adds_no_query_to_the_home_page(
    role, request, acme, acme_items, bolt, advisor, admin
):
    user = request.getfixturevalue(role)
    before = home_queries(user)

    let_go(acme, advisor=advisor, admin=admin)

    assert home_queries(user) <= before


def test_the_client_page_and_the_advisor_breakdown_count_no_open_item(
    client, acme, acme_items, bolt, advisor, manager, admin
):
    let_go(acme, advisor=advisor, admin=admin)
    client.force_login(manager)

    assert client.get(acme.get_absolute_url()).context["open_count"] == 0
    assert client.get(bolt.get_absolute_url()).context["open_count"] == 3
    [stats] = health_selectors.advisor_breakdown(D.objects.all(), since=TODAY - 30 * DAY)
    assert (stats.advisor, stats.logged, stats.open_items) == (advisor, 6, 3)


# --- Reminders ---------------------------------------------------------------------


def test_reminders_stop_for_a_let_go_client(acme, acme_items, bolt, advisor, admin, settings):
    settings.CANDOR_NOTIFICATIONS = {
        **settings.CANDOR_NOTIFICATIONS,
        "acknowledgment_grace_days": 7,
        "catch_up_days": 3,
    }
    let_go(acme, advisor=advisor, admin=admin)

    triggers.remind_follow_ups(today=TODAY)
    triggers.remind_missing_acknowledgments(today=TODAY)

    reminded = set(
        Notification.objects.filter(
            kind__in=[NotificationKind.FOLLOW_UP_DUE, NotificationKind.ACKNOWLEDGMENT_MISSING]
        ).values_list("title", flat=True)
    )
    assert "Follow-up due: Bolt Logistics decision" in reminded
    assert "Acknowledgment still missing: Bolt Logistics acknowledgment" in reminded
    assert not [title for title in reminded if "Acme Holdings" in title]


# --- The health board --------------------------------------------------------------


@pytest.fixture
def board_cast(acme, acme_items, bolt, advisor, admin) -> None:
    """Acme (let go) and Bolt, both adversarial now and a month ago."""
    for c in (acme, bolt):
        HealthSnapshot.objects.create(client=c, date=TODAY - 40 * DAY, score=20, band="adversarial")
        HealthSnapshot.objects.create(client=c, date=TODAY - DAY, score=20, band="adversarial")
    let_go(acme, advisor=advisor, admin=admin)
    # Closing its open items scored Acme for real today: back to the story's band.
    HealthSnapshot.objects.filter(date=TODAY).update(score=20, band="adversarial")
    Client.objects.filter(pk__in=[acme.pk, bolt.pk]).update(
        health_score=20, health_band="adversarial"
    )


def board(client, user, query: str = ""):
    client.force_login(user)
    response = client.get(f"{BOARD}{query}")
    assert response.status_code == 200
    return response


def adversarial_tile(response) -> dict:
    return next(t for t in response.context["tiles"] if t["band"] == "adversarial")


def test_the_board_leaves_a_let_go_client_out_of_rows_counts_and_charts(
    client, manager, board_cast
):
    response = board(client, manager)

    assert [c.name for c in response.context["page_obj"]] == ["Bolt Logistics"]
    assert adversarial_tile(response)["count"] == 1
    assert adversarial_tile(response)["change"] == 0
    assert response.context["chart_data"]["bands"]["Adversarial"][-1] == 1
    assert "Acme Holdings" not in response.content.decode()


def test_the_let_go_filter_shows_only_let_go_clients(client, manager, board_cast):
    response = board(client, manager, "?relationship=let_go")

    assert [c.name for c in response.context["page_obj"]] == ["Acme Holdings"]
    assert adversarial_tile(response)["count"] == 1
    assert response.context["chart_data"]["bands"]["Adversarial"][-1] == 1
    page = response.content.decode()
    assert '<option value="let_go" selected>Let go</option>' in page


def test_an_unknown_filter_value_still_leaves_let_go_clients_out(client, manager, board_cast):
    response = board(client, manager, "?relationship=gone&band=nonsense")

    assert [c.name for c in response.context["page_obj"]] == ["Bolt Logistics"]


def test_the_let_go_filter_is_scoped_to_the_user(client, other_advisor, board_cast):
    """Someone outside the team sees neither client, let go or not."""
    assert list(board(client, other_advisor, "?relationship=let_go").context["page_obj"]) == []
    assert list(board(client, other_advisor).context["page_obj"]) == []


def test_the_let_go_filter_costs_no_more_queries(
    client, manager, board_cast, advisor, admin, team, django_assert_max_num_queries
):
    for n in range(5):
        gone = ClientFactory(name=f"Gone {n}", lead_advisor=advisor, team=team)
        DisagreementFactory(engagement=EngagementFactory(client=gone))
        let_go(gone, advisor=advisor, admin=admin)
    client.force_login(manager)
    client.get(BOARD)

    with CaptureQueriesContext(connection) as default:
        client.get(BOARD)
    with django_assert_max_num_queries(len(default.captured_queries)):
        response = client.get(f"{BOARD}?relationship=let_go")
    assert len(response.context["page_obj"]) == 6


def test_the_board_export_follows_the_filter(client, manager, board_cast):
    client.force_login(manager)

    def csv(query: dict) -> str:
        response = client.get(BOARD, {"format": "csv", **query})
        return b"".join(response.streaming_content).decode()

    default = csv({})
    gone = csv({"relationship": "let_go"})

    assert "Bolt Logistics" in default and "Acme Holdings" not in default
    assert "Acme Holdings" in gone and "Bolt Logistics" not in gone


# --- Reinstating brings it back ----------------------------------------------------


def test_reinstating_brings_back_open_items_and_the_board(
    client, acme, acme_items, board_cast, advisor, manager, admin
):
    client_reinstate(fresh(acme), by=admin, reason="New board.")

    assert D.objects.filter(client=acme).open().count() == 3
    names = [c.name for c in board(client, manager).context["page_obj"]]
    assert names == ["Acme Holdings", "Bolt Logistics"]
    assert dashboard.dashboard(advisor)["open_count"] == 6
    assert "Acme Holdings" in [c.name for c in dashboard.dashboard(advisor)["my_clients"]]


def test_reinstating_does_not_bring_the_follow_ups_back(
    acme, acme_items, board_cast, advisor, admin
):
    entries = {d.pk: d.history.count() for d in acme_items}

    client_reinstate(fresh(acme), by=admin, reason="New board.")

    assert [fresh(d).follow_up_on for d in acme_items] == [None] * 3
    assert {d.pk: d.history.count() for d in acme_items} == entries
    mine = D.objects.filter(client=acme)
    assert not mine.follow_up_overdue().exists() and not mine.follow_up_coming().exists()
    # What they were stays in the history, for whoever takes the client up again.
    assert D.history.filter(id=acme_items[0].pk, follow_up_on=TODAY - 2 * DAY).exists()


# --- Closed at let-go, on the records' pages ---------------------------------------


@pytest.fixture
def gone(acme, acme_items, advisor, admin) -> LetGoCase:
    return let_go(acme, advisor=advisor, admin=admin)


def page_text(client, user, url: str) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_a_let_go_clients_open_disagreement_says_closed_at_let_go(
    client, advisor, acme_items, gone
):
    waiting, proceeded, _accepted = acme_items

    page = page_text(client, advisor, waiting.get_absolute_url())

    assert "Closed at let-go" in page
    assert "Awaiting decision" not in page
    page = page_text(client, advisor, proceeded.get_absolute_url())
    assert "Closed at let-go" in page
    assert "Proceeded against advice" in page  # the decision made stays said
    assert "Awaiting acknowledgment" not in page


def test_the_api_and_the_csv_say_closed_as_the_pages_do(client, advisor, acme, acme_items, gone):
    _, secret = ApiToken.objects.issue(user=advisor, name="tests")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    listed = api.get("/api/disagreements/", {"client": acme.pk}).json()["results"]
    client.force_login(advisor)
    export = client.get(reverse("disagreement-list"), {"client": acme.pk, "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))

    assert sorted(d["id"] for d in listed) == sorted(d.pk for d in acme_items)
    assert [d["is_open"] for d in listed] == [False] * 3
    assert [row["Open items"] for row in rows] == ["Closed at let-go"] * 3


@pytest.fixture(params=["list", "client", "engagement", "case"])
def listing(request, acme, acme_engagement, gone) -> str:
    """A page listing the let-go client's disagreements with their pills."""
    return {
        "list": f"{reverse('disagreement-list')}?client={acme.pk}",
        "client": acme.get_absolute_url(),
        "engagement": acme_engagement.get_absolute_url(),
        "case": gone.get_absolute_url(),
    }[request.param]


def test_pages_listing_a_let_go_clients_disagreements_say_closed_at_let_go(
    client, advisor, listing
):
    url = listing

    page = page_text(client, advisor, url)

    assert '<span class="badge text-bg-secondary">Closed at let-go</span>' in page
    assert not WAITING_PILL.search(page)


def test_before_the_let_go_the_same_disagreements_say_what_they_wait_on(
    client, advisor, acme, acme_items
):
    page = page_text(client, advisor, acme.get_absolute_url())

    assert WAITING_PILL.search(page)
    assert "Closed at let-go" not in page


def test_the_closed_at_let_go_pills_cost_no_query_per_row(
    client, advisor, acme_engagement, gone, listing
):
    url = listing
    page_text(client, advisor, url)  # the session's first request of the minute
    counts = []
    for _ in range(2):
        more = DisagreementFactory.create_batch(12, engagement=acme_engagement)
        gone.evidence.add(*more)
        with CaptureQueriesContext(connection) as queries:
            assert "Closed at let-go" in page_text(client, advisor, url)
        counts.append(len(queries.captured_queries))

    assert counts[0] == counts[1]
