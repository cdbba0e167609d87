"""An admin decides a let-go proposal and offboards the client professionally."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.letgo.services import PLACEHOLDER, letgo_propose
from advisory.models import Client, Disagreement, Engagement, LetGoCase
from advisory.records.services import client_save, disagreement_log, engagement_save
from tests.browser.conftest import axe_violations
from tests.browser.test_login import log_in
from tests.otp import code_for, enroll

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def proposal(demo) -> LetGoCase:
    advisor = User.objects.get(username="advisor")
    client = client_save(
        Client(
            name="Castellan Hotels Group",
            lead_advisor=advisor,
            postal_address="1 Harbour Street\nBristol BS1 4XX",
        ),
        by=advisor,
    )
    engagement = engagement_save(
        Engagement(client=client, title="Group audit 2026", lead_advisor=advisor), by=advisor
    )
    dispute = disagreement_log(
        Disagreement(
            engagement=engagement,
            occurred_on=engagement.created_at.date(),
            title="Revenue recognised before delivery",
            topic=Disagreement.Topic.RISK,
            client_request="Book the whole contract now.",
            recommendation="Recognise it as the rooms are delivered.",
            severity=Disagreement.Severity.CRITICAL,
            tone=Disagreement.Tone.HOSTILE,
        ),
        by=advisor,
    )
    return letgo_propose(
        client,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Repeated hostility and pressure to misstate revenue.",
        evidence=[dispute],
        notify=False,
    )


def test_an_admin_approves_offboards_and_the_client_is_let_go(
    live_server, page: Page, proposal, console_errors
):
    page.emulate_media(reduced_motion="reduce")
    # Admins decide only with two-factor sign-in: this one set up an app earlier.
    app = enroll(User.objects.get(username="admin"))
    log_in(page, live_server.url, "admin", "candor-demo-pass")
    page.get_by_label("Code").fill(code_for(app))
    page.get_by_role("button", name="Verify").click()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Let-go review").click()
    page.get_by_role("link", name="Castellan Hotels Group").first.click()
    expect(page.get_by_text("Revenue recognised before delivery").first).to_be_visible()
    assert axe_violations(page) == []

    note = "Approved: the evidence is clear.\nThe partners agreed on Monday."
    page.get_by_label("Decision note").fill(note)
    page.get_by_role("button", name="Approve: let the client go").click()
    # First what the approval will do; nothing is decided yet.
    expect(
        page.get_by_role("heading", name="Approve letting Castellan Hotels Group go?")
    ).to_be_visible()
    expect(page.get_by_text("Group audit 2026")).to_be_visible()
    expect(page.get_by_text("The client is not told until you send the letter.")).to_be_visible()
    assert LetGoCase.objects.get(pk=proposal.pk).status == LetGoCase.Status.PROPOSED
    assert axe_violations(page) == []
    page.get_by_role("button", name="Confirm: approve and let Castellan Hotels Group go").click()
    expect(page.get_by_text("Proposal approved.")).to_be_visible()
    assert LetGoCase.objects.get(pk=proposal.pk).decision_note == note.replace("\n", "\r\n")
    expect(page.get_by_label("Disengagement letter")).to_contain_text("Castellan Hotels Group")

    # The letter is drafted from the case: until a deadline the client must
    # watch is given, it keeps a placeholder, and completion is refused.
    letter = page.get_by_label("Disengagement letter")
    assert PLACEHOLDER.search(letter.input_value())
    due = timezone.localdate() + datetime.timedelta(days=60)
    deadline = page.get_by_role("group", name="Deadline 1")
    deadline.get_by_label("What the client must do").fill("File the VAT return")
    deadline.get_by_label("By", exact=True).fill(due.isoformat())
    for label in LetGoCase.CHECKLIST.values():
        page.get_by_label(label).check()
    page.get_by_role("button", name="Save offboarding").click()
    expect(page.get_by_text("Offboarding saved.")).to_be_visible()
    expect(letter).to_contain_text(f"- {due:%-d %B %Y}: File the VAT return")
    assert not PLACEHOLDER.search(letter.input_value())
    # Completing waits until the letter as it stands has gone: here, by post.
    page.get_by_label("Sent by post on").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Record: sent by post").click()
    expect(page.get_by_text("Recorded: the letter went by post on")).to_be_visible()
    page.get_by_role("button", name="Complete offboarding").click()
    expect(
        page.get_by_role("heading", name="Complete offboarding of Castellan Hotels Group?")
    ).to_be_visible()
    expect(page.get_by_text("Candor notifies nobody.")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Confirm: mark Castellan Hotels Group let go").click()
    expect(page.get_by_text("has been let go")).to_be_visible()
    # The case now says what happened, and asks nothing.
    expect(page.get_by_role("heading", level=1)).to_contain_text("let go on")
    expect(page.get_by_role("status").filter(has_text="Let go on")).to_be_visible()
    expect(page.get_by_role("link", name="The disengagement letter").first).to_be_visible()
    expect(page.get_by_role("button", name="Complete offboarding")).to_have_count(0)
    assert axe_violations(page) == []

    # Gone from the health board, which still shows it under "Let go".
    page.goto(f"{live_server.url}/health/")
    expect(page.get_by_role("link", name="Castellan Hotels Group")).to_have_count(0)
    page.goto(f"{live_server.url}/health/?relationship=let_go")
    expect(page.get_by_role("link", name="Castellan Hotels Group")).to_be_visible()
    assert Engagement.objects.get(title="Group audit 2026").status == "terminated"

    page.get_by_role("link", name="Castellan Hotels Group").first.click()
    expect(page.get_by_role("status").filter(has_text="Let go.")).to_be_visible()
    expect(page.locator("main").get_by_role("link", name="Log disagreement")).to_have_count(0)

    # Even by URL, a new disagreement is refused with the reason.
    page.goto(f"{live_server.url}/disagreements/new/?client={proposal.client_id}")
    expect(page.get_by_text("is let go: no new disagreement can be logged")).to_be_visible()
    assert console_errors == []
    assert Client.objects.get(pk=proposal.client_id).status == Client.Status.LET_GO
