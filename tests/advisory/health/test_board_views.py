"""The health pages: the board (/health/), the advisor breakdown, band overrides,
the client page's "Why this score" and the managers' summary on the home page."""

from __future__ import annotations

import datetime
import html
import json
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from advisory.health import score as scoring
from advisory.health import selectors
from advisory.health.score import Facts
from advisory.health.services import band_override_set, health_refresh
from advisory.models import Band, BandOverride, Client, Disagreement, HealthSnapshot
from advisory.views.common import PAGE_SIZE
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
D = Disagreement
NOTICE = "showing all rows"
BOARD = reverse("health-board")
BREAKDOWN = reverse("advisor-breakdown")


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


def scored_client(name, *, lead, team, score, band, sector="Manufacturing", trend=0) -> Client:
    return ClientFactory(
        name=name,
        lead_advisor=lead,
        team=team,
        sector=sector,
        health_score=score,
        health_band=band,
        health_trend=trend,
    )


def disagreements(client: Client, count: int, **fields) -> list[Disagreement]:
    engagement = client.engagements.first() or EngagementFactory(client=client)
    return [DisagreementFactory(engagement=engagement, **fields) for _ in range(count)]


def snapshot(client: Client, days_ago: int, score: int, band: str) -> HealthSnapshot:
    return HealthSnapshot.objects.create(
        client=client, date=TODAY - days_ago * DAY, score=score, band=band
    )


@pytest.fixture
def frank(team):
    return UserFactory(username="frank", first_name="Frank", role=Role.ADVISOR, team=team)


@pytest.fixture
def outsider_manager(other_team):
    """Manages the other team only."""
    user = UserFactory(username="erin", first_name="Erin", role=Role.MANAGER, team=other_team)
    other_team.managers.add(user)
    return user


@pytest.fixture
def cast(team, other_team, advisor, other_advisor, frank) -> dict[str, Client]:
    """Four clients on `team` (two led by `advisor`, two by frank) and one on
    `other_team`. Cobalt's band is capped at strained despite its high score."""
    clients = {
        "acme": scored_client("Acme Holdings", lead=advisor, team=team, score=85, band="healthy"),
        "bolt": scored_client(
            "Bolt Logistics",
            lead=advisor,
            team=team,
            score=30,
            band="adversarial",
            sector="Logistics",
        ),
        "cobalt": scored_client(
            "Cobalt Foods", lead=frank, team=team, score=90, band="strained", sector="Food"
        ),
        "dynamo": scored_client(
            "Dynamo Retail", lead=frank, team=team, score=20, band="adversarial", sector="Retail"
        ),
        "initech": scored_client(
            "Initech",
            lead=other_advisor,
            team=other_team,
            score=10,
            band="adversarial",
            sector="Software",
        ),
    }
    # Disagreements in the last 90 days: Acme 3, Cobalt 2, Bolt 1, Dynamo 0 (one older).
    disagreements(clients["acme"], 3)
    disagreements(clients["cobalt"], 2)
    disagreements(clients["bolt"], 1)
    disagreements(clients["dynamo"], 1, occurred_on=TODAY - 120 * DAY)
    disagreements(clients["initech"], 2, topic=D.Topic.FEES)
    return clients


def board(client, user, query: str = ""):
    client.force_login(user)
    response = client.get(f"{BOARD}{query}")
    assert response.status_code == 200
    return response


def names(response) -> list[str]:
    return [c.name for c in response.context["page_obj"]]


def text(response) -> str:
    return html.unescape(response.content.decode())


def json_script(response, element_id: str):
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert found, f"no json_script {element_id}"
    return json.loads(found[1])


# --- /health/: scope -------------------------------------------------------------


def test_an_advisor_sees_only_their_own_clients(client, advisor, cast):
    response = board(client, advisor)

    assert names(response) == ["Bolt Logistics", "Acme Holdings"]
    page = text(response)
    for other in ("Cobalt Foods", "Dynamo Retail", "Initech"):
        assert other not in page


def test_a_manager_sees_only_the_teams_they_manage(client, manager, cast):
    response = board(client, manager)

    assert names(response) == ["Dynamo Retail", "Bolt Logistics", "Cobalt Foods", "Acme Holdings"]
    assert "Initech" not in text(response)


