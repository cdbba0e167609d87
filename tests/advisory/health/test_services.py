"""Relationship health kept with the records: every write path refreshes the
client's stored score, snapshots record the days it changed, the nightly
`recompute_health` command is idempotent, and band overrides lapse by themselves.

The recipe itself is tested without a database in test_score.py; here the
expected numbers come from `advisory.health.score` over the client's active
disagreements, read straight from the database.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from advisory.health import score as scoring
from advisory.health import services as health_services
from advisory.health.score import Facts
from advisory.health.services import band_override_end, band_override_set, health_refresh
from advisory.models import (
    Band,
    BandOverride,
    Client,
    ClientMonth,
    ClientStats,
    Disagreement,
    Engagement,
    HealthSnapshot,
)
from advisory.records.services import (
    disagreement_amend,
    disagreement_log,
    disagreement_mark_reviewed,
    disagreement_record_decision,
    disagreement_record_outcome,
)
from advisory.records.versioning import EditConflict, record_save, record_set_archived
from tests.concurrency import postgresql_only, wait_until_another_waits
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory
from tests.records import fresh

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
TODAY = datetime.date(2026, 3, 16)
DAY = datetime.timedelta(days=1)
FACTS = ["id", "title", "occurred_on", "severity", "tone", "decision", "verdict"]
D = Disagreement


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=LONDON))


def travel(time_machine, day: datetime.date) -> None:
    time_machine.move_to(datetime.datetime.combine(day, datetime.time(10), tzinfo=LONDON))


def expected(client: Client, *, as_of: datetime.date = TODAY) -> tuple[int, str, int]:
    """(score, band, trend) from the recipe over the client's active disagreements."""
    rows = D.objects.filter(client=client, is_archived=False).values_list(*FACTS)
    facts = [Facts(*row) for row in rows]
    now = scoring.score(facts, as_of=as_of, weights=settings.CANDOR_HEALTH)
    then = scoring.score(facts, as_of=as_of - 90 * DAY, weights=settings.CANDOR_HEALTH)
    return now.score, now.band, now.score - then.score


def stored(client: Client) -> tuple[int | None, str, int | None]:
    fresh = Client.objects.get(pk=client.pk)
    return fresh.health_score, fresh.health_band, fresh.health_trend


def snapshots(client: Client | None = None) -> list[tuple]:
    rows = HealthSnapshot.objects.order_by("client_id", "date")
    if client is not None:
        rows = rows.filter(client=client)
    return list(rows.values_list("client_id", "date", "score", "band", "components"))


