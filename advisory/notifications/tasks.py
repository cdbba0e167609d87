"""E-mail tasks (Django's tasks API, run by the huey worker).

E-mail failures: huey's own retries are not reachable through the django.tasks
backend, so a failed e-mail task logs the failure and enqueues itself again
with `run_after` (accounts.retry; CANDOR_NOTIFICATIONS["email_retry_delays"]);
the record that caused it is already committed and never touched.
"""

from __future__ import annotations

import logging

from django.tasks import task

from accounts.models import User
from accounts.retry import retry_later
from advisory.models import Notification
from advisory.notifications import email

logger = logging.getLogger(__name__)


@task
def send_notification_email(notification_id: int, attempt: int = 1) -> str:
    what = f"the e-mail for notification {notification_id}"
    try:
        sent = email.email_notification(notification_id)
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
        count = email.email_daily_summary(user_id)
    except Exception:
        logger.exception("Could not send %s (attempt %d)", what, attempt)
        return retry_later(send_summary_email, attempt, what, user_id=user_id)
    return f"{count} notification(s) summarised"


def send_daily_summaries() -> int:
    """Queue one summary e-mail per person with something waiting; returns how many."""
    # What email_daily_summary would send: none about a client let go.
    waiting = Notification.objects.awaiting_summary().values("recipient")
    people = (
        User.objects.filter(is_active=True)
        .exclude(email="")
        .filter(pk__in=waiting)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = 0
    for pk in people:
        send_summary_email.enqueue(user_id=pk)
        count += 1
    return count
