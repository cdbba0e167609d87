"""The health board's rollups (advisory/health/rollups.py): the per-client counts and
monthly chart counts stay equal to what counting the log gives, after every
kind of write, after the nightly run and after a rebuild."""

from __future__ import annotations

import datetime
import random
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import Count
from django.db.models.functions import TruncMonth, TruncQuarter
from django.urls import reverse

from advisory.health import rollups, selectors
from advisory.models import Client, ClientMonth, ClientStats, Disagreement
from advisory.records.services import (
    disagreement_amend,
    disagreement_log,
    disagreement_mark_reviewed,
    disagreement_record_decision,
    disagreement_record_outcome,
)
from advisory.records.versioning import record_save, record_set_archived
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
D = Disagreement


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


# --- The oracles: counting the log directly, as the board did before ---------------


def activity_from_the_log(disagreements, *, today: datetime.date) -> dict:
    """selectors.activity as it was before the rollups: four GROUP BYs over the log."""
    months = selectors.months_back(today)
    recent = disagreements.filter(occurred_on__gte=months[0], is_archived=False)
    by_tone = {
        (row["month"], row["tone"]): row["n"]
        for row in recent.annotate(month=TruncMonth("occurred_on"))
        .values("month", "tone")
        .annotate(n=Count("pk"))
        .order_by()
    }
    quarters = sorted({selectors._quarter(m) for m in months})
    by_decision = {
        (row["quarter"], row["decision"]): row["n"]
        for row in recent.exclude(decision=D.Decision.PENDING)
        .annotate(quarter=TruncQuarter("occurred_on"))
        .values("quarter", "decision")
        .annotate(n=Count("pk"))
        .order_by()
    }
    verdicts = Counter(
        dict(
            recent.exclude(verdict=D.Verdict.PENDING)
            .values_list("verdict")
            .annotate(n=Count("pk"))
            .order_by()
        )
    )
    topics = Counter(dict(recent.values_list("topic").annotate(n=Count("pk")).order_by()))
    decisions = [c for c in D.Decision if c != D.Decision.PENDING]
    return {
        "months": [m.isoformat() for m in months],
        "tones": {t.label: [by_tone.get((m, t.value), 0) for m in months] for t in D.Tone},
        "quarters": [f"{q.year} Q{(q.month - 1) // 3 + 1}" for q in quarters],
        "decisions": {
            d.label: [by_decision.get((q, d.value), 0) for q in quarters] for d in decisions
        },
        "verdicts": {
            v.label: verdicts.get(v.value, 0) for v in D.Verdict if v != D.Verdict.PENDING
        },
        "topics": {t.label: topics.get(t.value, 0) for t in D.Topic},
    }


def months_from_the_log(client: Client) -> dict[datetime.date, dict[str, int]]:
    """What ClientMonth should hold for a client, counted in Python."""
    months: dict[datetime.date, Counter] = {}
    for d in D.objects.filter(client=client, is_archived=False):
        counts = months.setdefault(d.occurred_on.replace(day=1), Counter())
        counts["total"] += 1
        for field in ("tone", "decision", "verdict", "topic"):
            counts[f"{field}_{getattr(d, field)}"] += 1
    return {
        month: {field: counts[field] for field in rollups.COUNT_FIELDS}
        for month, counts in months.items()
    }


def stored_months(client: Client) -> dict[datetime.date, dict[str, int]]:
    return {
        row["month"]: {field: row[field] for field in rollups.COUNT_FIELDS}
        for row in ClientMonth.objects.filter(client=client).values()
    }


def stats_from_the_log(client: Client, *, today: datetime.date = TODAY) -> tuple[int, int]:
    """The board's two columns as with_board_columns counted them before."""
    active = D.objects.filter(client=client, is_archived=False)
    return (
        active.filter(occurred_on__gt=today - 90 * DAY).count(),
        active.filter(decision=D.Decision.PROCEEDED, occurred_on__gte=today - 365 * DAY).count(),
    )


def stored_stats(client: Client) -> tuple[int, int]:
    stats = ClientStats.objects.filter(client=client).first()
    return (stats.disagreements_90d, stats.overridden_recent) if stats else (0, 0)


def assert_in_step(client: Client) -> None:
    assert stored_months(client) == months_from_the_log(client)
    assert stored_stats(client) == stats_from_the_log(client)


# --- A varied firm --------------------------------------------------------------