def test_an_admin_sees_every_client(client, admin, cast):
    response = board(client, admin)

    assert names(response) == [
        "Initech",
        "Dynamo Retail",
        "Bolt Logistics",
        "Cobalt Foods",
        "Acme Holdings",
    ]


def test_archived_clients_are_left_off_the_board(client, manager, cast):
    Client.objects.filter(pk=cast["bolt"].pk).update(is_archived=True)

    assert "Bolt Logistics" not in names(board(client, manager))


def test_the_charts_count_only_the_clients_in_scope(client, manager, cast):
    response = board(client, manager)

    charts = json_script(response, "board-charts")
    assert charts["topics"]["Fees & billing"] == 0  # Initech's are another team's
    assert charts["topics"]["Scope"] == 7
    assert sum(charts["tones"]["Tense"]) == 7


@pytest.mark.parametrize("ids_up_to", [0, 5000])  # the scope's subquery, a list of ids
def test_the_charts_and_tiles_are_the_same_read_either_way(
    client, manager, cast, monkeypatch, ids_up_to
):
    snapshot(cast["acme"], 40, 80, "healthy")
    snapshot(cast["dynamo"], 40, 25, "adversarial")
    monkeypatch.setattr(selectors, "IDS_UP_TO", ids_up_to)

    response = board(client, manager)

    assert json_script(response, "board-charts")["topics"]["Scope"] == 7
    assert sum(json_script(response, "board-charts")["tones"]["Tense"]) == 7
    tiles = {t["band"]: (t["count"], t["change"]) for t in response.context["tiles"]}
    assert tiles["adversarial"] == (2, 1)


# --- /health/: tiles ---------------------------------------------------------------


def test_the_tiles_count_each_band_and_the_change_since_30_days_ago(client, manager, cast):
    for key in ("acme", "bolt", "cobalt", "initech"):
        snapshot(cast[key], 40, 80, "healthy")
    snapshot(cast["dynamo"], 40, 25, "adversarial")
    # After the 30-day mark: not part of the "30 days ago" count.
    snapshot(cast["acme"], 20, 60, "strained")

    response = board(client, manager)

    tiles = {t["band"]: (t["count"], t["change"]) for t in response.context["tiles"]}
    assert tiles == {"healthy": (1, -2), "strained": (1, 1), "adversarial": (2, 1)}
    page = text(response)
    assert "-2 since 30 days ago" in page
    assert page.count("+1 since 30 days ago") == 2


def test_the_tiles_say_no_change_without_history(client, advisor, cast):
    response = board(client, advisor)

    tiles = {t["band"]: (t["count"], t["change"]) for t in response.context["tiles"]}
    assert tiles == {"healthy": (1, 1), "strained": (0, 0), "adversarial": (1, 1)}
    assert "no change since 30 days ago" in text(response)


# --- /health/: sorting ----------------------------------------------------------


def test_sorting_by_health(client, manager, cast):
    response = board(client, manager, "?o=health")

    assert names(response) == ["Dynamo Retail", "Bolt Logistics", "Acme Holdings", "Cobalt Foods"]


def test_sorting_by_recent_disagreements_descending(client, manager, cast):
    response = board(client, manager, "?o=-recent")

    assert names(response) == ["Acme Holdings", "Cobalt Foods", "Bolt Logistics", "Dynamo Retail"]
    recent = {c.name: c.disagreements_90d for c in response.context["page_obj"]}
    assert recent == {
        "Acme Holdings": 3,
        "Cobalt Foods": 2,
        "Bolt Logistics": 1,
        "Dynamo Retail": 0,
    }


def test_sorting_by_client_name_both_ways(client, manager, cast):
    ascending = names(board(client, manager, "?o=client"))

    assert ascending == sorted(ascending)
    assert names(board(client, manager, "?o=-client")) == ascending[::-1]


@pytest.mark.parametrize("query", ["?o=bogus", "?o=-", "?o=pk", "?o="])
def test_an_unknown_sort_keeps_the_default_order(client, manager, cast, query):
    response = board(client, manager, query)

    assert names(response) == ["Dynamo Retail", "Bolt Logistics", "Cobalt Foods", "Acme Holdings"]


def test_unscored_clients_come_last(client, manager, cast, frank, team):
    ClientFactory(name="Aardvark New", lead_advisor=frank, team=team)

    assert names(board(client, manager))[-1] == "Aardvark New"
    assert names(board(client, manager, "?o=health"))[-1] == "Aardvark New"


