"""The home page: my clients, my open items and the follow-ups coming due."""

from __future__ import annotations

import datetime
import html
import re
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advisory.health.services import band_override_set
from advisory.letgo.services import letgo_propose
from advisory.models import Band, Client, Disagreement, HealthSnapshot, LetGoCase
from advisory.records import selectors
from advisory.records.selectors import HOME_LIST_LENGTH
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


@pytest.fixture
def stranger(other_advisor):
    """Another advisor's client with a pending disagreement due for follow-up today."""
    engagement = EngagementFactory(client=ClientFactory(name="Initech", lead_advisor=other_advisor))
    return DisagreementFactory(engagement=engagement, title="Overtime unpaid", follow_up_on=TODAY)


def home(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def section(page: str, heading_id: str) -> str:
    """The card whose heading has `heading_id`."""
    start = page.index(f'id="{heading_id}"')
    return page[start : page.index("</section>", start)]


def titles(page: str, heading_id: str) -> list[str]:
    """The titles (or client names) a panel lists, in order."""
    items = section(page, heading_id).split("<li ")[1:]
    return [re.search(r'<a href="[^"]+">(.*?)</a>', item)[1] for item in items]


def count(page: str, heading_id: str) -> int:
    heading = section(page, heading_id).split("</h3>")[0]
    return int(re.search(r'<span class="badge[^"]*">(\d+)</span>', heading)[1])


def test_the_home_lists_my_clients(client, advisor, acme, stranger):
    other = ClientFactory(name="Globex", lead_advisor=advisor)

    clients = section(home(client, advisor), "clients-heading")

    assert "My clients" in clients
    assert ">Acme Holdings</a>" in clients
    assert ">Globex</a>" in clients
    assert "Initech" not in clients
    assert other.get_absolute_url() in clients


def test_a_client_i_work_on_but_do_not_lead_is_mine(client, team, acme_engagement):
    erin = UserFactory(username="erin", team=team)
    acme_engagement.members.add(erin)

    assert ">Acme Holdings</a>" in section(home(client, erin), "clients-heading")


@pytest.fixture
def my_day(acme_engagement) -> None:
    def make(title: str, **fields) -> Disagreement:
        return DisagreementFactory(engagement=acme_engagement, title=title, **fields)

    make("Awaiting a decision", occurred_on=TODAY - 5 * DAY)
    make("Unacknowledged", decision="proceeded", decided_on=TODAY)
    make("Advice accepted", decision="accepted", decided_on=TODAY)
    make("Chase today", follow_up_on=TODAY, occurred_on=TODAY - 3 * DAY)
    make("Long overdue", follow_up_on=TODAY - 2 * DAY, occurred_on=TODAY - 9 * DAY)
    make("Withdrawn", decision="withdrew", decided_on=TODAY)
    make("Archived", is_archived=True, follow_up_on=TODAY - DAY)


def test_the_advisors_panels_say_what_waits_on_them_most_urgent_first(
    client, advisor, my_day, stranger
):
    page = home(client, advisor)

    order = ["acknowledgment", "overdue", "followup", "decision"]
    positions = [page.index(f'id="{key}-heading"') for key in order]
    assert positions == sorted(positions)
    assert "Awaiting the client's acknowledgment of risk" in section(page, "acknowledgment-heading")
    assert titles(page, "acknowledgment-heading") == ["Unacknowledged"]
    assert titles(page, "overdue-heading") == ["Long overdue"]
    assert titles(page, "followup-heading") == ["Chase today"]
    assert "Today" in section(page, "followup-heading")
    # Oldest first: the client has been deciding longest.
    assert titles(page, "decision-heading") == [
        "Long overdue",
        "Awaiting a decision",
        "Chase today",
    ]
    assert [count(page, f"{key}-heading") for key in order] == [1, 1, 1, 3]
    assert "5 open items in all" in section(page, "open-heading")
    # Only managers and admins look after the firm's health and reviews.
    assert 'id="review-heading"' not in page and 'id="adversarial-heading"' not in page


def test_overdue_follow_ups_and_those_due_this_week_are_listed_apart(
    client, advisor, acme_engagement, stranger
):
    for days, title in [
        (-20, "Long overdue"),
        (-3, "Overdue"),
        (0, "Due today"),
        (7, "Due in a week"),
        (8, "Later"),
    ]:
        DisagreementFactory(
            engagement=acme_engagement, title=title, follow_up_on=TODAY + days * DAY
        )
    DisagreementFactory(engagement=acme_engagement, title="No follow-up")
    page = home(client, advisor)

    assert titles(page, "overdue-heading") == ["Long overdue", "Overdue"]  # most overdue first
    assert "Follow-ups overdue" in section(page, "overdue-heading")
    assert count(page, "overdue-heading") == 2
    assert titles(page, "followup-heading") == ["Due today", "Due in a week"]
    assert "Follow-ups due today or in the next 7 days" in section(page, "followup-heading")
    assert count(page, "followup-heading") == 2


def test_the_counts_match_beyond_the_lists(client, advisor, acme_engagement):
    for number in range(17):
        DisagreementFactory(
            engagement=acme_engagement, title=f"Old {number}", follow_up_on=TODAY - 30 * DAY
        )

    page = home(client, advisor)

    assert count(page, "overdue-heading") == 17
    assert len(titles(page, "overdue-heading")) == HOME_LIST_LENGTH
    assert "All 17 in the list" in section(page, "overdue-heading")
    assert "17 open items in all" in section(page, "open-heading")


def test_a_panel_stops_counting_where_the_lists_do(client, advisor, acme_engagement, monkeypatch):
    # Counting every row reads them all: past Panel.limit (1,000) the panel
    # says "more than", as the list does, and still shows the first rows.
    monkeypatch.setattr(selectors.Panel, "limit", 3)
    for number in range(5):
        DisagreementFactory(
            engagement=acme_engagement, title=f"Old {number}", follow_up_on=TODAY - 30 * DAY
        )

    page = home(client, advisor)
    overdue = section(page, "overdue-heading")

    assert '<span class="badge text-bg-danger">3+</span>' in overdue
    assert "More than 3: open the list" in overdue
    assert len(titles(page, "overdue-heading")) == 5


def test_the_home_leaves_out_other_advisors_clients(client, advisor, acme, stranger):
    page = home(client, advisor)

    assert "Overtime unpaid" not in page
    assert "Initech" not in page
    assert "Nothing is waiting on you." in section(page, "open-heading")
    assert "No follow-up is due in the next 7 days." in section(page, "followup-heading")
    assert "No follow-up is overdue." in section(page, "overdue-heading")


def list_rows(client, url: str) -> tuple[list[int], int]:
    """The ids a list page shows on its first page, and how many it finds."""
    response = client.get(url)
    assert response.status_code == 200
    page = response.context["page_obj"]
    return [row.pk for row in page.object_list], page.paginator.count


def panel_ids(panel) -> list[int]:
    return [
        getattr(row, "client_id", None) if panel.kind == "overrides" else row.pk
        for row in panel.rows
    ]


@pytest.fixture
def firm_day(my_day, advisor, manager, acme, stranger):
    """Something in every panel a manager sees: a client newly adversarial,
    an override ending soon, disagreements not yet reviewed; many follow-ups."""
    Client.objects.filter(pk=acme.pk).update(health_band=Band.ADVERSARIAL, health_score=20)
    HealthSnapshot.objects.create(client=acme, date=TODAY - 40 * DAY, score=80, band=Band.HEALTHY)
    globex = ClientFactory(name="Globex", lead_advisor=advisor, team=acme.team)
    band_override_set(
        globex, by=manager, band=Band.STRAINED, reason="Settling", expires_on=TODAY + 10 * DAY
    )
    later = ClientFactory(name="Hooli", lead_advisor=advisor, team=acme.team)
    band_override_set(
        later, by=manager, band=Band.STRAINED, reason="Later", expires_on=TODAY + 30 * DAY
    )
    engagement = acme.engagements.first()
    for number in range(HOME_LIST_LENGTH + 3):
        DisagreementFactory(
            engagement=engagement, title=f"Chase {number}", follow_up_on=TODAY - number * DAY
        )


@pytest.mark.parametrize("role", ["advisor", "manager", "admin"])
def test_every_panel_links_to_the_same_rows_in_its_list(client, request, firm_day, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    board = selectors.dashboard(user)["board"]
    panels = [*selectors.dashboard(user)["waiting"], *(board["panels"] if board else [])]

    assert {panel.key for panel in panels} >= {"acknowledgment", "overdue", "followup", "decision"}
    for panel in panels:
        shown, total = list_rows(client, panel.url)
        assert total == panel.count, panel.title
        if panel.kind == "disagreements":
            assert shown[: len(panel.rows)] == panel_ids(panel), panel.title  # same order
        else:
            assert set(panel_ids(panel)) <= set(shown), panel.title
    if role != "advisor":
        found = {panel.key: panel for panel in panels}
        assert [row.name for row in found["adversarial"].rows] == ["Acme Holdings"]
        assert [row.client.name for row in found["overrides"].rows] == ["Globex"]
        assert (
            found["review"].count
            == Disagreement.objects.active()
            .awaiting_review()
            .filter(client__in=Client.objects.visible_to(user))
            .count()
        )


def test_the_managers_panels_come_before_their_own_and_link_to_the_board(
    client, manager, firm_day, team
):
    assert 'id="waiting-heading"' not in home(client, manager)  # no client of their own
    ClientFactory(name="Managed", lead_advisor=manager, team=team)

    page = home(client, manager)

    assert page.index('id="adversarial-heading"') < page.index('id="waiting-heading"')
    assert titles(page, "adversarial-heading") == ["Acme Holdings"]
    assert titles(page, "overrides-heading") == ["Globex"]
    assert "/health/?attention=override_ending" in section(page, "overrides-heading")
    assert "/disagreements/?review=waiting&amp;o=occurred" in section(page, "review-heading") or (
        "/disagreements/?review=waiting&o=occurred" in section(page, "review-heading")
    )
    assert 'id="letgo-heading"' not in page  # admins decide


def test_an_admin_sees_the_let_go_proposals_waiting_for_them_first(
    client, admin, manager, advisor, acme, acme_engagement
):
    dispute = DisagreementFactory(engagement=acme_engagement)
    letgo_propose(
        acme,
        by=manager,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Threats to staff.",
        evidence=[dispute],
        notify=False,
    )

    page = home(client, admin)

    assert page.index('id="letgo-heading"') < page.index('id="board-heading"')
    assert titles(page, "letgo-heading") == ["Acme Holdings"]
    assert count(page, "letgo-heading") == 1
    waiting = client.get(reverse("letgo-list"), {"status": "proposed"}).content.decode()
    assert "Proposals waiting for a decision" in waiting and "Acme Holdings" in waiting


def test_my_clients_filter_keeps_to_the_clients_i_work_on(client, manager, acme_engagement, team):
    mine = EngagementFactory(client=ClientFactory(name="Managed", lead_advisor=manager, team=team))
    DisagreementFactory(engagement=mine, title="On my client")
    DisagreementFactory(engagement=acme_engagement, title="On the team's client")
    client.force_login(manager)

    everyone = client.get(reverse("disagreement-list")).content.decode()
    only_mine = client.get(reverse("disagreement-list"), {"mine": "yes"}).content.decode()

    assert "On the team&#x27;s client" in everyone or "On the team's client" in everyone
    assert "On my client" in only_mine
    assert "On the team" not in only_mine


def _rows(advisor, team, count: int) -> None:
    """`count` open disagreements with follow-ups, over several clients and loggers."""
    engagements = [
        EngagementFactory(client=ClientFactory(lead_advisor=advisor, team=team)) for _ in range(3)
    ]
    for n in range(count):
        engagement = engagements[n % 3]
        DisagreementFactory(
            engagement=engagement,
            logged_by=advisor,
            decision=["pending", "proceeded", "accepted"][n % 3],
            decided_on=None if n % 3 == 0 else TODAY,
            follow_up_on=TODAY + (n % 10 - 3) * DAY,
        )


# Issue 8's ceiling for a page, the session's and the user's queries included.
MAX_QUERIES = 15


@pytest.mark.parametrize("role", ["advisor", "manager", "admin"])
def test_the_home_query_count_does_not_grow_with_the_rows(client, request, team, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    client.get(reverse("dashboard"))  # a session's first page looks for an authenticator app
    _rows(user, team, 3)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard"))

    _rows(user, team, 3 * HOME_LIST_LENGTH)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("dashboard")).content.decode()

    # A panel with fewer rows than it shows needs no count: fewer queries. An
    # admin's session also loads its second factor (django-otp), every page.
    ceiling = MAX_QUERIES + (role == "admin")
    assert len(few) <= len(many) <= ceiling, "\n".join(q["sql"][:100] for q in many)
    assert "All " in page and "in the list" in page


def test_each_panels_first_rows_and_count_match_its_list(client, advisor, team):
    _rows(advisor, team, 3 * HOME_LIST_LENGTH)
    mine = Disagreement.objects.filter(client__lead_advisor=advisor)

    panels, open_count = selectors.waiting_on(mine)

    for panel in panels:
        query = parse_qs(urlsplit(panel.url).query)
        rows = getattr(mine, query["state"][0])()
        expected = rows.order_by(*selectors._ordering(query["o"][0]))[:HOME_LIST_LENGTH]
        assert panel.rows == list(expected), panel.key
        assert panel.count == rows.count(), panel.key
    assert open_count == mine.open().count()


def test_open_items_in_no_panel_are_still_counted(advisor, acme_engagement):
    DisagreementFactory(
        engagement=acme_engagement, decision="accepted", decided_on=TODAY, follow_up_on=None
    )

    panels, open_count = selectors.waiting_on(Disagreement.objects.all())

    assert [panel.count for panel in panels] == [0, 0, 0, 0]
    assert open_count == 1
