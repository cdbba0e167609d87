"""The disengagement letter as a PDF, and sending it from the case page: by
e-mail after a confirmation naming who gets it, or recorded as posted.
(What sending records and how a failing mail server is handled:
test_letter_sending.py.)"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import formats, timezone

from advisory.letgo.services import letgo_decide, letgo_propose, letgo_update_offboarding
from advisory.models import LetGoCase
from tests.factories import UserFactory
from tests.pdfs import pdf_pages, pdf_text
from tests.records import fresh

pytestmark = pytest.mark.django_db

Delivery = LetGoCase.LetterDelivery
DAY = datetime.timedelta(days=1)


@pytest.fixture
def firm(settings):
    settings.CANDOR_FIRM_NAME = "Hale & Partners LLP"
    settings.CANDOR_FIRM_ADDRESS = ("1 Fleet Street", "London EC4Y 1AA")
    settings.CANDOR_FIRM_LOGO = None
    settings.DEFAULT_FROM_EMAIL = "Candor <candor@hale.example>"


@pytest.fixture
def approved(acme, advisor, admin, dispute) -> LetGoCase:
    acme.postal_address = "Acme House\n12 Dock Road\nBristol BS1 4XX"
    acme.save()
    case = letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="Three overrides this year, each against written advice.",
        evidence=[dispute],
    )
    return letgo_decide(case, by=admin, approve=True, note="Agreed.")


DEADLINES = [
    ("File the VAT return for the quarter to 31 March", 40),
    ("Pay the corporation tax instalment", 75),
]


@pytest.fixture
def ready(approved, admin) -> LetGoCase:
    """Approved, with two deadlines the client must watch: a letter ready to send."""
    today = timezone.localdate()
    rows = [{"description": text, "due_on": today + days * DAY} for text, days in DEADLINES]
    return letgo_update_offboarding(
        approved, by=admin, expected_version=approved.version, deadlines=rows
    )


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def letter_day(day: datetime.date) -> str:
    """A date as the letter writes it (letters/disengagement.txt)."""
    return formats.date_format(day, "j F Y")


# --- The PDF -------------------------------------------------------------------------


def test_the_letter_pdf_says_who_when_and_every_deadline(client, admin, ready, firm):
    client.force_login(admin)

    response = client.get(reverse("letgo-letter-pdf", args=[ready.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="candor-letgo-case-{ready.pk}-acme-holdings-letter.pdf"'
    )
    assert response["Cache-Control"] == "private, no-store"
    text = pdf_text(response.content)
    assert "Acme Holdings" in text
    assert "Pat Contact" in text
    effective = timezone.localdate(ready.decided_at) + ready.notice_days * DAY
    assert f"Our work for you ends on {letter_day(effective)}" in text
    today = timezone.localdate()
    for description, days in DEADLINES:
        assert f"{letter_day(today + days * DAY)}: {description}" in text


def test_the_letter_pdf_has_the_letterhead_the_address_and_the_footer(client, admin, ready, firm):
    client.force_login(admin)

    [page, *more] = pdf_pages(client.get(reverse("letgo-letter-pdf", args=[ready.pk])).content)

    assert "Hale & Partners LLP 1 Fleet Street London EC4Y 1AA" in page
    assert "Acme House 12 Dock Road Bristol BS1 4XX" in page  # the client's postal address
    for number, text in enumerate([page, *more], start=1):
        assert f"Let-go case {ready.pk} · Acme Holdings · generated " in text
        assert f"by {admin}" in text
        assert f"Page {number} of {len(more) + 1}" in text


def test_the_recipient_is_named_once_in_the_address_block(client, admin, ready, firm):
    client.force_login(admin)
    drafted = letter_day(timezone.localdate(ready.decided_at))

    text = pdf_text(client.get(reverse("letgo-letter-pdf", args=[ready.pk])).content)

    assert "Pat Contact Acme Holdings Acme House 12 Dock Road Bristol BS1 4XX" in text
    assert f"{drafted} Dear Pat Contact," in text  # the letter's own name lines left out

    ready.client.postal_address = ""
    ready.client.save()
    text = pdf_text(client.get(reverse("letgo-letter-pdf", args=[ready.pk])).content)

    assert "Acme House" not in text
    assert f"{drafted} Pat Contact Acme Holdings Dear Pat Contact," in text  # as written


def test_the_letter_pdf_renders_whatever_the_letter_holds(client, admin, ready, firm):
    letter = "Dear Pat,\n\nA letter written by hand <with brackets>.\n\nYours,\nDana"
    edited = letgo_update_offboarding(
        ready, by=admin, expected_version=ready.version, letter=letter
    )
    client.force_login(admin)

    text = pdf_text(client.get(reverse("letgo-letter-pdf", args=[edited.pk])).content)

    assert "A letter written by hand <with brackets>." in text


@pytest.mark.parametrize("who", ["advisor", "manager", "admin"])
def test_the_team_and_an_admin_download_it(client, request, ready, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(reverse("letgo-letter-pdf", args=[ready.pk])).status_code == 200


def test_an_outsider_gets_404_and_no_role_403(client, other_advisor, ready):
    url = reverse("letgo-letter-pdf", args=[ready.pk])
    client.force_login(other_advisor)
    assert client.get(url).status_code == 404
    client.force_login(UserFactory(username="nobody", role=""))
    assert client.get(url).status_code == 403
    client.logout()
    assert client.get(url).url.startswith(reverse("login"))


def test_the_pdf_url_takes_no_post(client, admin, ready):
    client.force_login(admin)
    assert client.post(reverse("letgo-letter-pdf", args=[ready.pk])).status_code == 405


# --- The case page ---------------------------------------------------------------------


def test_the_case_page_says_the_letter_is_not_sent_and_offers_both_ways(client, admin, ready):
    client.force_login(admin)

    page = client.get(ready.get_absolute_url()).content.decode()

    assert "Not sent yet." in page
    assert reverse("letgo-letter-pdf", args=[ready.pk]) in page
    assert f'action="{reverse("letgo-letter-send", args=[ready.pk])}"' in page
    assert "To contact" in page  # the address the button sends to
    assert f'action="{reverse("letgo-letter-posted", args=[ready.pk])}"' in page
    assert f'max="{timezone.localdate().isoformat()}"' in page


def test_others_see_where_the_letter_went_but_no_buttons(client, advisor, ready):
    client.force_login(advisor)

    page = client.get(ready.get_absolute_url()).content.decode()

    assert "Not sent yet." in page
    assert reverse("letgo-letter-pdf", args=[ready.pk]) in page
    assert reverse("letgo-letter-send", args=[ready.pk]) not in page


# --- Send letter: the confirmation, then the e-mail -------------------------------------


def send(client, case, *, confirm: bool, version: int | None = None):
    data = {"version": fresh(case).version if version is None else version}
    if confirm:
        data["confirm"] = "1"
    return client.post(reverse("letgo-letter-send", args=[case.pk]), data)


def test_send_letter_first_shows_to_whom_and_sends_nothing(client, admin, ready, mailoutbox):
    client.force_login(admin)
    before = fresh(ready)

    response = send(client, ready, confirm=False)

    page = response.content.decode()
    assert response.status_code == 200
    to = f"Pat Contact &lt;{ready.client.contact_email}&gt;"
    assert f"Send the disengagement letter to {to}?" in page
    assert f"Confirm: send the letter to {to}" in page
    assert "Nothing has been sent yet." in page
    assert 'name="confirm" value="1"' in page
    assert mailoutbox == []
    after = fresh(ready)
    assert (after.version, after.letter_delivery) == (before.version, Delivery.NOT_SENT)


def test_confirming_sends_the_pdf_and_records_it(
    client, admin, ready, mailoutbox, django_capture_on_commit_callbacks, firm
):
    client.force_login(admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, ready, confirm=True)

    assert response.status_code == 302
    assert response.url == f"{ready.get_absolute_url()}#letter"
    [mail] = mailoutbox
    case = fresh(ready)
    assert mail.to == [f"Pat Contact <{ready.client.contact_email}>"]
    assert mail.extra_headers["Message-ID"] == case.letter_message_id
    assert mail.message()["Message-ID"] == case.letter_message_id
    assert case.letter_message_id.endswith("@hale.example>")
    [(name, content, mimetype)] = mail.attachments
    assert mimetype == "application/pdf"
    assert name == f"candor-letgo-case-{ready.pk}-acme-holdings-letter.pdf"
    assert "Acme Holdings" in pdf_text(content)
    assert case.letter_delivery == Delivery.EMAILED and case.letter_sent
    page = client.get(response.url).content.decode()
    assert "E-mailed" in page and case.letter_message_id.strip("<>") in page


def test_send_letter_refuses_a_stale_page(client, admin, ready, mailoutbox):
    client.force_login(admin)

    response = send(client, ready, confirm=True, version=ready.version - 1)

    assert "The case changed while you were reading it" in shown_messages(response)[0]
    assert fresh(ready).letter_delivery == Delivery.NOT_SENT
    assert mailoutbox == []


def test_a_client_without_a_contact_email_is_told_how_to_send(client, admin, ready, mailoutbox):
    ready.client.contact_email = ""
    ready.client.save()
    client.force_login(admin)

    page = client.get(ready.get_absolute_url()).content.decode()
    response = send(client, ready, confirm=False)

    assert "has no contact e-mail" in page
    [message] = shown_messages(response)
    assert message == (
        "Acme Holdings has no contact e-mail: add it on the client's page, "
        "or send the letter by post and record the day. Nothing was sent."
    )
    assert mailoutbox == []


def test_a_letter_not_ready_is_not_sent(client, admin, approved, mailoutbox):
    client.force_login(admin)  # the drafted letter still asks for the deadlines

    response = send(client, approved, confirm=True)

    [message] = shown_messages(response)
    assert message.startswith("The letter is not ready to send: ")
    assert "[list the filing" in message and message.endswith("Nothing was sent.")
    assert fresh(approved).letter_delivery == Delivery.NOT_SENT


@pytest.mark.parametrize("who", ["advisor", "manager"])
def test_only_admins_send_or_record_the_letter(client, request, ready, who):
    client.force_login(request.getfixturevalue(who))
    for name in ["letgo-letter-send", "letgo-letter-posted"]:
        response = client.post(reverse(name, args=[ready.pk]), {"version": ready.version})
        assert response.status_code == 403
    assert fresh(ready).version == ready.version


def test_sending_urls_take_no_get(client, admin, ready):
    client.force_login(admin)
    for name in ["letgo-letter-send", "letgo-letter-posted"]:
        assert client.get(reverse(name, args=[ready.pk])).status_code == 405


def test_an_unknown_case_is_404(client, admin):
    client.force_login(admin)
    for name in ["letgo-letter-pdf", "letgo-letter-send", "letgo-letter-posted"]:
        method = client.get if name == "letgo-letter-pdf" else client.post
        assert method(reverse(name, args=[999_999])).status_code == 404


# --- Sent by post on <date> --------------------------------------------------------------


def post(client, case, day, *, version: int | None = None):
    data = {"version": fresh(case).version if version is None else version, "posted_on": day}
    return client.post(reverse("letgo-letter-posted", args=[case.pk]), data)


def test_recording_the_post_says_when_and_where(client, admin, ready):
    client.force_login(admin)
    today = timezone.localdate()

    response = post(client, ready, today.isoformat())

    case = fresh(ready)
    where = "Acme Holdings, Acme House, 12 Dock Road, Bristol BS1 4XX"
    assert shown_messages(response) == [
        f"Recorded: the letter went by post on {formats.date_format(today)} to {where}."
    ]
    assert (case.letter_delivery, case.letter_sent_on, case.letter_sent_to) == (
        Delivery.POSTED,
        today,
        where,
    )
    assert case.letter_sent_by == admin and case.letter_sent
    assert "Sent by post" in client.get(response.url).content.decode()


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("tomorrow", "The day it was posted cannot be in the future."),
        ("before approval", "it cannot have been posted before."),
        ("", "Sent by post on: This field is required."),
        ("7 May", "Sent by post on: Enter a valid date."),
    ],
)
def test_a_bad_day_is_refused_and_nothing_recorded(client, admin, ready, day, message):
    today = timezone.localdate()
    day = {
        "tomorrow": (today + DAY).isoformat(),
        "before approval": (timezone.localdate(ready.decided_at) - DAY).isoformat(),
    }.get(day, day)
    client.force_login(admin)
    before = fresh(ready).version

    [shown] = shown_messages(post(client, ready, day))

    assert message in shown and shown.endswith("Nothing was recorded.")
    case = fresh(ready)
    assert (case.letter_delivery, case.version) == (Delivery.NOT_SENT, before)


def test_posting_needs_the_clients_postal_address(client, admin, ready):
    ready.client.postal_address = ""
    ready.client.save()
    client.force_login(admin)

    page = client.get(ready.get_absolute_url()).content.decode()
    [shown] = shown_messages(post(client, ready, timezone.localdate().isoformat()))

    assert "has no postal address" in page
    assert shown.startswith("Acme Holdings has no postal address: add it on the client's page")
    assert fresh(ready).letter_delivery == Delivery.NOT_SENT
