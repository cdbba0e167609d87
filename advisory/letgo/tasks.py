"""The letter's e-mail as a task (Django's tasks API, run by the huey worker).

A failed attempt is logged, recorded on the case and enqueued again with
`run_after` (accounts.retry, CANDOR_NOTIFICATIONS["email_retry_delays"]), as
the notification e-mails are; after the last delay the case says the e-mail
failed. The case's request is already committed and never undone.
"""

from __future__ import annotations

import logging

from django.tasks import task

from accounts.retry import retry_later
from advisory.letgo import letter_mail

logger = logging.getLogger(__name__)


@task
def send_letter_email(case_id: int, message_id: str, attempt: int = 1) -> str:
    what = f"the letter of let-go case {case_id}"
    try:
        return letter_mail.letter_email_send(case_id, message_id)
    except Exception as error:
        # The client's address and the letter stay out of the log.
        logger.exception("Could not send %s (attempt %d)", what, attempt)
        outcome = retry_later(
            send_letter_email, attempt, what, case_id=case_id, message_id=message_id
        )
        letter_mail.letter_email_failed(case_id, message_id, error=error, final=outcome == "failed")
        return outcome
