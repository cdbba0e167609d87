"""A manager finds the relationship that turned adversarial and reads why."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from advisory.models import Band, Client
from advisory.seeding.demo import seed_records
from tests.browser.conftest import axe_violations
from tests.browser.test_login import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_manager_opens_the_board_and_reads_why_a_client_is_adversarial(
    live_server, page: Page, demo, console_errors
):
    seed_records()
    page.emulate_media(reduced_motion="reduce")
    log_in(page, live_server.url, "manager", "candor-demo-pass")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Relationship health")).to_be_visible()
    first_row = page.locator("table tbody tr").first
    expect(first_row).to_contain_text("Adversarial")
    name = first_row.get_by_role("link").first.inner_text()
    client = Client.objects.get(name=name)
    assert client.health_band == Band.ADVERSARIAL
    assert client.team.managers.filter(username="manager").exists()
    assert axe_violations(page) == []

    first_row.get_by_role("link").first.click()
    health = page.locator("#health")
    expect(health.get_by_role("heading", name="Why this score")).to_be_visible()
    expect(health).to_contain_text("Adversarial")
    contributors = health.get_by_role("table", name="Why this score").locator("tbody tr")
    expect(contributors.first).to_be_visible()
    # The top contributor links to the disagreement that weighs most.
    contributors.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="1. The client asked")).to_be_visible()
    assert console_errors == []
