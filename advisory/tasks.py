"""Background work: e-mail tasks (Django's tasks API, run by the huey worker)
and the periodic jobs the worker schedules.

`python manage.py run_huey` finds this module (huey autoloads `tasks` modules)
and runs the periodic jobs at the times below, in TIME_ZONE; each job is also
a management command for cron (`recompute_health`, `notify reminders|summaries|digest`)
and is safe to run twice.

E-mail failures: huey's own retries are not reachable through the django.tasks
backend, so a failed e-mail task logs the failure and enqueues itself again
with `run_after` (CANDOR_NOTIFICATIONS["email_retry_delays"]); the record that
caused it is already committed and never touched.
"""

from __future__ import annotations

import logging

from django.core.management import call_command
from django.tasks import task
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from accounts.retry import retry_later
from advisory import notifications

logger = logging.getLogger(__name__)


@task
def send_notification_email(notification_id: int, attempt: int = 1) -> str:
    what = f"the e-mail for notification {notification_id}"
    try:
        sent = notifications.email_notification(notification_id)
    except Exception:
        # The recipient's address and the body (it holds an unsubscribe token)
        # stay out of the log.
        logger.exception("Could not send %s (attempt %d)", what, attempt)
        return retry_later(send_notification_email, attempt, what, notification_id=notification_id)
    return "sent" if sent else "nothing to send"


@task
def send_summary_email(user_id: int, attempt: int = 1) -> str:
    what = f"the daily summary for user {user_id}"
    try:
        count = notifications.email_daily_summary(user_id)
    except Exception:
        logger.exception("Could not send %s (attempt %d)", what, attempt)
        return retry_later(send_summary_email, attempt, what, user_id=user_id)
    return f"{count} notification(s) summarised"


# --- Periodic jobs (the worker's schedule) --------------------------------------------


@db_periodic_task(crontab(hour="2", minute="15"))
def nightly_health_recompute() -> None:
    """Scores decay with time even without edits; worsened bands notify."""
    call_command("recompute_health")


@db_periodic_task(crontab(hour="6", minute="30"))
def daily_reminders() -> None:
    call_command("notify", "reminders")


@db_periodic_task(crontab(hour="7", minute="0"))
def daily_summaries() -> None:
    call_command("notify", "summaries")


@db_periodic_task(crontab(day_of_week="1", hour="7", minute="30"))
def weekly_digest() -> None:
    call_command("notify", "digest")
