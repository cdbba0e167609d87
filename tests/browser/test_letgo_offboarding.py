"""The offboarding form on a let-go case, used with the keyboard alone: its
errors are listed at the top and shown at each field, the letter is drafted
from the fields, and an edited letter is set beside a new draft to choose
from. axe finds nothing serious on any of its states."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.letgo.services import letgo_decide
from advisory.models import LetGoCase
from tests.browser.conftest import axe_violations
from tests.browser.test_accessibility import FOCUSED, tab_to
from tests.browser.test_letgo_journey import proposal  # noqa: F401 (a fixture)
from tests.browser.test_login import log_in
from tests.otp import code_for, enroll

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKING = ("serious", "critical")


@pytest.fixture
def approved(proposal) -> LetGoCase:  # noqa: F811 (the fixture imported above)
    admin = User.objects.get(username="admin")
    return letgo_decide(proposal, by=admin, approve=True, note="Agreed.", notify=False)


def sign_in_as_admin(page: Page, url: str) -> None:
    app = enroll(User.objects.get(username="admin"))
    log_in(page, url, "admin", "candor-demo-pass")
    page.get_by_label("Code").fill(code_for(app))
    page.get_by_role("button", name="Verify").click()


def type_over(page: Page, text: str) -> None:
    """Replace the focused field's text, as someone at the keyboard would."""
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def test_the_offboarding_form_with_the_keyboard_alone(
    live_server, page: Page, approved, console_errors
):
    page.emulate_media(reduced_motion="reduce")
    sign_in_as_admin(page, live_server.url)
    page.goto(f"{live_server.url}/let-go/{approved.pk}/")
    letter = page.get_by_label("Disengagement letter")
    assert axe_violations(page, impacts=BLOCKING) == []

    # A notice period out of range and a deadline without its date.
    tab_to(page, "Notice period (days)")
    type_over(page, "400")
    tab_to(page, "What the client must do")
    page.keyboard.type("File the VAT return")
    tab_to(page, "Save offboarding")
    page.keyboard.press("Enter")

    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text(
        "Notice period (days): The notice period must be between 1 and 365 days."
    )
    expect(summary).to_contain_text("Deadline 1, by: Give the date of this deadline.")
    notice = page.get_by_label("Notice period (days)")
    expect(notice).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_notice_days_error")).to_contain_text("between 1 and 365 days")
    expect(page.locator("#id_deadlines-0-due_on_error")).to_have_text(
        "Give the date of this deadline."
    )
    # What was typed is still there; nothing was saved.
    expect(notice).to_have_value("400")
    expect(page.get_by_label("What the client must do").first).to_have_value("File the VAT return")
    assert LetGoCase.objects.get(pk=approved.pk).version == approved.version
    assert axe_violations(page, impacts=BLOCKING) == []

    # The summary's link takes the focus to the field.
    tab_to(page, "Deadline 1, by: Give the date of this deadline.")
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED)["name"].rstrip("*").strip() == "By"
    due = timezone.localdate() + datetime.timedelta(days=60)
    page.locator("#id_deadlines-0-due_on").fill(
        due.isoformat()
    )  # a date picker's typing is the locale's
    tab_to(page, "Notice period (days)", backwards=True)
    type_over(page, "60")
    tab_to(page, "Save offboarding")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Offboarding saved.")).to_be_visible()
    expect(letter).to_contain_text(f"- {due:%-d %B %Y}: File the VAT return")
    expect(letter).to_contain_text("60 days from the date of this letter")

    # The admin's own wording, then a field changes: both letters, side by side.
    tab_to(page, "Disengagement letter")
    page.keyboard.press("Control+End")
    page.keyboard.type("\n\nP.S. Written by hand.")
    tab_to(page, "Save offboarding")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Offboarding saved.")).to_be_visible()
    tab_to(page, "Notice period (days)")
    type_over(page, "45")
    tab_to(page, "Save offboarding")
    page.keyboard.press("Enter")

    choice = page.get_by_role("region", name="Choose the letter")
    expect(choice).to_be_visible()
    expect(choice).to_contain_text("P.S. Written by hand.")
    expect(choice).to_contain_text("45 days from the date of this letter")
    expect(letter).to_contain_text("P.S. Written by hand.")  # not overwritten
    assert axe_violations(page, impacts=BLOCKING) == []
    tab_to(page, "Use the new draft")
    page.keyboard.press("Enter")

    expect(page.get_by_text("The letter is now the new draft from the case.")).to_be_visible()
    expect(page.get_by_role("region", name="Choose the letter")).to_have_count(0)
    expect(letter).to_contain_text("45 days from the date of this letter")
    expect(letter).not_to_contain_text("P.S. Written by hand.")

    page.get_by_role("link", name="History").click()
    expect(page.get_by_text("Letter: the new draft from the case replaces the edited letter"))
    expect(page.get_by_text(f"File the VAT return: {due:%-d %b %Y}").first).to_be_visible()
    assert axe_violations(page, impacts=BLOCKING) == []
    # Only the refused save's own status (400, as every refused form answers).
    assert [error for error in console_errors if "status of 400" not in error] == []