# --- /health/: filters ----------------------------------------------------------


def test_it_filters_by_team(client, admin, cast, other_team):
    response = board(client, admin, f"?team={other_team.pk}")

    assert names(response) == ["Initech"]
    assert NOTICE not in text(response)


def test_it_filters_by_lead_advisor(client, manager, cast, frank):
    assert names(board(client, manager, f"?lead_advisor={frank.pk}")) == [
        "Dynamo Retail",
        "Cobalt Foods",
    ]


def test_it_filters_by_sector(client, manager, cast):
    assert names(board(client, manager, "?sector=Food")) == ["Cobalt Foods"]


def test_it_filters_by_band(client, manager, cast):
    response = board(client, manager, "?band=adversarial")

    assert names(response) == ["Dynamo Retail", "Bolt Logistics"]
    assert NOTICE not in text(response)


@pytest.mark.parametrize(
    "query", ["?band=purple", "?team=999999", "?lead_advisor=abc", "?sector=Nowhere"]
)
def test_an_unknown_filter_value_shows_all_rows_and_says_so(client, manager, cast, query):
    response = board(client, manager, query)

    assert names(response) == ["Dynamo Retail", "Bolt Logistics", "Cobalt Foods", "Acme Holdings"]
    assert NOTICE in text(response)


def test_another_teams_id_is_unknown_and_shows_only_the_rows_in_scope(
    client, manager, cast, other_team
):
    response = board(client, manager, f"?team={other_team.pk}")

    assert "Initech" not in names(response)
    assert len(names(response)) == 4
    assert NOTICE in text(response)


# --- /health/: pagination, charts, query count ------------------------------------


def _team_clients(lead, team, count: int, *, rows: int = 0, snapshots: int = 0) -> None:
    for n in range(count):
        c = scored_client(
            f"Zeta {Client.objects.count():03d}",
            lead=lead,
            team=team,
            score=10 + n % 80,
            band=["healthy", "strained", "adversarial"][n % 3],
            sector=f"Sector {n % 4}",
        )
        disagreements(c, rows, decision=D.Decision.PROCEEDED, verdict=D.Verdict.MIXED)
        for i in range(snapshots):
            snapshot(c, 30 * i + 5, 50 + i, ["healthy", "strained", "adversarial"][i % 3])


def test_the_board_is_paginated(client, manager, frank, team):
    _team_clients(frank, team, PAGE_SIZE + 5)

    first = board(client, manager)
    second = board(client, manager, "?page=2")

    assert len(names(first)) == PAGE_SIZE
    assert len(names(second)) == 5
    assert not set(names(first)) & set(names(second))
    assert "Page 1 of 2" in text(first)
    assert f"Showing 1\u2013{PAGE_SIZE} of {PAGE_SIZE + 5} clients" in text(first)


def test_the_page_keeps_the_sort_and_filters(client, manager, frank, team):
    _team_clients(frank, team, PAGE_SIZE + 5)

    response = board(client, manager, "?o=-health&sector=Sector+1&page=1")

    scores = [c.health_score for c in response.context["page_obj"]]
    assert scores == sorted(scores, reverse=True)
    assert {c.sector for c in response.context["page_obj"]} == {"Sector 1"}


