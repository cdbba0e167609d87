"""The letter's e-mail, sent by the worker (letgo.tasks.send_letter_email):
the message, and what each attempt records on the case (letgo/sending.py
explains the whole of sending)."""

from __future__ import annotations

import logging
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone

from advisory.evidence import pdf
from advisory.models import LetGoCase
from advisory.records.versioning import record_save

logger = logging.getLogger(__name__)

Delivery = LetGoCase.LetterDelivery
ERROR_LIMIT = LetGoCase._meta.get_field("letter_send_error").max_length


def _waiting(case_id: int, message_id: str) -> LetGoCase | None:
    """The case, locked, if this e-mail is still the one it waits for."""
    case = (
        # Only the case's row: PostgreSQL locks no row of an outer join's
        # nullable side (who asked for the e-mail).
        LetGoCase.objects.select_for_update(of=("self",))
        .select_related("client", "letter_sent_by")
        .filter(pk=case_id)
        .first()
    )
    if case is None or case.letter_delivery != Delivery.SENDING:
        return None
    return case if case.letter_message_id == message_id else None


def subject(case: LetGoCase) -> str:
    return f"{settings.CANDOR_FIRM_NAME}: ending our engagement with {case.client.name}"


def sender_address() -> str:
    """From: the firm's name, at the address Candor sends from (DEFAULT_FROM_EMAIL)."""
    return formataddr((settings.CANDOR_FIRM_NAME, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))


def letter_email(case: LetGoCase) -> EmailMessage:
    """The e-mail: a short cover note, the letter as a PDF attached, the
    case's Message-ID; replies go to the admin who sent it."""
    sender = case.letter_sent_by
    firm = settings.CANDOR_FIRM_NAME
    context = {"case": case, "client": case.client, "sender": sender, "firm": firm}
    message = EmailMessage(
        subject=subject(case),
        body=render_to_string("advisory/email/letter.txt", context),
        from_email=sender_address(),
        to=[case.letter_sent_to],
        reply_to=[sender.email] if sender is not None and sender.email else None,
        headers={"Message-ID": case.letter_message_id},
    )
    message.attach(pdf.letter_filename(case), pdf.letter_pdf(case, by=sender), pdf.CONTENT_TYPE)
    return message


def letter_email_send(case_id: int, message_id: str) -> str:
    """Send the e-mail queued as `message_id` (the task's work), and record
    when the mail server took it. "nothing to send" when the case no longer
    waits for it. A failure to send raises: the task records it and retries."""
    with transaction.atomic():
        case = _waiting(case_id, message_id)
        if case is None:
            return "nothing to send"
        if case.letter_digest != case.letter_sent_digest:
            _record_failure(case, "the letter was changed after sending was asked", final=True)
            return "letter changed"
        message = letter_email(case)
    # Outside the transaction: no row stays locked while the mail server answers.
    message.send()
    sent_at = timezone.now()
    with transaction.atomic():
        case = _waiting(case_id, message_id)
        if case is None:  # replaced meanwhile by a new request or a posting
            logger.warning("Let-go case %s: the letter went, but a newer send replaced it", case_id)
            return "sent, replaced"
        case.letter_delivery = Delivery.EMAILED
        case.letter_sent_at, case.letter_sent_on = sent_at, timezone.localdate(sent_at)
        case.letter_send_attempts += 1
        case.letter_send_error = ""
        when = formats.date_format(timezone.localtime(sent_at), "DATETIME_FORMAT")
        record_save(
            case,
            by=case.letter_sent_by,
            reason=f"Letter e-mailed to {case.letter_sent_to} on {when}, Message-ID {message_id}",
        )
    return "sent"


@transaction.atomic
def letter_email_failed(case_id: int, message_id: str, *, error: Exception, final: bool) -> None:
    """Record a failed attempt on the case, if it still waits for this e-mail:
    not sent, trying again, or (`final`) failed."""
    case = _waiting(case_id, message_id)
    if case is None:
        return
    case.letter_send_attempts += 1
    _record_failure(case, f"{type(error).__name__}: {error}", final=final)


def _record_failure(case: LetGoCase, problem: str, *, final: bool) -> None:
    case.letter_send_error = problem[:ERROR_LIMIT]
    if final:
        case.letter_delivery = Delivery.FAILED
        outcome = "not sent"
    else:
        outcome = "trying again later"
    record_save(
        case,
        by=case.letter_sent_by,
        reason=(
            f"Letter's e-mail to {case.letter_sent_to} failed "
            f"(attempt {case.letter_send_attempts}): {case.letter_send_error}; {outcome}"
        ),
    )
