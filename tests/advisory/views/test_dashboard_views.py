"""The home page: my clients, my open items and the follow-ups coming due."""

from __future__ import annotations

import datetime
import html
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advisory.models import Disagreement
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


def badges_by_title(open_items: str) -> dict[str, set[str]]:
    items = {}
    for item in open_items.split('<li class="mb-2">')[1:]:
        title = re.search(r'<a href="[^"]+">(.*?)</a>', item)[1]
        items[title] = set(re.findall(r'<span class="badge[^"]*">(.*?)</span>', item))
    return items


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


def test_my_open_items_carry_their_badges(client, advisor, acme_engagement, stranger):
    def make(title: str, **fields) -> Disagreement:
        return DisagreementFactory(engagement=acme_engagement, title=title, **fields)

    make("Awaiting a decision")
    make("Override unacknowledged", decision="proceeded", decided_on=TODAY)
    make("Advice accepted", decision="accepted", decided_on=TODAY)
    make("Chase today", follow_up_on=TODAY)
    make("Withdrawn", decision="withdrew", decided_on=TODAY)
    make("Archived", is_archived=True)

    open_items = section(home(client, advisor), "open-heading")

    assert badges_by_title(open_items) == {
        "Awaiting a decision": {"Awaiting decision"},
        "Override unacknowledged": {"Awaiting acknowledgment", "Awaiting outcome"},
        "Advice accepted": {"Awaiting outcome"},
        "Chase today": {"Awaiting decision", "Follow-up due"},
    }
    assert '<span class="badge text-bg-secondary">4</span>' in open_items


def test_with_nothing_open_the_home_says_so(client, advisor, acme_engagement):
    DisagreementFactory(engagement=acme_engagement, decision="withdrew", decided_on=TODAY)

    assert "Nothing is waiting on you." in section(home(client, advisor), "open-heading")


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

    def titles(heading: str) -> list[str]:
        items = section(page, heading).split('<li class="mb-1">')[1:]
        return [re.search(r'<a href="[^"]+">(.*?)</a>', item)[1] for item in items]

    overdue, due_soon = section(page, "overdue-heading"), section(page, "followup-heading")
    assert titles("overdue-heading") == ["Long overdue", "Overdue"]  # most overdue first
    assert "Overdue follow-ups" in overdue and ">2</span>" in overdue
    assert titles("followup-heading") == ["Due today", "Due in a week"]
    assert "Follow-ups due in the next 7 days" in due_soon and ">2</span>" in due_soon
    assert "Today" in due_soon


def test_the_follow_up_counts_match_beyond_the_lists(client, advisor, acme_engagement):
    for number in range(17):
        DisagreementFactory(
            engagement=acme_engagement, title=f"Old {number}", follow_up_on=TODAY - 30 * DAY
        )

    overdue = section(home(client, advisor), "overdue-heading")

    assert ">17</span>" in overdue
    assert "The 15 most overdue of 17." in overdue


def test_the_home_leaves_out_other_advisors_clients(client, advisor, acme, stranger):
    page = home(client, advisor)

    assert "Overtime unpaid" not in page
    assert "Initech" not in page
    assert "Nothing is waiting on you." in section(page, "open-heading")
    assert "No follow-ups due in the next 7 days." in section(page, "followup-heading")
    assert "No follow-up is overdue." in section(page, "overdue-heading")


def test_a_long_list_links_to_all_open_items(client, advisor, acme_engagement):
    DisagreementFactory.create_batch(HOME_LIST_LENGTH + 2, engagement=acme_engagement)

    open_items = section(home(client, advisor), "open-heading")

    assert len(badges_by_title(open_items)) == HOME_LIST_LENGTH
    assert f"All {HOME_LIST_LENGTH + 2} open items" in open_items
    assert f"{reverse('disagreement-list')}?state=open" in open_items


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


@pytest.mark.parametrize("role", ["advisor", "manager"])
def test_the_home_query_count_does_not_grow_with_the_rows(client, request, team, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    _rows(user, team, 3)
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("dashboard"))

    _rows(user, team, 3 * HOME_LIST_LENGTH)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("dashboard")).content.decode()

    assert len(many) == len(few)
    assert "Follow-up due" in page
