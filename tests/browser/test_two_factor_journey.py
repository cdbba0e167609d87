"""Two-factor sign-in in the browser: the demo admin sets it up when first
deciding a let-go case, is brought back to the case with the note they had
typed, and logs in with a code."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from advisory.models import LetGoCase
from tests.browser.conftest import axe_violations
from tests.browser.test_letgo_journey import proposal  # noqa: F401 (a fixture)
from tests.browser.test_login import log_in
from tests.otp import code_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_sets_up_two_factor_to_decide_and_logs_in_with_a_code(
    live_server,
    page: Page,
    proposal,  # noqa: F811 (the fixture imported above)
    console_errors,
):
    log_in(page, live_server.url, "admin", "candor-demo-pass")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Let-go review").click()
    page.get_by_role("link", name="Castellan Hotels Group").first.click()
    case_url = page.url

    # Told before typing; the buttons that would decide are not offered yet.
    decision = page.locator("section[aria-labelledby=decision-heading]")
    expect(
        decision.get_by_text("You need two-factor sign-in before you can decide.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Approve: let the client go")).to_have_count(0)
    assert axe_violations(page, impacts=["serious", "critical"]) == []
    note = "Approved: the evidence is clear.\nLetter to go out this week."
    page.get_by_label("Decision note").fill(note)
    page.get_by_role("button", name="Set up two-factor sign-in to decide").click()
    # Not decided: sent to set up two-factor sign-in, with the reason.
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_text("Admins must use two-factor sign-in to decide")).to_be_visible()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    assert axe_violations(page, impacts=["serious", "critical"]) == []
    # Like someone typing the key into their app instead of scanning.
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label("6-digit code from the app").fill(code_for(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    page.get_by_role("link", name="I have saved them: continue").click()
    assert page.url == case_url

    # What was typed before the detour is back, and the decision is ready now.
    expect(page.get_by_label("Decision note")).to_have_value(note)
    expect(page.get_by_text("You need two-factor sign-in")).to_have_count(0)
    page.get_by_role("button", name="Approve: let the client go").click()
    expect(page.get_by_text("Letter to go out this week.")).to_be_visible()
    page.get_by_role("button", name="Confirm: approve and let Castellan Hotels Group go").click()
    expect(page.get_by_text("Proposal approved.")).to_be_visible()
    case = LetGoCase.objects.get(pk=proposal.pk)
    assert case.status == LetGoCase.Status.APPROVED
    assert case.decision_note.splitlines() == note.splitlines()

    # Next time, the password alone is not enough.
    page.get_by_role("button", name="Log out").click()
    log_in(page, live_server.url, "admin", "candor-demo-pass")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert axe_violations(page, impacts=["serious", "critical"]) == []
    page.get_by_label("Code").fill(code_for(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert console_errors == []
