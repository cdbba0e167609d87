"""Sending the letter with a record (advisory/letgo/sending.py, letter_mail.py,
tasks.py): what the case's history keeps, what a failing mail server leaves
behind (nothing lost, nothing falsely "sent"), and completion waiting for it."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from advisory.letgo import letter_mail, sending
from advisory.letgo.services import (
    letgo_complete,
    letgo_complete_check,
    letgo_decide,
    letgo_propose,
    letgo_update_offboarding,
)
from advisory.letgo.tasks import send_letter_email
from advisory.models import LetGoCase
from tests.records import deadline, fresh, letter_posted

pytestmark = pytest.mark.django_db

Delivery = LetGoCase.LetterDelivery


def broken(*args, **kwargs):
    raise ConnectionRefusedError("SMTP is down")


@pytest.fixture
def ready(acme, advisor, admin, dispute) -> LetGoCase:
    """Approved, every checklist item ticked, a deadline stated: all but sent."""
    case = letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abusive calls to the team.",
        evidence=[dispute],
    )
    case = letgo_decide(case, by=admin, approve=True, note="Agreed.")
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    return letgo_update_offboarding(
        case, by=admin, expected_version=case.version, deadlines=[deadline()], **ticks
    )


def request_email(case, admin, capture) -> LetGoCase:
    with capture(execute=True):
        return sending.letter_email_request(case, by=admin, expected_version=fresh(case).version)


def reasons(case) -> list[str]:
    return [h.history_change_reason for h in fresh(case).history.order_by("history_id")]


# --- By e-mail -----------------------------------------------------------------------


def test_the_history_says_when_to_whom_and_the_message_id(
    ready, admin, mailoutbox, django_capture_on_commit_callbacks
):
    request_email(ready, admin, django_capture_on_commit_callbacks)

    case = fresh(ready)
    [mail] = mailoutbox
    to = f"Pat Contact <{ready.client.contact_email}>"
    assert case.letter_delivery == Delivery.EMAILED
    assert case.letter_sent and case.letter_sent_by == admin
    assert case.letter_sent_to == to and mail.to == [to]
    assert mail.extra_headers["Message-ID"] == case.letter_message_id
    assert case.letter_sent_at is not None
    assert case.letter_sent_on == timezone.localdate()
    queued, emailed = reasons(case)[-2:]
    assert queued == (
        f"Letter queued for e-mail to {ready.client.contact_email}, "
        f"Message-ID {case.letter_message_id}"
    )
    assert emailed.startswith(f"Letter e-mailed to {to} on ")
    assert emailed.endswith(f", Message-ID {case.letter_message_id}")
    entry = fresh(case).history.first()  # the newest: the fields at that moment
    assert (entry.letter_delivery, entry.letter_message_id) == (
        Delivery.EMAILED,
        case.letter_message_id,
    )
    assert entry.letter_sent_at == case.letter_sent_at


def test_the_email_has_the_firm_the_reply_to_and_the_pdf(
    ready, admin, mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.CANDOR_FIRM_NAME = "Hale & Partners LLP"
    settings.DEFAULT_FROM_EMAIL = "Candor <letters@hale.example>"

    request_email(ready, admin, django_capture_on_commit_callbacks)

    [mail] = mailoutbox
    assert mail.from_email == "Hale & Partners LLP <letters@hale.example>"
    assert mail.reply_to == [admin.email]
    assert mail.subject == "Hale & Partners LLP: ending our engagement with Acme Holdings"
    assert "Please find attached our letter" in mail.body
    [(name, content, mimetype)] = mail.attachments
    assert (name.endswith(".pdf"), mimetype) == (True, "application/pdf")
    assert content.startswith(b"%PDF-")
    assert fresh(ready).letter_message_id.endswith("@hale.example>")


def test_completion_waits_for_the_letter_and_then_goes_through(
    ready, admin, mailoutbox, django_capture_on_commit_callbacks
):
    with pytest.raises(ValidationError) as refused:
        letgo_complete_check(ready, by=admin, expected_version=ready.version)
    assert refused.value.messages == [
        "Send the letter first: e-mail it from Candor, or record the day it went by post."
    ]

    request_email(ready, admin, django_capture_on_commit_callbacks)
    case = fresh(ready)

    assert letgo_complete(case, by=admin, expected_version=case.version).status == (
        LetGoCase.Status.OFFBOARDED
    )


def test_a_failing_mail_server_loses_nothing_and_claims_nothing(
    ready, admin, mailoutbox, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)

    request_email(ready, admin, django_capture_on_commit_callbacks)

    case = fresh(ready)
    assert mailoutbox == []
    assert case.letter_delivery == Delivery.SENDING and not case.letter_sent
    assert case.letter_send_attempts == 1
    assert case.letter_send_error == "ConnectionRefusedError: SMTP is down"
    assert reasons(case)[-1] == (
        f"Letter's e-mail to {case.letter_sent_to} failed (attempt 1): "
        "ConnectionRefusedError: SMTP is down; trying again later"
    )
    assert f"Could not send the letter of let-go case {case.pk} (attempt 1)" in caplog.text
    assert case.client.contact_email not in caplog.text  # no address in the log
    [retry] = HUEY.scheduled()  # a minute later
    assert retry.eta > datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    # Completing is refused meanwhile, saying why.
    with pytest.raises(ValidationError) as refused:
        letgo_complete_check(case, by=admin, expected_version=case.version)
    assert "has not gone yet (attempt 1 failed)" in refused.value.messages[0]

    # The mail server is back: the retry sends it, once.
    monkeypatch.undo()
    message_id = case.letter_message_id
    assert send_letter_email.call(case_id=case.pk, message_id=message_id, attempt=2) == "sent"
    assert send_letter_email.call(case_id=case.pk, message_id=message_id, attempt=3) == (
        "nothing to send"
    )
    case = fresh(case)
    assert len(mailoutbox) == 1
    assert (case.letter_delivery, case.letter_send_attempts, case.letter_send_error) == (
        Delivery.EMAILED,
        2,
        "",
    )


def test_after_the_last_attempt_the_case_says_the_email_failed(
    ready, admin, monkeypatch, settings, client
):
    case = sending.letter_email_request(ready, by=admin, expected_version=ready.version)
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", broken)
    last = len(settings.CANDOR_NOTIFICATIONS["email_retry_delays"]) + 1

    result = send_letter_email.call(
        case_id=case.pk, message_id=case.letter_message_id, attempt=last
    )

    case = fresh(case)
    assert result == "failed" and HUEY.scheduled() == []
    assert case.letter_delivery == Delivery.FAILED and not case.letter_sent
    assert reasons(case)[-1].endswith("SMTP is down; not sent")
    with pytest.raises(ValidationError) as refused:
        letgo_complete_check(case, by=admin, expected_version=case.version)
    assert "failed: send it again, or record the day it went by post" in refused.value.messages[0]
    client.force_login(admin)
    page = client.get(case.get_absolute_url()).content.decode()
    assert "Not sent:" in page and "SMTP is down" in page


def test_a_letter_changed_after_asking_is_not_sent(ready, admin, mailoutbox):
    case = sending.letter_email_request(ready, by=admin, expected_version=ready.version)
    letgo_update_offboarding(
        case, by=admin, expected_version=case.version, letter=case.letter + "\nP.S. Sorry."
    )

    result = send_letter_email.call(case_id=case.pk, message_id=case.letter_message_id)

    assert result == "letter changed"
    assert mailoutbox == []
    assert fresh(case).letter_delivery == Delivery.FAILED


def test_a_newer_request_replaces_the_one_on_its_way(ready, admin, mailoutbox):
    first = sending.letter_email_request(ready, by=admin, expected_version=ready.version)
    second = sending.letter_email_request(first, by=admin, expected_version=first.version)

    old = send_letter_email.call(case_id=first.pk, message_id=first.letter_message_id)
    new = send_letter_email.call(case_id=second.pk, message_id=second.letter_message_id)

    assert (old, new) == ("nothing to send", "sent")
    assert first.letter_message_id != second.letter_message_id
    assert [m.extra_headers["Message-ID"] for m in mailoutbox] == [second.letter_message_id]


def test_a_letter_changed_after_it_went_must_go_again(
    ready, admin, django_capture_on_commit_callbacks
):
    request_email(ready, admin, django_capture_on_commit_callbacks)
    case = fresh(ready)
    changed = letgo_update_offboarding(
        case, by=admin, expected_version=case.version, letter=case.letter + "\nP.S."
    )

    with pytest.raises(ValidationError) as refused:
        letgo_complete_check(changed, by=admin, expected_version=changed.version)

    assert refused.value.messages == [
        "The letter was changed after it was sent: send the letter as it is now, "
        "or record the day it went by post."
    ]
    # Line endings as a form sends them are the same letter.
    assert (
        fresh(changed).letter_digest
        == LetGoCase(letter=changed.letter.replace("\n", "\r\n")).letter_digest
    )


def test_a_proposal_has_no_letter_to_send(acme, advisor, admin, dispute):
    case = letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abusive calls.",
        evidence=[dispute],
    )
    with pytest.raises(ValidationError) as refused:
        sending.letter_email_check(case, by=admin)
    assert "this case is proposed" in refused.value.messages[0]


def test_the_recipient_is_the_contact_or_the_client(ready):
    client = ready.client
    assert sending.recipient(ready) == f"Pat Contact <{client.contact_email}>"
    client.contact_name = ""
    assert sending.recipient(ready) == f"Acme Holdings <{client.contact_email}>"
    assert letter_mail.subject(ready).endswith("ending our engagement with Acme Holdings")


# --- By post -------------------------------------------------------------------------


def test_posting_is_recorded_and_lets_completion_through(ready, admin):
    posted = letter_posted(ready, admin)

    assert posted.letter_delivery == Delivery.POSTED and posted.letter_sent
    assert reasons(posted)[-1].startswith("Letter sent by post on ")
    assert letgo_complete(posted, by=admin, expected_version=posted.version).status == (
        LetGoCase.Status.OFFBOARDED
    )


def test_posting_replaces_an_email_on_its_way(ready, admin, mailoutbox):
    case = sending.letter_email_request(ready, by=admin, expected_version=ready.version)
    letter_posted(case, admin)

    assert send_letter_email.call(case_id=case.pk, message_id=case.letter_message_id) == (
        "nothing to send"
    )
    assert mailoutbox == []
    assert fresh(case).letter_delivery == Delivery.POSTED
