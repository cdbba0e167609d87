"""The worker's periodic jobs (advisory/tasks.py): each does what its management
command does (`recompute_health`, `notify reminders|summaries|digest`), safe to
run twice; and the task paths of the previous release still import."""

from __future__ import annotations

import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string
from huey.contrib.djhuey import HUEY

from advisory import tasks
from advisory.health.services import health_refresh
from advisory.models import Band, Client, Disagreement, HealthSnapshot, Notification
from advisory.models import NotificationKind as Kind
from advisory.notifications import digest
from advisory.notifications import tasks as notification_tasks
from advisory.transfer import jobs as import_jobs
from tests.factories import DisagreementFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 3, 16)  # a Monday
DAY = datetime.timedelta(days=1)
D = Disagreement


@pytest.fixture(autouse=True)
def _today(time_machine) -> None:
    time_machine.move_to(datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London")))


def told(kind: str) -> list[str]:
    """Usernames notified of `kind`, sorted."""
    return sorted(
        Notification.objects.filter(kind=kind).values_list("recipient__username", flat=True)
    )


def test_the_nightly_job_recomputes_a_health_left_stale(
    acme, acme_engagement, advisor, manager, mailoutbox, django_capture_on_commit_callbacks
):
    health_refresh(acme)
    DisagreementFactory(
        engagement=acme_engagement,
        severity=D.Severity.CRITICAL,
        tone=D.Tone.HOSTILE,
        occurred_on=TODAY - 2 * DAY,
    )  # written without the services, e.g. by a bulk load: the stored health is stale
    assert Client.objects.get(pk=acme.pk).health_band == Band.HEALTHY

    with django_capture_on_commit_callbacks(execute=True):
        tasks.nightly_health_recompute.call_local()
        tasks.nightly_health_recompute.call_local()

    acme.refresh_from_db()
    assert acme.health_band == Band.ADVERSARIAL
    assert HealthSnapshot.objects.filter(client=acme, date=TODAY).count() == 1
    assert told(Kind.BAND_WORSENED) == ["alice", "charlie"]
    assert len(mailoutbox) == 2
    # What the command would have stored: it finds nothing left to change.
    out = StringIO()
    call_command("recompute_health", stdout=out)
    assert "Health recomputed for 1 clients; 0 changed." in out.getvalue()


def test_the_daily_reminders_job_reminds_of_follow_ups_and_missing_acknowledgments_once(
    dispute, acme_engagement, advisor
):
    D.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY)
    late = DisagreementFactory(
        engagement=acme_engagement,
        occurred_on=TODAY - 20 * DAY,
        decision=D.Decision.PROCEEDED,
        decided_on=TODAY - 7 * DAY,
        title="Late",
    )

    tasks.daily_reminders.call_local()
    tasks.daily_reminders.call_local()

    assert set(Notification.objects.values_list("recipient__username", "kind", "url")) == {
        ("alice", Kind.FOLLOW_UP_DUE, dispute.get_absolute_url()),
        ("alice", Kind.ACKNOWLEDGMENT_MISSING, late.get_absolute_url()),
    }
    assert Notification.objects.count() == 2


def test_the_daily_summaries_job_sends_what_waits_once(dispute, advisor, mailoutbox):
    D.objects.filter(pk=dispute.pk).update(follow_up_on=TODAY)
    tasks.daily_reminders.call_local()
    assert mailoutbox == []  # the default for reminders is the daily summary

    tasks.daily_summaries.call_local()
    tasks.daily_summaries.call_local()

    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"]
    assert f"Follow-up due: {dispute.title}" in mail.body
    assert not Notification.objects.awaiting_summary().exists()


def test_the_weekly_digest_job_tells_the_manager_about_last_week_once(
    acme_engagement, manager, mailoutbox, django_capture_on_commit_callbacks
):
    start, end = digest.digest_period(TODAY)
    overridden = DisagreementFactory(
        engagement=acme_engagement,
        occurred_on=start,
        decision=D.Decision.PROCEEDED,
        decided_on=end,
        title="Skipped the stock count",
    )

    with django_capture_on_commit_callbacks(execute=True):
        tasks.weekly_digest.call_local()
        tasks.weekly_digest.call_local()

    [sent] = Notification.objects.filter(kind=Kind.WEEKLY_DIGEST)
    assert sent.recipient == manager
    assert f"Acme Holdings: {overridden.title}" in sent.body
    [mail] = mailoutbox
    assert mail.to == ["charlie@example.com"]


@pytest.mark.parametrize(
    ("job", "when"),
    [
        ("nightly_health_recompute", datetime.datetime(2026, 3, 17, 2, 15)),
        ("daily_reminders", datetime.datetime(2026, 3, 17, 6, 30)),
        ("daily_summaries", datetime.datetime(2026, 3, 17, 7, 0)),
        ("weekly_digest", datetime.datetime(2026, 3, 16, 7, 30)),  # Mondays only
    ],
)
def test_the_worker_runs_each_job_at_its_time_only(job, when):
    def due(at: datetime.datetime) -> bool:
        task_class = getattr(tasks, job).task_class
        return any(isinstance(task, task_class) for task in HUEY.read_periodic(at))

    assert due(when)
    assert not due(when + datetime.timedelta(minutes=1))
    assert not due(when - datetime.timedelta(hours=1))
    assert due(when + 7 * DAY)


@pytest.mark.parametrize(
    ("old_path", "task"),
    [
        ("advisory.tasks.send_notification_email", notification_tasks.send_notification_email),
        ("advisory.tasks.send_summary_email", notification_tasks.send_summary_email),
        ("advisory.import_jobs.run_import", import_jobs.run_import),
    ],
)
def test_a_task_queued_before_the_upgrade_still_finds_its_code(old_path, task):
    # Kept for one release: the worker imports a queued task by the path it was
    # queued under (README, "Upgrading").
    assert import_string(old_path) is task
