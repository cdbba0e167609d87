from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_demo_advisor_logs_in_and_sees_the_dashboard(
    live_server, page: Page, demo, console_errors
):
    log_in(page, live_server.url, "advisor", "candor-demo-pass")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    for label in ["Dashboard", "Clients", "Disagreements", "Health", "Log disagreement"]:
        expect(nav.get_by_role("link", name=label, exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Let-go review")).to_have_count(0)
    expect(page.get_by_text("Corporate Advisory")).to_be_visible()
    assert axe_violations(page) == []
    assert console_errors == []


def test_a_manager_sees_letgo_review_in_the_navigation(live_server, page: Page, demo):
    log_in(page, live_server.url, "manager", "candor-demo-pass")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Let-go review").click()
    expect(page.get_by_role("heading", name="Let-go review")).to_be_visible()


def test_a_wrong_password_shows_the_error(live_server, page: Page, demo):
    log_in(page, live_server.url, "advisor", "not-the-password")

    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    assert axe_violations(page) == []


def test_logging_out_returns_to_the_login_page(live_server, page: Page, demo):
    log_in(page, live_server.url, "advisor", "candor-demo-pass")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
