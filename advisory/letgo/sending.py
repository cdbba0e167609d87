"""Sending the disengagement letter, with a record of it.

"Send letter" e-mails the letter as a PDF to the client's contact from
Candor. `letter_email_request` records on the case to whom and under which
Message-ID (a history entry) and queues `letgo.tasks.send_letter_email`,
which sends it (`letter_mail`) through Django's mail (MAILERS) like every
Candor e-mail and records in the case's history when the mail server took it. A failed attempt
is recorded too and tried again later (accounts.retry, on the notification
e-mails' delays); until an attempt succeeds the case says the letter is not
sent, and after the last one that the e-mail failed. Nothing says "sent"
before the mail server has taken the message.

"Sent by post on <date>" (`letter_record_posted`) is the other way: the day
and the client's postal address are recorded instead.

Either way the SHA-256 of the letter's text that went is kept: a letter
changed afterwards is not the one sent (LetGoCase.letter_sent), and completing
the offboarding waits until the letter as it stands has gone
(services.letgo_complete_check).
"""

from __future__ import annotations

import datetime
from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import formats, timezone

from accounts.models import User
from advisory.letgo import services
from advisory.letgo.tasks import send_letter_email
from advisory.models import LetGoCase
from advisory.records.versioning import EditConflict, record_save

Delivery = LetGoCase.LetterDelivery


# --- Checks (the confirmation step asks them too) ------------------------------------


def _ready(case: LetGoCase, *, by: User) -> None:
    """What sending the letter either way needs: an admin, an approved case,
    and a letter that is finished (services.letter_problems)."""
    if not by.has_perm("accounts.decide_letgo"):
        raise PermissionDenied
    if case.status != LetGoCase.Status.APPROVED:
        raise ValidationError(
            f"The letter is sent while the case is approved; this case is "
            f"{case.get_status_display().lower()}."
        )
    problems = services.letter_problems(case)
    if problems:
        raise ValidationError("The letter is not ready to send: " + "; ".join(problems) + ".")


def letter_email_check(case: LetGoCase, *, by: User) -> str:
    """The address the letter would go to, or ValidationError saying why it
    cannot go by e-mail. Changes nothing."""
    _ready(case, by=by)
    address = case.client.contact_email.strip()
    if not address:
        raise ValidationError(
            f"{case.client} has no contact e-mail: add it on the client's page, "
            "or send the letter by post and record the day."
        )
    return address


def recipient(case: LetGoCase) -> str:
    """Who the e-mail is addressed to, as its To: line shows them."""
    return formataddr((case.client.contact_name or case.client.name, case.client.contact_email))


# --- By e-mail ------------------------------------------------------------------------


def _message_id(case: LetGoCase) -> str:
    """A new Message-ID in the domain Candor sends from (DEFAULT_FROM_EMAIL)."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return make_msgid(idstring=f"letgo{case.pk}", domain=domain)


@transaction.atomic
def letter_email_request(case: LetGoCase, *, by: User, expected_version: int) -> LetGoCase:
    """Queue the letter's e-mail to the client's contact, recording to whom and
    its Message-ID. A request made while an earlier one is still on its way
    replaces it (the earlier task then sends nothing)."""
    current = LetGoCase.objects.select_for_update().select_related("client").get(pk=case.pk)
    if current.version != expected_version:
        raise EditConflict(current)
    address = letter_email_check(current, by=by)
    message_id = _message_id(current)
    current.letter_delivery = Delivery.SENDING
    current.letter_sent_to = recipient(current)
    current.letter_sent_by = by
    current.letter_message_id = message_id
    current.letter_sent_digest = current.letter_digest
    current.letter_sent_on = current.letter_sent_at = None
    current.letter_send_attempts = 0
    current.letter_send_error = ""
    record_save(
        current, by=by, reason=f"Letter queued for e-mail to {address}, Message-ID {message_id}"
    )
    case_id = current.pk
    # After the commit, as notifications do: a queue that is down is logged
    # (the case then says the letter is on its way, not that it went).
    transaction.on_commit(
        lambda: send_letter_email.enqueue(case_id=case_id, message_id=message_id), robust=True
    )
    return current


# --- By post --------------------------------------------------------------------------


@transaction.atomic
def letter_record_posted(
    case: LetGoCase, *, by: User, posted_on: datetime.date, expected_version: int
) -> LetGoCase:
    """Record that the letter as it stands went by post on `posted_on`, to
    the client's postal address."""
    current = LetGoCase.objects.select_for_update().select_related("client").get(pk=case.pk)
    if current.version != expected_version:
        raise EditConflict(current)
    _ready(current, by=by)
    if posted_on > timezone.localdate():
        raise ValidationError({"posted_on": "The day it was posted cannot be in the future."})
    approved_on = timezone.localdate(current.decided_at)
    if posted_on < approved_on:
        raise ValidationError(
            {
                "posted_on": "The letter was drafted when the case was approved, on "
                f"{formats.date_format(approved_on)}: it cannot have been posted before."
            }
        )
    lines = current.client.postal_address.splitlines()
    address = ", ".join(line.strip() for line in lines if line.strip())
    if not address:
        raise ValidationError(
            f"{current.client} has no postal address: add it on the client's page first, "
            "so that the record says where the letter went."
        )
    current.letter_delivery = Delivery.POSTED
    current.letter_sent_to = f"{current.client.name}, {address}"
    current.letter_sent_by = by
    current.letter_sent_on, current.letter_sent_at = posted_on, None
    current.letter_message_id = ""
    current.letter_sent_digest = current.letter_digest
    current.letter_send_attempts = 0
    current.letter_send_error = ""
    day = formats.date_format(posted_on)
    return record_save(
        current, by=by, reason=f"Letter sent by post on {day} to {current.letter_sent_to}"
    )