def varied_firm(count: int = 6, per_client: int = 40, seed: int = 8) -> list[Client]:
    """Clients with disagreements over 20 months (some archived, some older than
    the charts' window), every tone, decision, verdict and topic."""
    rng = random.Random(seed)
    clients = []
    for i in range(count):
        client = ClientFactory(name=f"Varied {i}")
        engagement = EngagementFactory(client=client)
        for _ in range(per_client):
            occurred = TODAY - rng.randint(0, 600) * DAY
            decision = rng.choice(D.Decision.values)
            verdict = D.Verdict.PENDING
            if decision in D.DECISIONS_WITH_OUTCOME:
                verdict = rng.choice(D.Verdict.values)
            DisagreementFactory(
                engagement=engagement,
                occurred_on=occurred,
                tone=rng.choice(D.Tone.values),
                topic=rng.choice(D.Topic.values),
                decision=decision,
                decided_on=None if decision == D.Decision.PENDING else occurred,
                verdict=verdict,
                is_archived=rng.random() < 0.1,
            )
        clients.append(client)
    return clients


def test_every_choice_has_a_column():
    fields = {f.name for f in ClientMonth._meta.get_fields()}
    assert {column for column, _, _ in rollups.COLUMNS} <= fields
    counted = {f for f in fields if f.split("_", 1)[0] in {"tone", "decision", "verdict", "topic"}}
    assert counted == {column for column, _, _ in rollups.COLUMNS}


def test_the_charts_from_the_rollups_equal_the_charts_from_the_log():
    clients = varied_firm()
    some = Client.objects.filter(pk__in=[c.pk for c in clients[:3]])

    for scope in (Client.objects.all(), some, Client.objects.none()):
        expected = activity_from_the_log(D.objects.filter(client__in=scope), today=TODAY)
        assert selectors.activity(scope, today=TODAY) == expected
    # A nonzero comparison: the data set reaches every chart.
    charts = selectors.activity(Client.objects.all(), today=TODAY)
    assert all(sum(v) for v in charts["tones"].values())
    assert all(charts["verdicts"].values())


def test_the_charts_agree_on_another_day(time_machine):
    varied_firm(count=3)
    later = TODAY + 50 * DAY  # the window now starts in another quarter's middle
    time_machine.move_to(datetime.datetime(2026, 5, 5, 10, tzinfo=ZoneInfo("Europe/London")))

    expected = activity_from_the_log(D.objects.all(), today=later)
    assert selectors.activity(Client.objects.all(), today=later) == expected


def test_the_rebuild_restores_what_the_writes_kept():
    clients = varied_firm(count=3)
    kept = {c.pk: (stored_months(c), stored_stats(c)) for c in clients}
    ClientMonth.objects.filter(client=clients[0]).delete()
    ClientMonth.objects.filter(client=clients[1]).update(total=999, tone_hostile=0)
    ClientStats.objects.filter(client=clients[2]).update(disagreements_90d=42)

    call_command("recompute_health", "--rollups", verbosity=0)

    for client in clients:
        assert (stored_months(client), stored_stats(client)) == kept[client.pk]
        assert_in_step(client)


# --- Each kind of write keeps them in step -----------------------------------------


@pytest.fixture
def acme_log(acme_engagement) -> list[Disagreement]:
    return [
        DisagreementFactory(engagement=acme_engagement, occurred_on=TODAY - days * DAY)
        for days in (3, 40, 100, 200)
    ]


def test_logging_counts_the_new_disagreement(acme, acme_engagement, advisor, acme_log):
    disagreement_log(
        DisagreementFactory.build(
            engagement=acme_engagement, occurred_on=TODAY - 2 * DAY, tone=D.Tone.HOSTILE
        ),
        by=advisor,
    )

    assert_in_step(acme)
    assert stored_months(acme)[TODAY.replace(day=1)]["tone_hostile"] == 1
    assert stored_stats(acme) == (3, 0)


def test_a_first_disagreement_creates_the_rows(acme, acme_engagement, advisor):
    assert not ClientStats.objects.filter(client=acme).exists()

    disagreement_log(DisagreementFactory.build(engagement=acme_engagement), by=advisor)

    assert_in_step(acme)
    assert stored_stats(acme) == (1, 0)


