"""Lists people work from: filters shown as chips that the keyboard removes,
a filtered list saved under a name, and cards instead of tables on a phone."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.models import Disagreement, SavedView
from tests.browser.conftest import axe_violations
from tests.browser.test_login import log_in
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "candor-demo-pass"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def log(demo) -> list[Disagreement]:
    """Two disagreements of the demo advisor's client: one high, one low."""
    advisor = User.objects.get(username="advisor")
    client = ClientFactory(name="Harbour Logistics Ltd", lead_advisor=advisor)
    engagement = EngagementFactory(client=client, title="Annual audit 2026")
    today = timezone.localdate()
    return [
        DisagreementFactory(
            engagement=engagement,
            title="Stock count skipped",
            severity=Disagreement.Severity.HIGH,
            occurred_on=today - datetime.timedelta(days=3),
        ),
        DisagreementFactory(
            engagement=engagement,
            title="Late invoices ignored",
            severity=Disagreement.Severity.LOW,
            occurred_on=today - datetime.timedelta(days=5),
        ),
    ]


def rows(page: Page):
    return page.locator("main table tbody tr")


def test_a_filter_shows_as_a_chip_that_the_keyboard_removes(
    live_server, page: Page, log, console_errors
):
    log_in(page, live_server.url, "advisor", PASSWORD)
    page.goto(f"{live_server.url}/disagreements/?o=title")
    expect(rows(page)).to_have_count(2)

    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Severity").select_option(label="High")
    page.get_by_role("button", name="Apply filters").click()

    chip = page.get_by_role("link", name="Remove filter Severity: High")
    expect(chip).to_be_visible()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Stock count skipped")
    assert axe_violations(page) == []

    # Tab to the chip and press Enter: the filter goes, the sort stays.
    for _ in range(80):
        page.keyboard.press("Tab")
        if chip.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the chip")
    page.keyboard.press("Enter")

    expect(chip).to_have_count(0)
    expect(rows(page)).to_have_count(2)
    assert page.url.endswith("/disagreements/?o=title")
    assert console_errors == []


def test_a_filtered_list_is_saved_and_found_again(live_server, page: Page, log, console_errors):
    log_in(page, live_server.url, "advisor", PASSWORD)
    page.goto(f"{live_server.url}/disagreements/?severity=high&page=1")

    page.get_by_text("Save this view", exact=True).click()
    assert console_errors == []
    # No name: the error is at the field (the page answers 400), and nothing is saved.
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    assert not SavedView.objects.exists()
    page.get_by_label("Name this view").fill("High ones")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_text("Saved as “High ones”")).to_be_visible()
    saved = SavedView.objects.get()
    assert (saved.user.username, saved.query) == ("advisor", "severity=high")

    page.goto(f"{live_server.url}/saved-views/")
    expect(page.get_by_role("heading", name="Saved views")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="High ones", exact=True).click()
    expect(page.get_by_role("link", name="Remove filter Severity: High")).to_be_visible()
    expect(rows(page)).to_have_count(1)

    # Deleting asks first.
    page.goto(f"{live_server.url}/saved-views/")
    page.get_by_role("link", name="Delete High ones").click()
    expect(page.get_by_role("heading", name="Delete “High ones”?")).to_be_visible()
    page.get_by_role("button", name="Delete the saved view").click()
    expect(page.get_by_text("Deleted the saved view “High ones”.")).to_be_visible()
    assert not SavedView.objects.exists()
    assert console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]


def test_on_a_phone_the_list_is_cards_without_sideways_scrolling(
    live_server, page: Page, log, console_errors
):
    page.set_viewport_size(PHONE)
    log_in(page, live_server.url, "advisor", PASSWORD)
    page.goto(f"{live_server.url}/disagreements/?severity=high&o=title")

    table = page.get_by_role("table")
    expect(table).to_have_count(1)
    first = rows(page).first
    expect(first).to_contain_text("Stock count skipped")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # Each row a card: its cells stacked, one under the other, inside the screen.
    boxes = [cell.bounding_box() for cell in first.locator("td").all()]
    assert len({round(box["x"]) for box in boxes}) == 1, boxes
    assert all(box["x"] + box["width"] <= PHONE["width"] for box in boxes)
    tops = [box["y"] for box in boxes]
    assert len(set(tops)) == len(tops)
    # The header row is out of sight, the column names are beside the values…
    expect(page.locator("main table thead")).to_have_css("position", "absolute")
    severity = first.locator("td[data-label=Severity]")
    label = severity.evaluate("td => getComputedStyle(td, '::before').content")
    assert "Severity" in label
    # …and a screen reader still has the table, its headers and cells.
    expect(table.get_by_role("columnheader", name="Severity")).to_have_count(1)
    expect(first.get_by_role("cell").first).to_be_attached()
    assert axe_violations(page) == []

    # The chips and the other lists fit too.
    expect(page.get_by_role("link", name="Remove filter Severity: High")).to_be_visible()
    for path in ("/clients/", "/health/", "/engagements/", "/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    assert console_errors == []


def test_on_a_wide_screen_the_list_stays_a_table(live_server, page: Page, log):
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, live_server.url, "advisor", PASSWORD)
    page.goto(f"{live_server.url}/disagreements/")

    expect(page.locator("main table thead")).to_be_visible()
    first = rows(page).first
    boxes = [cell.bounding_box() for cell in first.locator("td").all()]
    assert len({round(box["y"]) for box in boxes}) == 1  # side by side