def test_the_query_count_does_not_grow_with_clients_and_disagreements(client, manager, frank, team):
    client.force_login(manager)
    _team_clients(frank, team, 5, rows=3, snapshots=3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(BOARD).status_code == 200

    _team_clients(frank, team, 35, rows=3, snapshots=3)
    for c in Client.objects.all()[:10]:
        band_override_set(
            c,
            by=manager,
            band=Band.HEALTHY,
            reason="Better than it looks.",
            expires_on=TODAY + 9 * DAY,
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(BOARD)

    assert len(names(response)) == PAGE_SIZE
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)


# At most this many at 5 and at 50 clients (the test above: the same at both),
# so that one more query per page or per row shows. 19 before the rollups (the
# charts took four GROUP BYs). A maximum, not an exact count: the queries every
# request pays (session, permissions) are being cut elsewhere.
BOARD_QUERIES = 16


@pytest.mark.parametrize("count", [5, 50])
def test_the_board_query_count_is_pinned(
    client, manager, frank, team, count, django_assert_max_num_queries
):
    _team_clients(frank, team, count, rows=3, snapshots=2)
    client.force_login(manager)
    client.get(BOARD)  # the session's first request of the minute also moves its expiry

    with django_assert_max_num_queries(BOARD_QUERIES):
        assert client.get(BOARD).status_code == 200


def test_the_chart_data_and_their_tables(client, manager, cast):
    snapshot(cast["bolt"], 40, 80, "healthy")
    snapshot(cast["bolt"], 3, 30, "adversarial")

    response = board(client, manager)

    charts = json_script(response, "board-charts")
    assert len(charts["months"]) == 12
    assert charts["months"][-1] == "2026-03-01"
    assert set(charts["bands"]) == {"Adversarial", "Strained", "Healthy"}
    assert charts["bands"]["Adversarial"][-1] == 1  # Bolt, from its snapshot this month
    assert charts["bands"]["Healthy"][-2] == 1  # Bolt in February
    for key in ("tones", "decisions", "verdicts", "topics", "quarters"):
        assert key in charts
    sparklines = json_script(response, "sparklines")
    assert set(sparklines) == {str(c.pk) for c in response.context["page_obj"]}
    assert sparklines[str(cast["bolt"].pk)][-2:] == [80, 30]

    page = text(response)
    for chart, caption in [
        ("bands", "Clients per band"),
        ("tones", "Disagreements by tone"),
        ("decisions", "Decisions per quarter"),
        ("verdicts", "Outcomes"),
        ("topics", "Topics"),
    ]:
        assert f'data-chart="{chart}" data-source="board-charts"' in page
        start = page.index(f'data-chart="{chart}"')
        table = page[start : page.index("</details>", start)]
        assert f"<summary>{caption} (table)</summary>" in table
        assert "<table" in table
    assert '<th scope="row">Scope</th><td>7</td>' in page


# --- /health/advisors/ ------------------------------------------------------------


@pytest.fixture
def logged(cast, advisor, frank, other_advisor) -> None:
    """Alice: 4 this year (1 pending, 2 overridden of which 1 vindicated, 1 accepted),
    plus one archived and one too old; Frank: 1 overridden, outcome pending;
    Bob (another team): 2."""
    proceeded = {
        "decision": D.Decision.PROCEEDED,
        "decided_on": TODAY - 5 * DAY,
        "risk_acknowledged": True,
    }
    # Start from none on `team`: the cast's rows were logged by whoever leads.
    D.objects.filter(client__team=cast["acme"].team).delete()
    acme, cobalt = cast["acme"], cast["cobalt"]
    disagreements(acme, 1, logged_by=advisor)
    disagreements(acme, 1, logged_by=advisor, verdict=D.Verdict.ADVICE_VINDICATED, **proceeded)
    disagreements(acme, 1, logged_by=advisor, verdict=D.Verdict.CLIENT_VINDICATED, **proceeded)
    disagreements(acme, 1, logged_by=advisor, decision=D.Decision.ACCEPTED)
    disagreements(acme, 1, logged_by=advisor, is_archived=True, **proceeded)
    disagreements(acme, 1, logged_by=advisor, occurred_on=TODAY - 400 * DAY, **proceeded)
    disagreements(cobalt, 1, logged_by=frank, **proceeded)
    D.objects.filter(client=cast["initech"]).update(logged_by=other_advisor)


def test_an_advisor_may_not_open_the_breakdown(client, advisor):
    client.force_login(advisor)

    assert client.get(BREAKDOWN).status_code == 403


def test_a_manager_sees_the_shares_of_the_advisors_in_scope(client, manager, logged, advisor):
    client.force_login(manager)

    response = client.get(BREAKDOWN)

    assert response.status_code == 200
    stats = {str(s.advisor): s for s in response.context["stats"]}
    assert set(stats) == {"Alice Tester", "Frank Tester"}
    alice, frank = stats["Alice Tester"], stats["Frank Tester"]
    assert (alice.logged, alice.decided, alice.overridden, alice.vindicated) == (4, 3, 2, 1)
    assert alice.open_items == 2  # the pending one and the accepted one awaiting its outcome
    assert (frank.logged, frank.decided, frank.overridden, frank.vindicated) == (1, 1, 1, 0)
    page = re.sub(r"\s+", " ", text(response))
    assert '67% <span class="small text-body-secondary">(2 of 3 decided)</span>' in page
    assert '50% <span class="small text-body-secondary">(1 of 2)</span>' in page
    assert '100% <span class="small text-body-secondary">(1 of 1 decided)</span>' in page
    assert '0% <span class="small text-body-secondary">(0 of 1)</span>' in page
    assert "Bob" not in page
    assert f"?advisor={advisor.pk}" in page


def test_an_admin_sees_every_advisor(client, admin, logged):
    client.force_login(admin)

    stats = client.get(BREAKDOWN).context["stats"]

    assert {str(s.advisor) for s in stats} == {"Alice Tester", "Frank Tester", "Bob Tester"}


def test_an_advisor_without_decisions_shows_a_dash(client, manager, cast, frank):
    D.objects.all().delete()
    disagreements(cast["cobalt"], 1, logged_by=frank)
    client.force_login(manager)

    response = client.get(BREAKDOWN)

    (stats,) = response.context["stats"]
    assert stats.overridden_share is None
    assert stats.vindicated_share is None
    assert "— <span" in text(response)


# --- Band overrides -------------------------------------------------------------


def override_url(client_record: Client, *, end: bool = False) -> str:
    return reverse("band-override-end" if end else "band-override", args=[client_record.pk])


def override_data(**fields) -> dict:
    return {
        "band": "adversarial",
        "reason": "They threatened to sue last week.",
        "expires_on": (TODAY + 30 * DAY).isoformat(),
        **fields,
    }


@pytest.fixture
def scored_acme(acme, dispute) -> Client:
    health_refresh(Client.objects.get(pk=acme.pk))
    acme.refresh_from_db()
    assert (acme.health_score, acme.health_band) == (86, "healthy")
    return acme


def test_a_manager_overrides_the_band(client, manager, scored_acme):
    client.force_login(manager)

    response = client.post(override_url(scored_acme), override_data())

    assert response.status_code == 302
    assert response.url == f"{scored_acme.get_absolute_url()}#health"
    override = BandOverride.objects.get()
    assert (override.client, override.band, override.set_by) == (
        scored_acme,
        "adversarial",
        manager,
    )
    assert override.expires_on == TODAY + 30 * DAY
    page = re.sub(r"\s+", " ", text(client.get(scored_acme.get_absolute_url())))
    assert "Manager's band: Adversarial" in page
    assert "They threatened to sue last week." in page
    # The computed score and band stay beside the override.
    assert '<p class="display-6 mb-1">86 ' in page
    assert '<span class="badge badge-band-healthy">Healthy</span>' in page
    scored_acme.refresh_from_db()
    assert scored_acme.health_band == "healthy"


def test_the_board_shows_the_override_beside_the_band(client, manager, scored_acme):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data())

    page = text(board(client, manager))

    assert "Manager: Adversarial" in page
    assert '<span class="badge badge-band-healthy">Healthy</span>' in page


