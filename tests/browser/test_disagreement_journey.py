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
    expect(page.locator("main").get_by_label("Engagement")).to_have_value(
        str(harbour.engagements.get().pk)
    )
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


def _fill_the_facts(page: Page) -> None:
    page.get_by_label("Short title").fill("Skip the stock count")
    page.get_by_label("Topic").select_option(label="Scope")
    page.get_by_label("Client's request").fill("Drop the year-end stock count.")
    page.get_by_label("Our recommendation").fill("Keep the count.")
    page.get_by_label("Severity").select_option(label="High")
    page.get_by_label("Tone").select_option(label="Tense")


def test_one_pass_the_picker_finds_the_engagement_and_the_decision_is_logged_with_it(
    live_server, page: Page, harbour, console_errors
):
    today = timezone.localdate().isoformat()
    log_in(page, live_server.url, "advisor", "candor-demo-pass")
    page.get_by_role("link", name="Log disagreement").first.click()

    # Typing part of the client's name lists its engagements; nothing reloads.
    page.get_by_label("Find it by the client's or the engagement's name").fill("harbour log")
    choice = page.get_by_role("radio", name="Harbour Logistics Ltd — Annual audit 2026")
    expect(choice).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/disagreements/new/")
    choice.check()
    _fill_the_facts(page)

    # The client decided in the meeting: the acknowledgment goes on the same page.
    acknowledgment = page.locator(".acknowledgment")
    expect(acknowledgment).to_be_hidden()
    page.get_by_label("The client's decision").select_option(label="Proceeded against advice")
    expect(acknowledgment).to_be_visible()
    page.get_by_label("Decided on").fill(today)
    acknowledgment.get_by_label("Yes").check()
    page.get_by_label("Acknowledged on").fill(today)
    page.get_by_label("Acknowledged how").select_option(label="E-mail")
    page.get_by_label("The client's own words").fill("We understand the risk and skip the count.")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Log disagreement").click()

    expect(page.get_by_text("Disagreement logged.")).to_be_visible()
    logged = Disagreement.objects.get(title="Skip the stock count")
    assert logged.engagement == harbour.engagements.get()
    assert logged.decision == Disagreement.Decision.PROCEEDED
    assert logged.risk_acknowledged is True
    assert logged.history.count() == 1
    expect(page.locator("blockquote", has_text="We understand the risk")).to_be_visible()
    assert console_errors == []


def test_a_decision_changed_back_sends_no_hidden_acknowledgment(live_server, page: Page, harbour):
    log_in(page, live_server.url, "advisor", "candor-demo-pass")
    page.goto(f"{live_server.url}/disagreements/new/?client={harbour.pk}")
    _fill_the_facts(page)
    page.get_by_label("The client's decision").select_option(label="Proceeded against advice")
    page.get_by_label("The client's own words").fill("Typed, then the client changed their mind.")
    page.get_by_label("The client's decision").select_option(label="Accepted advice")
    page.get_by_label("Decided on").fill(timezone.localdate().isoformat())
    page.get_by_role("button", name="Log disagreement").click()

    expect(page.get_by_text("Disagreement logged.")).to_be_visible()
    logged = Disagreement.objects.get(title="Skip the stock count")
    assert logged.decision == Disagreement.Decision.ACCEPTED
    assert logged.client_words == ""


def test_without_javascript_find_reloads_the_picker_and_the_log_still_saves(
    live_server, browser, harbour
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live_server.url, "advisor", "candor-demo-pass")
    page.goto(f"{live_server.url}/disagreements/new/")

    page.get_by_label("Find it by the client's or the engagement's name").fill("harbour")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(f"{live_server.url}/disagreements/new/?q=harbour")
    page.get_by_role("radio", name="Harbour Logistics Ltd — Annual audit 2026").check()
    _fill_the_facts(page)
    page.get_by_role("button", name="Log disagreement").click()

    expect(page.get_by_text("Disagreement logged.")).to_be_visible()
    assert Disagreement.objects.get(title="Skip the stock count").client == harbour
    context.close()


def test_the_error_summary_comes_first_and_its_links_focus_the_fields(
    live_server, page: Page, harbour
):
    log_in(page, live_server.url, "advisor", "candor-demo-pass")
    page.goto(f"{live_server.url}/disagreements/new/")
    page.get_by_label("The client's decision").select_option(label="Accepted advice")
    page.get_by_role("button", name="Log disagreement").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(8)
    summary.get_by_role("link", name="Decided on: Say when the client decided.").click()
    expect(page.get_by_label("Decided on")).to_be_focused()
    summary.get_by_role("link", name="Engagement: This field is required.").click()
    expect(page.get_by_label("Find it by the client's or the engagement's name")).to_be_focused()
    assert axe_violations(page) == []
