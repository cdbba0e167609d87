"""The periodic jobs the worker schedules.

`python manage.py run_huey` finds this module (huey autoloads `tasks` modules)
and runs the jobs at the times below, in UTC (huey's default); each job is also a
management command for cron (`log_head`, `recompute_health`,
`notify reminders|summaries|digest`)
and is safe to run twice. The e-mail tasks are advisory.notifications.tasks.
"""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from advisory.health import services as health_services
from advisory.history import heads, signing
from advisory.notifications import digest, triggers
from advisory.notifications import tasks as notification_tasks

# Until the next release: e-mails queued before the upgrade name their task by
# its old path ("advisory.tasks.send_notification_email") and the worker
# imports it by that name (README, "Upgrading").
from advisory.notifications.tasks import send_notification_email as send_notification_email
from advisory.notifications.tasks import send_summary_email as send_summary_email

logger = logging.getLogger(__name__)

# --- Periodic jobs (the worker's schedule) --------------------------------------------


@db_periodic_task(crontab(minute="5"))
def hourly_tree_head() -> None:
    """Sign (and timestamp) a tree head when the log has grown; retry missing timestamps.

    Entries logged since the latest head are protected by their digests only
    until the next head: an hour at most while the worker runs.
    """
    heads.tree_heads_timestamp_missing()
    try:
        heads.tree_head_sign()
    except (signing.SigningKeyError, heads.LogDamaged) as error:
        logger.error("The log's tree head was not signed: %s", error)


@db_periodic_task(crontab(hour="2", minute="15"))
def nightly_health_recompute() -> None:
    """Scores decay with time even without edits; worsened bands notify."""
    health_services.recompute_all()


@db_periodic_task(crontab(hour="6", minute="30"))
def daily_reminders() -> None:
    triggers.remind_follow_ups()
    triggers.remind_missing_acknowledgments()


@db_periodic_task(crontab(hour="7", minute="0"))
def daily_summaries() -> None:
    notification_tasks.send_daily_summaries()


@db_periodic_task(crontab(day_of_week="1", hour="7", minute="30"))
def weekly_digest() -> None:
    digest.send_weekly_digests()