def test_an_advisor_may_not_override_the_band(client, advisor, scored_acme):
    client.force_login(advisor)

    response = client.post(override_url(scored_acme), override_data())

    assert response.status_code == 403
    assert not BandOverride.objects.exists()


def test_a_manager_of_another_team_gets_404(client, outsider_manager, scored_acme):
    client.force_login(outsider_manager)

    response = client.post(override_url(scored_acme), override_data())

    assert response.status_code == 404
    assert not BandOverride.objects.exists()


@pytest.mark.parametrize("end", [False, True], ids=["override", "end"])
def test_get_is_not_allowed(client, manager, scored_acme, end):
    client.force_login(manager)

    assert client.get(override_url(scored_acme, end=end)).status_code == 405


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"reason": ""}, "This field is required."),
        ({"expires_on": (TODAY - DAY).isoformat()}, "The expiry date cannot be in the past."),
        ({"expires_on": "not a date"}, "Enter a valid date."),
        ({"band": "purple"}, "Select a valid choice."),
    ],
    ids=["no reason", "past expiry", "bad date", "unknown band"],
)
def test_bad_input_shows_the_error_and_saves_nothing(client, manager, scored_acme, fields, message):
    client.force_login(manager)

    response = client.post(override_url(scored_acme), override_data(**fields))

    assert response.status_code == 400
    assert message in text(response)
    assert "Override the band of Acme Holdings" in text(response)
    assert not BandOverride.objects.exists()