def test_decision_and_outcome_move_the_counts(acme, advisor, manager, acme_log):
    dispute = acme_log[1]
    dispute.decision = D.Decision.PROCEEDED
    dispute.decided_on = TODAY - DAY
    disagreement_record_decision(dispute, by=advisor, expected_version=dispute.version)
    assert_in_step(acme)
    assert stored_stats(acme) == (2, 1)

    dispute.verdict = D.Verdict.ADVICE_VINDICATED
    dispute.outcome = "The stock count was needed after all."
    disagreement_record_outcome(dispute, by=manager, expected_version=dispute.version)
    assert_in_step(acme)
    assert stored_months(acme)[dispute.occurred_on.replace(day=1)]["verdict_advice_vindicated"] == 1


def test_an_edit_that_moves_the_date_recounts_both_months(acme, advisor, acme_log):
    dispute = acme_log[0]
    old_month = dispute.occurred_on.replace(day=1)
    dispute.occurred_on = TODAY - 300 * DAY
    dispute.topic = D.Topic.ETHICS
    record_save(dispute, by=advisor, reason="Wrong date", expected_version=dispute.version)

    assert_in_step(acme)
    assert stored_months(acme).get(old_month, {}).get("total", 0) == 0
    assert stored_stats(acme) == (1, 0)


def test_an_amendment_of_date_and_tone_recounts(acme, advisor, manager, acme_log):
    dispute = acme_log[0]
    disagreement_mark_reviewed(dispute, by=manager, expected_version=dispute.version)
    dispute.refresh_from_db()
    disagreement_amend(
        dispute,
        by=advisor,
        field="tone",
        new_value="hostile",
        reason="Misheard",
        expected_version=dispute.version,
    )
    assert_in_step(acme)
    disagreement_amend(
        dispute,
        by=advisor,
        field="occurred_on",
        new_value=(TODAY - 95 * DAY).isoformat(),
        reason="Wrong day",
        expected_version=dispute.version,
    )

    assert_in_step(acme)
    assert stored_stats(acme) == (1, 0)


def test_archive_and_restore(acme, advisor, acme_log):
    dispute = acme_log[0]
    month = dispute.occurred_on.replace(day=1)
    record_set_archived(dispute, by=advisor, archived=True, expected_version=dispute.version)
    assert_in_step(acme)
    assert month not in stored_months(acme)  # the month's only one: the row goes
    assert stored_stats(acme) == (1, 0)

    dispute.refresh_from_db()
    record_set_archived(dispute, by=advisor, archived=False, expected_version=dispute.version)
    assert_in_step(acme)
    assert stored_months(acme)[month]["total"] == 1


def test_a_months_recount_is_one_query_and_one_more_for_an_emptied_month(
    acme, acme_log, django_assert_num_queries
):
    emptied, kept = acme_log[0], acme_log[1]  # each alone in its month
    with django_assert_num_queries(1):
        rollups.months_refresh(acme.pk, [emptied.occurred_on, kept.occurred_on])
    assert_in_step(acme)

    D.objects.filter(pk=emptied.pk).update(is_archived=True)  # not recounted yet
    with django_assert_num_queries(2):
        rollups.months_refresh(acme.pk, [emptied.occurred_on, kept.occurred_on])

    assert stored_months(acme) == months_from_the_log(acme)
    assert emptied.occurred_on.replace(day=1) not in stored_months(acme)
    assert stored_months(acme)[kept.occurred_on.replace(day=1)]["total"] == 1


def test_the_nightly_run_moves_the_windows(acme, acme_engagement, time_machine):
    DisagreementFactory(engagement=acme_engagement, occurred_on=TODAY - 85 * DAY)
    DisagreementFactory(
        engagement=acme_engagement,
        occurred_on=TODAY - 360 * DAY,
        decision=D.Decision.PROCEEDED,
        decided_on=TODAY - 360 * DAY,
    )
    assert stored_stats(acme) == (1, 1)
    time_machine.move_to(datetime.datetime(2026, 3, 26, 10, tzinfo=ZoneInfo("Europe/London")))

    call_command("recompute_health", verbosity=0)

    assert stored_stats(acme) == (0, 0) == stats_from_the_log(acme, today=TODAY + 10 * DAY)
    assert ClientStats.objects.get(client=acme).updated_on == TODAY + 10 * DAY


def test_the_board_shows_the_stored_counts(client, manager, acme, acme_log):
    client.force_login(manager)
    response = client.get(reverse("health-board"))

    row = next(c for c in response.context["page_obj"] if c.pk == acme.pk)
    assert (row.disagreements_90d, row.overridden) == stats_from_the_log(acme) == (2, 0)
