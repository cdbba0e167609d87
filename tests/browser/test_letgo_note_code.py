"""An admin who has an authenticator app, but whose session has not entered a
code from it, writes a decision note and presses Approve: Candor asks for the
code and brings them back to the case with the note they had typed."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.models import LetGoCase
from tests.browser.conftest import axe_violations
from tests.browser.test_letgo_journey import proposal  # noqa: F401 (a fixture)
from tests.browser.test_login import log_in
from tests.otp import code_for, enroll

pytestmark = pytest.mark.django_db(transaction=True)

# The key of the app the admin sets up on a new phone meanwhile.
NEW_PHONE = "4142444445464748494041424444454647484940"


def test_the_note_survives_entering_a_code_for_an_app_set_up_meanwhile(
    live_server,
    page: Page,
    proposal,  # noqa: F811 (the fixture imported above)
    console_errors,
):
    admin = User.objects.get(username="admin")
    old_phone = enroll(admin)
    log_in(page, live_server.url, "admin", "candor-demo-pass")
    page.get_by_label("Code").fill(code_for(old_phone))
    page.get_by_role("button", name="Verify").click()
    page.goto(f"{live_server.url}{proposal.get_absolute_url()}")
    expect(page.get_by_role("button", name="Approve: let the client go")).to_be_visible()

    # While the page is open, the admin moves to a new phone (in another
    # browser): this session was verified by an app that is gone.
    TOTPDevice.objects.filter(user=admin).delete()
    new_phone = enroll(admin, key=NEW_PHONE)
    note = "Approved: the evidence is clear.\nLetter to go out this week."
    page.get_by_label("Decision note").fill(note)
    page.get_by_role("button", name="Approve: let the client go").click()

    # Asked for a code first, with the reason; nothing is decided yet.
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(
        page.get_by_text("Enter a code from your authenticator app to decide let-go cases.")
    ).to_be_visible()
    assert LetGoCase.objects.get(pk=proposal.pk).status == LetGoCase.Status.PROPOSED
    assert axe_violations(page, impacts=["serious", "critical"]) == []
    page.get_by_label("Code").fill(code_for(new_phone))
    page.get_by_role("button", name="Verify").click()

    # Back on the case, with the note as typed, and the decision ready.
    assert page.url == f"{live_server.url}{proposal.get_absolute_url()}"
    expect(page.get_by_label("Decision note")).to_have_value(note)
    page.get_by_role("button", name="Approve: let the client go").click()
    expect(page.get_by_text("Letter to go out this week.")).to_be_visible()
    page.get_by_role("button", name="Confirm: approve and let Castellan Hotels Group go").click()
    expect(page.get_by_text("Proposal approved.")).to_be_visible()
    case = LetGoCase.objects.get(pk=proposal.pk)
    assert case.status == LetGoCase.Status.APPROVED
    assert case.decision_note.splitlines() == note.splitlines()
    assert console_errors == []