def test_a_blank_reason_is_refused(client, manager, scored_acme):
    client.force_login(manager)

    response = client.post(override_url(scored_acme), override_data(reason="   "))

    assert response.status_code == 400
    assert not BandOverride.objects.exists()


def test_a_refused_override_keeps_the_one_in_force(client, manager, scored_acme):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data(band="strained"))

    client.post(override_url(scored_acme), override_data(reason=""))

    assert list(BandOverride.objects.in_force().values_list("band", flat=True)) == ["strained"]


def test_a_manager_ends_the_override(client, manager, scored_acme):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data())

    response = client.post(override_url(scored_acme, end=True))

    assert response.status_code == 302
    assert response.url == f"{scored_acme.get_absolute_url()}#health"
    override = BandOverride.objects.get()
    assert override.ended_at is not None
    assert override.ended_by == manager
    assert "Manager's band" not in text(client.get(scored_acme.get_absolute_url()))


def test_an_advisor_may_not_end_an_override(client, manager, advisor, scored_acme):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data())
    client.force_login(advisor)

    assert client.post(override_url(scored_acme, end=True)).status_code == 403
    assert BandOverride.objects.in_force().exists()


def test_a_manager_of_another_team_may_not_end_an_override(
    client, manager, outsider_manager, scored_acme
):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data())
    client.force_login(outsider_manager)

    assert client.post(override_url(scored_acme, end=True)).status_code == 404
    assert BandOverride.objects.in_force().exists()


def test_an_expired_override_is_no_longer_shown(client, manager, scored_acme, time_machine):
    client.force_login(manager)
    client.post(override_url(scored_acme), override_data(expires_on=(TODAY + DAY).isoformat()))
    time_machine.move_to(datetime.datetime(2026, 3, 18, 10, tzinfo=ZoneInfo("Europe/London")))

    page = text(client.get(scored_acme.get_absolute_url()))

    assert "Manager's band" not in page


# --- The client page: "Why this score" -------------------------------------------


def why_this_score(page: str) -> str:
    start = page.index("Why this score")
    return page[start : page.index("</table>", start)]


def test_the_client_page_explains_the_score(client, advisor, acme, acme_engagement):
    big = DisagreementFactory(
        engagement=acme_engagement,
        title="Skipped the stock count",
        severity=D.Severity.CRITICAL,
        tone=D.Tone.HOSTILE,
        occurred_on=TODAY - 40 * DAY,
    )
    small = DisagreementFactory(
        engagement=acme_engagement, title="Fee query", severity=D.Severity.LOW
    )
    archived = DisagreementFactory(
        engagement=acme_engagement, title="Withdrawn complaint", is_archived=True
    )
    old = DisagreementFactory(
        engagement=acme_engagement, title="Ancient history", occurred_on=TODAY - 400 * DAY
    )
    health_refresh(Client.objects.get(pk=acme.pk))
    client.force_login(advisor)

    page = text(client.get(acme.get_absolute_url()))

    section = why_this_score(page)
    rows = re.findall(r'<a href="/disagreements/(\d+)/">(.*?)</a>', section)
    assert rows == [(str(big.pk), big.title), (str(small.pk), small.title)]  # largest first
    for record in (big, small):
        facts = Facts(*[getattr(record, f) for f in Facts.__dataclass_fields__])
        friction = scoring.contribution(facts, as_of=TODAY, weights=settings.CANDOR_HEALTH).friction
        assert f"{friction:.2f}</td>" in section
    assert archived.title not in section
    assert old.title not in section
    times = " \u00d7 "
    assert times.join(["Critical 8", "Hostile 2", "Pending 1", "Pending 1", "recency"]) in section
    acme.refresh_from_db()
    assert f'<p class="display-6 mb-1">{acme.health_score} ' in page


def test_the_client_page_without_friction_says_so(client, advisor, acme):
    client.force_login(advisor)

    page = text(client.get(acme.get_absolute_url()))

    assert "No disagreement in the last year weighs on this relationship." in page


