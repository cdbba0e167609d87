"""Trying a task again later, on the notification e-mails' schedule.

huey's own retries are not reachable through the django.tasks backend, so a
task that failed enqueues itself again with `run_after`, after the delays in
CANDOR_NOTIFICATIONS["email_retry_delays"], and gives up (logged) after the
last one. Password-reset e-mails (accounts) and notification e-mails
(advisory) both use it.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


def retry_later(task_obj, attempt: int, what: str, **kwargs) -> str:
    """Enqueue `task_obj` again with `attempt + 1` after this attempt's delay;
    "failed" once the delays are used up, "retry scheduled" otherwise."""
    delays = settings.CANDOR_NOTIFICATIONS["email_retry_delays"]
    if attempt > len(delays):
        logger.error("Giving up on %s after %d attempts", what, attempt)
        return "failed"
    run_after = timezone.now() + datetime.timedelta(seconds=delays[attempt - 1])
    task_obj.using(run_after=run_after).enqueue(attempt=attempt + 1, **kwargs)
    logger.info("Will try %s again at %s", what, run_after.isoformat(timespec="seconds"))
    return "retry scheduled"
