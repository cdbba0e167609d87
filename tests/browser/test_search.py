"""The search box and the keyboard shortcuts, in a browser."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import User
from advisory.models import Client, Comment, Engagement
from advisory.records.services import client_save, engagement_save
from tests.browser.conftest import axe_violations
from tests.browser.test_login import log_in
from tests.factories import DisagreementFactory

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "candor-demo-pass"
SEARCH_BOX = "Search clients, engagements and disagreements"


@pytest.fixture
def harbour(demo) -> Client:
    advisor = User.objects.get(username="advisor")
    client = client_save(Client(name="Harbour Logistics Ltd", lead_advisor=advisor), by=advisor)
    engagement = Engagement(client=client, title="Annual audit 2026", lead_advisor=advisor)
    engagement_save(engagement, by=advisor, members=[advisor])
    disagreement = DisagreementFactory(
        engagement=engagement,
        title="Forklift <b>audit</b> skipped",
        client_request="Skip the forklift inspection this year.",
        logged_by=advisor,
    )
    Comment.objects.create(
        disagreement=DisagreementFactory(engagement=engagement, title="Pallet racking"),
        author=User.objects.get(username="manager"),
        body="Ask the forklift drivers too.",
    )
    assert disagreement.pk
    return client


def _sign_in(page: Page, base_url: str, username: str) -> None:
    """Log in and wait for the dashboard, its scripts run (keys pressed
    earlier would reach the log-in page)."""
    log_in(page, base_url, username, PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.wait_for_load_state("load")


def _nav_search(page: Page):
    return page.get_by_role("navigation", name="Main").get_by_role("searchbox", name=SEARCH_BOX)


def test_the_navigation_search_finds_and_highlights(
    live_server, page: Page, harbour, console_errors
):
    _sign_in(page, live_server.url, "advisor")

    _nav_search(page).fill("forklift")
    _nav_search(page).press("Enter")

    expect(page).to_have_url(re.compile(r"/search/\?q=forklift"))
    results = page.get_by_role("region", name="Disagreements")
    expect(results.get_by_role("link", name="Forklift <b>audit</b> skipped")).to_be_visible()
    expect(results.locator("mark").first).to_have_text(re.compile("forklift", re.I))
    expect(results.get_by_text("In a comment by")).to_be_visible()
    assert page.locator("b", has_text="audit").count() == 0  # the title's markup is text
    assert axe_violations(page) == []

    results.get_by_role("link", name="Forklift <b>audit</b> skipped").click()
    expect(page.get_by_role("heading", name="Forklift <b>audit</b> skipped")).to_be_visible()
    assert console_errors == []


def test_a_client_is_found_by_the_start_of_its_name(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    _nav_search(page).fill("harb")
    _nav_search(page).press("Enter")

    clients = page.get_by_role("region", name="Clients")
    expect(clients.get_by_role("link", name="Harbour Logistics Ltd")).to_be_visible()


def test_an_empty_search_says_what_to_do(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    _nav_search(page).press("Enter")

    expect(page.get_by_role("alert")).to_contain_text("Type a word or two to search for")
    assert axe_violations(page) == []


def test_slash_focuses_the_search_box(live_server, page: Page, harbour, console_errors):
    _sign_in(page, live_server.url, "advisor")

    page.keyboard.press("/")

    expect(_nav_search(page)).to_be_focused()
    expect(_nav_search(page)).to_have_value("")  # the slash is not typed into it
    page.keyboard.type("harbour")
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Harbour Logistics Ltd")).to_be_visible()
    assert console_errors == []


def test_n_opens_log_disagreement(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    page.keyboard.press("n")

    expect(page).to_have_url(f"{live_server.url}{reverse('disagreement-create')}")


def test_question_mark_lists_the_shortcuts(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    page.keyboard.press("?")

    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Search")
    expect(dialog).to_contain_text("Log a disagreement")
    assert axe_violations(page) == []
    page.keyboard.press("n")  # shortcuts rest while the list is open
    expect(page).to_have_url(f"{live_server.url}/")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.keyboard.press("?")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_shortcuts_never_fire_while_typing_in_a_field(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    _nav_search(page).click()
    page.keyboard.type("n?/")
    expect(_nav_search(page)).to_have_value("n?/")
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.goto(f"{live_server.url}{reverse('disagreement-create')}?client={harbour.pk}")
    request = page.get_by_label("Client's request")
    request.click()
    page.keyboard.type("n/?")
    expect(request).to_have_value("n/?")
    expect(page).to_have_url(re.compile(r"/disagreements/new/"))
    page.get_by_label("Severity").focus()
    page.keyboard.press("n")  # a select takes letters too
    expect(page).to_have_url(re.compile(r"/disagreements/new/\?client="))


def test_shortcuts_never_fire_with_a_modifier_key(live_server, page: Page, harbour):
    _sign_in(page, live_server.url, "advisor")

    page.keyboard.press("Alt+n")
    page.keyboard.press("Control+/")

    expect(page).to_have_url(f"{live_server.url}/")
    expect(_nav_search(page)).not_to_be_focused()


@pytest.mark.parametrize("username", ["advisor", "manager", "admin"])
def test_the_navigation_fits_on_one_line_at_1280_pixels(live_server, page: Page, demo, username):
    page.set_viewport_size({"width": 1280, "height": 800})
    _sign_in(page, live_server.url, username)

    nav = page.get_by_role("navigation", name="Main")
    height = nav.bounding_box()["height"]
    search_box = _nav_search(page).bounding_box()
    logout = nav.get_by_role("button", name="Log out").bounding_box()

    assert height < 70, f"the navigation wraps for {username}: {height}px high"
    assert abs(search_box["y"] - logout["y"]) < 10


def test_on_a_phone_slash_opens_the_search_page(live_server, page: Page, harbour):
    page.set_viewport_size({"width": 390, "height": 800})
    _sign_in(page, live_server.url, "advisor")

    page.keyboard.press("/")

    expect(page).to_have_url(f"{live_server.url}{reverse('search')}")
    expect(page.get_by_role("searchbox", name=SEARCH_BOX).last).to_be_focused()