def test_the_client_page_query_count_does_not_grow(client, advisor, manager, acme, acme_engagement):
    client.force_login(advisor)
    DisagreementFactory.create_batch(2, engagement=acme_engagement)
    snapshot(acme, 10, 80, "healthy")
    with CaptureQueriesContext(connection) as few:
        assert client.get(acme.get_absolute_url()).status_code == 200

    DisagreementFactory.create_batch(
        30, engagement=acme_engagement, decision=D.Decision.PROCEEDED, verdict=D.Verdict.MIXED
    )
    for days in range(20, 400, 30):
        snapshot(acme, days, 50, "strained")
    band_override_set(
        acme, by=manager, band=Band.HEALTHY, reason="Fine really.", expires_on=TODAY + DAY
    )
    with CaptureQueriesContext(connection) as many:
        page = text(client.get(acme.get_absolute_url()))

    assert page.count("/disagreements/") > 20
    assert len(many) == len(few), "\n".join(q["sql"] for q in many.captured_queries)


# --- The home page's board summary --------------------------------------------------


def home(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    return re.sub(r"\s+", " ", text(response))


def board_section(page: str) -> str:
    start = page.index('id="board-heading"')
    return page[start : page.index("</section>", start)]


@pytest.fixture
def turned(cast) -> None:
    """Bolt turned adversarial in the last 30 days; Dynamo already was; Initech
    (another team) turned too."""
    snapshot(cast["bolt"], 40, 80, "healthy")
    snapshot(cast["bolt"], 0, 30, "adversarial")
    snapshot(cast["dynamo"], 40, 25, "adversarial")
    snapshot(cast["initech"], 40, 90, "healthy")
    snapshot(cast["initech"], 2, 10, "adversarial")


def test_a_managers_home_shows_the_band_counts_of_their_teams(client, manager, turned):
    section = board_section(home(client, manager))

    for count, band in [(1, "healthy"), (1, "strained"), (2, "adversarial")]:
        assert (
            f'<span class="fs-3 fw-semibold text-body">{count}</span> '
            f'<span class="badge badge-band-{band}">{band.capitalize()}</span>'
        ) in section
    assert "Relationship health in your teams" in section
    assert f'href="{BOARD}"' in section


def test_a_managers_home_lists_the_clients_that_turned_adversarial(client, manager, turned):
    section = board_section(home(client, manager))

    listed = section[section.index("Clients turned adversarial in the last 30 days") :]
    assert "Bolt Logistics" in listed
    assert "Dynamo Retail" not in listed  # already adversarial 40 days ago
    assert "Initech" not in listed  # another team's


def test_a_client_adversarial_since_its_first_snapshot_counts_as_turned(
    client, manager, cast, frank, team
):
    newcomer = scored_client("Newcomer Ltd", lead=frank, team=team, score=15, band="adversarial")
    snapshot(newcomer, 10, 15, "adversarial")

    section = board_section(home(client, manager))

    assert "Newcomer Ltd" in section[section.index("Clients turned adversarial") :]


def test_turned_adversarial_agrees_with_the_tiles_on_the_30th_day(client, manager, cast):
    # Bolt was adversarial by the 30th day back (the tile counts it so); Cobalt
    # turned the day after. Both were healthy 40 days ago.
    Client.objects.filter(pk=cast["cobalt"].pk).update(health_band="adversarial")
    for key in ("bolt", "cobalt"):
        snapshot(cast[key], 40, 80, "healthy")
    snapshot(cast["bolt"], 30, 30, "adversarial")
    snapshot(cast["cobalt"], 29, 30, "adversarial")

    section = board_section(home(client, manager))
    tiles = {t["band"]: t["change"] for t in board(client, manager).context["tiles"]}

    listed = section[section.index("Clients turned adversarial") :]
    assert "Cobalt Foods" in listed
    assert "Bolt Logistics" not in listed
    assert tiles["adversarial"] == 3 - 1  # Bolt, Cobalt, Dynamo now; Bolt then


def test_an_advisors_home_has_no_board_section(client, advisor, turned):
    page = home(client, advisor)

    assert 'id="board-heading"' not in page
    assert "turned adversarial" not in page


def test_an_admins_home_links_the_letgo_queue(client, admin, turned):
    section = board_section(home(client, admin))

    assert f'href="{reverse("letgo-list")}">Let-go queue</a>' in section
    assert "Initech" in section[section.index("Clients turned adversarial") :]


def test_a_managers_home_has_no_letgo_queue_link(client, manager, turned):
    assert "Let-go queue" not in home(client, manager)