def recompute(*args: str) -> str:
    out = StringIO()
    call_command("recompute_health", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def scored(acme, dispute) -> Client:
    """Acme with its pending, moderate, tense dispute (10 days old), scored today."""
    health_refresh(Client.objects.get(pk=acme.pk))
    assert stored(acme) == expected(acme)
    assert stored(acme)[0] == 86
    return acme


# --- Every write path refreshes the stored health --------------------------------


def _log(dispute, advisor, manager) -> None:
    new = DisagreementFactory.build(
        engagement=dispute.engagement,
        occurred_on=TODAY - 2 * DAY,
        severity=D.Severity.HIGH,
        tone=D.Tone.HOSTILE,
    )
    disagreement_log(new, by=advisor)


def _edit(field: str, value: str) -> Callable:
    def edit(dispute, advisor, manager) -> None:
        record = fresh(dispute)
        setattr(record, field, value)
        record_save(record, by=advisor, reason="Corrected", expected_version=record.version)

    return edit


def _archive(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    record_set_archived(record, by=advisor, archived=True, expected_version=record.version)


def _restore(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    record_set_archived(record, by=advisor, archived=False, expected_version=record.version)


def _proceeded(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    record.decision = D.Decision.PROCEEDED
    record.decided_on = TODAY - DAY
    record.risk_acknowledged = True
    record.acknowledged_on = TODAY - DAY
    record.acknowledgment_method = D.AcknowledgmentMethod.EMAIL
    record.client_words = "We understand the risk and proceed anyway."
    disagreement_record_decision(record, by=advisor, expected_version=record.version)


def _advice_vindicated(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    record.verdict = D.Verdict.ADVICE_VINDICATED
    record.outcome = "The auditors qualified the accounts, as we warned."
    disagreement_record_outcome(record, by=advisor, expected_version=record.version)


def _review(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    disagreement_mark_reviewed(record, by=manager, expected_version=record.version)


def _amend_severity(dispute, advisor, manager) -> None:
    record = fresh(dispute)
    disagreement_amend(
        record,
        by=manager,
        field="severity",
        new_value=D.Severity.CRITICAL,
        reason="Misheard on the call",
        expected_version=record.version,
    )


# (name, what happens before, the write under test)
WRITE_PATHS = [
    ("log", None, _log),
    ("edit severity", None, _edit("severity", D.Severity.CRITICAL)),
    ("edit tone", None, _edit("tone", D.Tone.HOSTILE)),
    ("archive", None, _archive),
    ("restore", _archive, _restore),
    ("decision", None, _proceeded),
    ("outcome", _proceeded, _advice_vindicated),
    ("amend", _review, _amend_severity),
]


@pytest.mark.parametrize(
    "prepare, write", [p[1:] for p in WRITE_PATHS], ids=[p[0] for p in WRITE_PATHS]
)
def test_every_write_path_stores_the_recomputed_health(
    scored, dispute, advisor, manager, prepare, write
):
    if prepare:
        prepare(dispute, advisor, manager)
    before = stored(scored)
    assert before == expected(scored)

    write(dispute, advisor, manager)

    assert stored(scored) == expected(scored)
    assert stored(scored)[0] != before[0]  # the write moved the score
    # Today's snapshot says the same as the client.
    today = HealthSnapshot.objects.get(client=scored, date=TODAY)
    assert (today.score, today.band) == stored(scored)[:2]


@pytest.mark.parametrize(
    "prepare, write", [p[1:] for p in WRITE_PATHS], ids=[p[0] for p in WRITE_PATHS]
)
def test_every_write_path_saves_the_record_and_its_health_in_one_transaction(
    scored, dispute, advisor, manager, prepare, write, monkeypatch
):
    if prepare:
        prepare(dispute, advisor, manager)
    records = list(D.objects.order_by("pk").values())
    health_before, snaps_before = stored(scored), snapshots()

    def fail(*args, **kwargs):
        raise RuntimeError("the snapshot could not be written")

    monkeypatch.setattr(health_services, "_snapshot", fail)
    with pytest.raises(RuntimeError):
        write(dispute, advisor, manager)

    # The health update failed, so the record's change was rolled back with it.
    assert list(D.objects.order_by("pk").values()) == records
    assert stored(scored) == health_before
    assert snapshots() == snaps_before


def test_the_first_disagreement_scores_a_client_never_scored(acme_engagement, advisor):
    acme = acme_engagement.client
    assert stored(acme) == (None, "", None)

    disagreement_log(DisagreementFactory.build(engagement=acme_engagement), by=advisor)

    assert stored(acme) == expected(acme) == (86, Band.HEALTHY, -14)
    assert Client.objects.get(pk=acme.pk).health_updated_at is not None


def test_a_critical_hostile_disagreement_caps_the_stored_band(scored, dispute, advisor, manager):
    _log(dispute, advisor, manager)
    record = fresh(dispute)
    record.severity, record.tone = D.Severity.CRITICAL, D.Tone.HOSTILE
    record_save(record, by=advisor, expected_version=record.version)

    score, band, _trend = stored(scored)
    assert band == Band.ADVERSARIAL == expected(scored)[1]
    assert score == expected(scored)[0]


def test_a_health_refresh_does_not_version_the_client(scored, dispute, advisor, manager):
    version = Client.objects.get(pk=scored.pk).version
    history = scored.history.count()

    _log(dispute, advisor, manager)

    assert Client.objects.get(pk=scored.pk).version == version
    assert scored.history.count() == history


def test_two_edits_loaded_at_the_same_time_store_the_right_health(
    scored, dispute, acme_engagement, advisor
):
    # Two people edit two disagreements of one client; each request loaded its
    # disagreement (and the client with it) before the other one saved.
    other = DisagreementFactory(engagement=acme_engagement, severity=D.Severity.HIGH)
    health_refresh(Client.objects.get(pk=scored.pk))
    baseline = stored(scored)
    mine, theirs = fresh(dispute), fresh(other)
    mine.client, theirs.client  # noqa: B018 -- loaded with the form, as the views do

    mine.severity = D.Severity.HIGH
    record_save(mine, by=advisor, expected_version=mine.version)
    theirs.severity = D.Severity.MODERATE
    record_save(theirs, by=advisor, expected_version=theirs.version)

    # The two changes cancel out: the client is back where it started.
    assert expected(scored) == baseline
    assert stored(scored) == expected(scored)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_log_that_waited_for_another_on_the_client_builds_on_what_it_stored():
    advisor = UserFactory(role="")
    engagement = EngagementFactory(client=ClientFactory(lead_advisor=advisor))
    failed = []

    def log_meanwhile() -> None:
        try:
            loaded = Engagement.objects.select_related("client").get(pk=engagement.pk)
            new = DisagreementFactory.build(engagement=loaded, severity=D.Severity.HIGH)
            disagreement_log(new, by=advisor)
        except Exception as exc:  # reported below
            failed.append(exc)
        finally:
            connection.close()

    with transaction.atomic():
        # The client's first disagreement: its first snapshot, counts and month.
        disagreement_log(DisagreementFactory.build(engagement=engagement), by=advisor)
        other = threading.Thread(target=log_meanwhile)
        other.start()
        wait_until_another_waits("the other log")  # its query began before this commits

    other.join()
    assert failed == []
    acme = Client.objects.get(pk=engagement.client_id)
    assert stored(acme) == expected(acme)
    [(_, day, score, band, components)] = snapshots(acme)  # the first log's, updated
    assert (day, score, band) == (TODAY, acme.health_score, acme.health_band)
    assert components["contributors"] == 2
    assert ClientStats.objects.get(client=acme).disagreements_90d == 2
    assert ClientMonth.objects.get(client=acme).total == 2


# --- A failed save leaves health as it was ---------------------------------------


def _unchanged(client: Client, health_before: tuple, snaps_before: list) -> None:
    assert stored(client) == health_before
    assert snapshots() == snaps_before


def test_a_save_refused_by_validation_leaves_health_unchanged(scored, dispute, advisor):
    health_before, snaps_before = stored(scored), snapshots()
    record = fresh(dispute)
    record.severity = D.Severity.CRITICAL
    record.occurred_on = TODAY + DAY

    with pytest.raises(ValidationError) as exc:
        record_save(record, by=advisor, expected_version=record.version)

    assert "occurred_on" in exc.value.message_dict
    assert fresh(dispute).severity == D.Severity.MODERATE
    _unchanged(scored, health_before, snaps_before)


def test_a_log_refused_by_validation_leaves_health_unchanged(scored, acme_engagement, advisor):
    health_before, snaps_before = stored(scored), snapshots()
    new = DisagreementFactory.build(
        engagement=acme_engagement, severity=D.Severity.CRITICAL, title=""
    )

    with pytest.raises(ValidationError):
        disagreement_log(new, by=advisor)

    assert D.objects.count() == 1
    _unchanged(scored, health_before, snaps_before)


def test_an_edit_conflict_leaves_health_unchanged(scored, dispute, advisor):
    mine, theirs = fresh(dispute), fresh(dispute)
    theirs.rationale = "Someone else got there first."
    record_save(theirs, by=advisor, expected_version=theirs.version)
    health_before, snaps_before = stored(scored), snapshots()
    mine.severity = D.Severity.CRITICAL

    with pytest.raises(EditConflict):
        record_save(mine, by=advisor, expected_version=mine.version)

    assert fresh(dispute).severity == D.Severity.MODERATE
    _unchanged(scored, health_before, snaps_before)


def test_an_outcome_before_the_decision_leaves_health_unchanged(scored, dispute, advisor):
    health_before, snaps_before = stored(scored), snapshots()
    record = fresh(dispute)
    record.verdict = D.Verdict.ADVICE_VINDICATED
    record.outcome = "It went wrong."

    with pytest.raises(ValidationError) as exc:
        disagreement_record_outcome(record, by=advisor, expected_version=record.version)

    assert "verdict" in exc.value.message_dict
    _unchanged(scored, health_before, snaps_before)


def test_an_amendment_conflict_leaves_health_unchanged(scored, dispute, advisor, manager):
    _review(dispute, advisor, manager)
    health_before, snaps_before = stored(scored), snapshots()
    record = fresh(dispute)

    with pytest.raises(EditConflict):
        disagreement_amend(
            record,
            by=manager,
            field="severity",
            new_value=D.Severity.CRITICAL,
            reason="Misheard",
            expected_version=record.version - 1,
        )

    assert fresh(dispute).severity == D.Severity.MODERATE
    _unchanged(scored, health_before, snaps_before)


def test_a_locked_fact_edited_without_an_amendment_leaves_health_unchanged(
    scored, dispute, advisor, manager
):
    _review(dispute, advisor, manager)
    health_before, snaps_before = stored(scored), snapshots()
    record = fresh(dispute)
    record.tone = D.Tone.HOSTILE

    with pytest.raises(ValidationError) as exc:
        record_save(record, by=advisor, expected_version=record.version)

    assert "tone" in exc.value.message_dict
    _unchanged(scored, health_before, snaps_before)


# --- Snapshots: one row per client per day it changed -----------------------------


def test_changes_on_one_day_keep_one_snapshot_with_the_latest_health(
    scored, dispute, advisor, manager
):
    _log(dispute, advisor, manager)
    _edit("tone", D.Tone.COLLABORATIVE)(dispute, advisor, manager)

    (snapshot,) = HealthSnapshot.objects.filter(client=scored)
    assert snapshot.date == TODAY
    assert (snapshot.score, snapshot.band) == stored(scored)[:2]
    assert snapshot.components["contributors"] == 2


def test_a_save_that_does_not_move_the_score_writes_no_snapshot(scored, dispute, advisor):
    snaps_before = snapshots(scored)

    _edit("rationale", "Reworded the rationale.")(dispute, advisor, None)

    assert snapshots(scored) == snaps_before
    assert len(snaps_before) == 1


def test_a_day_without_change_writes_no_snapshot(time_machine, acme):
    # No disagreement: 100 today, 100 tomorrow.
    health_refresh(Client.objects.get(pk=acme.pk))
    travel(time_machine, TODAY + DAY)

    assert health_refresh(Client.objects.get(pk=acme.pk)) is False

    assert [(s[1], s[2]) for s in snapshots(acme)] == [(TODAY, 100)]


def test_a_change_on_a_later_day_adds_that_days_snapshot(
    time_machine, scored, dispute, advisor, manager
):
    travel(time_machine, TODAY + DAY)

    _log(dispute, advisor, manager)

    assert [s[1] for s in snapshots(scored)] == [TODAY, TODAY + DAY]
    assert snapshots(scored)[-1][2:4] == stored(scored)[:2]


def test_a_change_undone_the_same_day_leaves_no_snapshot_for_that_day(
    time_machine, scored, dispute, advisor, manager
):
    travel(time_machine, TODAY + DAY)
    _edit("severity", D.Severity.CRITICAL)(dispute, advisor, manager)
    assert len(snapshots(scored)) == 2
    score_yesterday = snapshots(scored)[0][2]

    _edit("severity", D.Severity.MODERATE)(dispute, advisor, manager)

    # Back to yesterday's score: nothing changed on this day after all.
    assert [(s[1], s[2]) for s in snapshots(scored)] == [(TODAY, score_yesterday)]
    assert stored(scored) == expected(scored, as_of=TODAY + DAY)


# --- The recompute_health command -------------------------------------------------


@pytest.fixture
def three_clients(acme, dispute, other_advisor):
    """Acme (one tense dispute), Initech (a critical hostile row) and Globex (none),
    created without the services so none is scored yet."""
    initech = EngagementFactory(client=ClientFactory(name="Initech", lead_advisor=other_advisor))
    DisagreementFactory(
        engagement=initech,
        severity=D.Severity.CRITICAL,
        tone=D.Tone.HOSTILE,
        occurred_on=TODAY - 5 * DAY,
    )
    globex = ClientFactory(name="Globex", lead_advisor=other_advisor)
    return [acme, initech.client, globex]


def _state() -> list[tuple]:
    return list(
        Client.objects.order_by("pk").values_list(
            "pk", "health_score", "health_band", "health_trend", "health_updated_at"
        )
    )


def test_recompute_scores_every_client(three_clients):
    output = recompute()

    assert "Health recomputed for 3 clients; 3 changed." in output
    for client in three_clients:
        assert stored(client) == expected(client)
        assert HealthSnapshot.objects.filter(client=client, date=TODAY).count() == 1
    assert stored(three_clients[1])[1] == Band.ADVERSARIAL
    assert stored(three_clients[2])[:2] == (100, Band.HEALTHY)


def test_recompute_twice_changes_nothing_the_second_time(three_clients):
    recompute()
    state, snaps = _state(), snapshots()

    output = recompute()

    assert "Health recomputed for 3 clients; 0 changed." in output
    assert _state() == state
    assert snapshots() == snaps
    assert HealthSnapshot.objects.count() == 3


def test_scores_decay_with_time(time_machine, scored):
    score_before = stored(scored)[0]
    later = TODAY + 60 * DAY
    travel(time_machine, later)

    output = recompute()

    assert "1 changed" in output
    assert stored(scored)[0] > score_before
    assert stored(scored) == expected(scored, as_of=later)
    assert [s[1] for s in snapshots(scored)] == [TODAY, later]


def test_as_of_a_past_date_writes_only_that_days_snapshot(scored, acme_engagement):
    DisagreementFactory(
        engagement=acme_engagement, occurred_on=TODAY - 100 * DAY, severity=D.Severity.HIGH
    )
    recompute()
    client_before = _state()
    snaps_before = snapshots(scored)
    past = TODAY - 50 * DAY

    output = recompute("--as-of", past.isoformat())

    assert "1 changed" in output
    assert _state() == client_before  # the stored fields describe today
    snap = HealthSnapshot.objects.get(client=scored, date=past)
    assert (snap.score, snap.band) == expected(scored, as_of=past)[:2]
    assert snapshots(scored) == [
        (scored.pk, past, snap.score, snap.band, snap.components),
        *snaps_before,
    ]


def test_as_of_in_the_future_is_refused(scored):
    state, snaps = _state(), snapshots()

    with pytest.raises(CommandError, match="future"):
        recompute("--as-of", (TODAY + DAY).isoformat())

    assert _state() == state
    assert snapshots() == snaps


def test_an_unknown_client_is_refused(three_clients):
    with pytest.raises(CommandError, match="No client with id 999999"):
        recompute("--client", "999999")

    assert HealthSnapshot.objects.count() == 0


def test_client_only_touches_that_client(three_clients):
    acme, initech, globex = three_clients

    output = recompute("--client", str(initech.pk))

    assert "Health recomputed for 1 clients; 1 changed." in output
    assert stored(initech) == expected(initech)
    assert stored(acme) == stored(globex) == (None, "", None)
    assert {s[0] for s in snapshots()} == {initech.pk}


# --- Band overrides ---------------------------------------------------------------


def set_override(client, by, **fields) -> BandOverride:
    values = {
        "band": Band.ADVERSARIAL,
        "reason": "They are suing us over the last audit.",
        "expires_on": TODAY + 30 * DAY,
        **fields,
    }
    return band_override_set(client, by=by, **values)


def test_a_manager_sets_a_band_override(scored, manager):
    override = set_override(scored, manager)

    assert list(scored.band_overrides.in_force()) == [override]
    assert override.set_by == manager
    assert override.history.get().history_user == manager
    # Beside the computed band, never instead of it.
    assert stored(scored) == expected(scored)
    assert stored(scored)[1] == Band.HEALTHY


def test_a_new_override_replaces_the_one_in_force(scored, manager):
    first = set_override(scored, manager, band=Band.STRAINED)

    second = set_override(scored, manager, band=Band.ADVERSARIAL)

    first.refresh_from_db()
    assert first.ended_at is not None
    assert first.ended_by == manager
    assert list(scored.band_overrides.in_force()) == [second]
    assert BandOverride.objects.count() == 2


def test_an_advisor_cannot_override_the_band(scored, advisor):
    with pytest.raises(PermissionDenied):
        set_override(scored, advisor)

    assert not BandOverride.objects.exists()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"expires_on": TODAY - DAY}, "expires_on"),
    ],
    ids=["empty reason", "blank reason", "past expiry"],
)
def test_an_override_needs_a_reason_and_a_future_expiry(scored, manager, fields, field):
    previous = set_override(scored, manager, band=Band.STRAINED)

    with pytest.raises(ValidationError) as exc:
        set_override(scored, manager, **fields)

    assert field in exc.value.message_dict
    # Nothing saved, and the override in force stays in force.
    assert list(scored.band_overrides.in_force()) == [previous]
    assert BandOverride.objects.count() == 1


def test_an_override_expiring_today_is_accepted(scored, manager):
    override = set_override(scored, manager, expires_on=TODAY)

    assert list(scored.band_overrides.in_force()) == [override]


def test_an_override_lapses_the_day_after_it_expires(time_machine, scored, manager):
    override = set_override(scored, manager, expires_on=TODAY + 7 * DAY)

    travel(time_machine, TODAY + 7 * DAY)
    assert list(BandOverride.objects.in_force()) == [override]

    travel(time_machine, TODAY + 8 * DAY)
    assert not BandOverride.objects.in_force().exists()
    override.refresh_from_db()
    assert override.ended_at is None  # it lapsed by itself; nobody ended it


def test_in_force_on_a_given_day(scored, manager):
    override = set_override(scored, manager, expires_on=TODAY + 7 * DAY)

    assert list(BandOverride.objects.in_force(TODAY + 7 * DAY)) == [override]
    assert not BandOverride.objects.in_force(TODAY + 8 * DAY).exists()


def test_a_manager_ends_an_override(scored, manager):
    override = set_override(scored, manager)

    band_override_end(override, by=manager)

    override.refresh_from_db()
    assert override.ended_at is not None
    assert override.ended_by == manager
    assert not scored.band_overrides.in_force().exists()
    assert override.history.first().history_user == manager


def test_an_advisor_cannot_end_an_override(scored, manager, advisor):
    override = set_override(scored, manager)

    with pytest.raises(PermissionDenied):
        band_override_end(BandOverride.objects.get(pk=override.pk), by=advisor)

    assert list(scored.band_overrides.in_force()) == [override]
