"""An advisor logs a disagreement and follows it through to the outcome."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.models import Client, Disagreement, Engagement
from advisory.records.services import client_save, engagement_save
from tests.browser.conftest import axe_violations
from tests.browser.test_login import log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def harbour(demo) -> Client:
    advisor = User.objects.get(username="advisor")
    client = client_save(Client(name="Harbour Logistics Ltd", lead_advisor=advisor), by=advisor)
    engagement = Engagement(client=client, title="Annual audit 2026", lead_advisor=advisor)
    engagement_save(engagement, by=advisor, members=[advisor])
    return client


def test_an_advisor_logs_a_disagreement_and_records_decision_and_outcome(
    live_server, page: Page, harbour, console_errors
):
    today = timezone.localdate().isoformat()
    log_in(page, live_server.url, "advisor", "candor-demo-pass")

    # From the client's page, "Log disagreement" preselects its engagement.
    page.goto(f"{live_server.url}{harbour.get_absolute_url()}")
    page.get_by_role("link", name="Log disagreement").last.click()
    expect(page.get_by_label("Engagement")).to_have_value(str(harbour.engagements.get().pk))
    page.get_by_label("Short title").fill("Skip the stock count")
    page.get_by_label("Topic").select_option(label="Scope")
    page.get_by_label("Client's request").fill(
        "Drop the year-end stock count, it stops the warehouse."
    )
    page.get_by_label("Our recommendation").fill(
        "Keep the count; without it the opinion is qualified."
    )
    page.get_by_label("Severity").select_option(label="High")
    page.get_by_label("Tone").select_option(label="Tense")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Log disagreement").click()
    expect(page.get_by_text("Disagreement logged.")).to_be_visible()
    expect(page.get_by_text("Awaiting decision").first).to_be_visible()

    # The client proceeds against advice and acknowledges the risk in writing.
    acknowledgment = page.locator(".acknowledgment")
    expect(acknowledgment).to_be_hidden()
    page.get_by_label("Client's decision").select_option(label="Proceeded against advice")
    expect(acknowledgment).to_be_visible()
    expect(page.get_by_label("The client's own words")).to_have_value("")
    acknowledgment.get_by_label("Yes").check()
    page.get_by_label("Acknowledged on").fill(today)
    page.get_by_label("Acknowledged how").select_option(label="E-mail")
    page.get_by_label("The client's own words").fill("We understand the risk and skip the count.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_text("Decision recorded.")).to_be_visible()
    expect(page.locator("blockquote", has_text="We understand the risk")).to_be_visible()

    # Months later: the advice proved right.
    page.get_by_label("Who was right?").select_option(label="Advice vindicated")
    page.get_by_label("How it turned out").fill("The auditors qualified the accounts.")
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_text("Outcome recorded.")).to_be_visible()

    # All three steps show on the client's timeline.
    page.get_by_role("link", name="Harbour Logistics Ltd").first.click()
    item = page.locator(".timeline-item", has_text="Skip the stock count")
    expect(item).to_contain_text("High")
    expect(item).to_contain_text("Tense")
    expect(item).to_contain_text("Proceeded against advice")
    expect(item).to_contain_text("Advice vindicated")
    assert console_errors == []

    disagreement = Disagreement.objects.get()
    assert disagreement.decision == Disagreement.Decision.PROCEEDED
    assert disagreement.risk_acknowledged is True
    assert disagreement.verdict == Disagreement.Verdict.ADVICE_VINDICATED
    assert disagreement.history.count() == 3
