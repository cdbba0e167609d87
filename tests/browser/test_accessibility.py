"""Everyone can use Candor: axe-core on every main page for each role, the
keyboard alone logs a disagreement, and no band or severity is told by colour alone.

The pages are checked against one firm seeded like the demo (forty clients,
two years of disagreements, let-go cases, notifications), written once for
the module rather than once per test: the data is committed outside any test
transaction, the live server reads it, and the module flushes the database
when it is done, as a transactional test would. Each role keeps one logged-in
browser page for all its checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import connections
from django.test import override_settings
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from advisory.models import Band, Client, Disagreement, LetGoCase, NotificationKind
from advisory.notifications.triggers import notify
from advisory.seeding.demo import LETGO_APPROVED, LETGO_PROPOSED, seed_people, seed_records
from tests.browser.conftest import axe_violations, create_role_groups

PASSWORD = "candor-demo-pass"
BLOCKING = ("serious", "critical")
ADVISOR, MANAGER, ADMIN, ANONYMOUS = "advisor", "manager", "admin", "anonymous"
STAFF = (ADVISOR, MANAGER, ADMIN)
REVIEWERS = (MANAGER, ADMIN)


# --- One seeded firm for the whole module --------------------------------------


@dataclass
class Firm:
    url: str
    ids: dict[str, int]


@pytest.fixture
def _role_groups() -> None:
    """The firm's fixture below creates the role groups once (see conftest)."""


@pytest.fixture
def _live_server_helper() -> None:
    """pytest-django's helper would make every test here transactional, and so
    flush the firm after the first one; the `firm` fixture does the helper's
    work (database access, the live server's settings) for the whole module."""


@pytest.fixture(scope="module")
def firm(django_db_setup, django_db_blocker, live_server) -> Iterator[Firm]:
    test_settings = override_settings(
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    with django_db_blocker.unblock(), test_settings:
        live_server._live_server_modified_settings.enable()
        try:
            create_role_groups()
            ids = _seed()
            # Left open, this connection outlives the module and PostgreSQL
            # refuses to drop the test database at the end of the session.
            connections.close_all()
            yield Firm(live_server.url, ids)
        finally:
            live_server._live_server_modified_settings.disable()
            call_command("flush", interactive=False, verbosity=0)
            # Back as the migrations left the database: tests pytest orders
            # after this module expect the role groups.
            create_role_groups()
            connections.close_all()


def _seed() -> dict[str, int]:
    seed_people()
    seed_records()
    advisor = User.objects.get(username=ADVISOR)
    castellan = Client.objects.get(name=LETGO_APPROVED)
    assert castellan.lead_advisor == advisor  # in every role's scope
    decided = (
        castellan.disagreements.exclude(verdict=Disagreement.Verdict.PENDING)
        .filter(decision=Disagreement.Decision.PROCEEDED)
        .order_by("-occurred_on")
        .first()
    ) or castellan.disagreements.exclude(verdict=Disagreement.Verdict.PENDING).first()
    pending = (
        Disagreement.objects.visible_to(advisor)
        .filter(decision=Disagreement.Decision.PENDING, client__status=Client.Status.ACTIVE)
        .first()
    )
    for user in User.objects.all():
        notify(
            kind=NotificationKind.BAND_WORSENED,
            event_key=f"a11y:{user.pk}",
            recipients=[user],
            title=f"{castellan.name} is now adversarial",
            body="Strained → adversarial.",
            url=castellan.get_absolute_url(),
            client=castellan,
        )
    return {
        "client": castellan.pk,
        "engagement": decided.engagement_id,
        "decided": decided.pk,
        "pending": pending.pk,
        "reviewed": Disagreement.objects.visible_to(advisor)
        .filter(reviewed_at__isnull=False)
        .first()
        .pk,
        "approved": LetGoCase.objects.get(client=castellan).pk,
        "proposed": LetGoCase.objects.get(client__name=LETGO_PROPOSED).pk,
    }


@pytest.fixture(scope="module")
def pages(firm: Firm, browser: Browser) -> Iterator[dict[str, Page]]:
    """One page per role, logged in once."""
    contexts = {}
    pages = {}
    for role in (ANONYMOUS, *STAFF):
        contexts[role] = browser.new_context(base_url=firm.url, reduced_motion="reduce")
        page = pages[role] = contexts[role].new_page()
        if role != ANONYMOUS:
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill(role)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    yield pages
    for context in contexts.values():
        context.close()


# --- Every main page, for each role --------------------------------------------


@dataclass(frozen=True)
class Visit:
    name: str
    path: str  # formatted with the firm's ids
    roles: tuple[str, ...] = STAFF
    status: int = 200
    then: Callable[[Page], None] | None = None  # what to do on the page before axe runs


def _preview_an_import(page: Page) -> None:
    page.get_by_label("Clients", exact=True).check()
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "clients.csv",
                "mimeType": "text/csv",
                "buffer": b"name,kind,lead_advisor\nNorthwind Traders,organization,advisor\n"
                b"Castellan Hotels Group,,\n,organization,nobody\n",
            }
        ]
    )
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("review", ignore_case=True)


def _submit_empty(page: Page) -> None:
    page.get_by_role("main").get_by_role("button", name="Log disagreement").click()
    expect(page.locator(".invalid-feedback").first).to_be_visible()


def _wait_for_swagger(page: Page) -> None:
    expect(page.get_by_role("heading", name=re.compile("Candor API"))).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()


def _open_save_this_view(page: Page) -> None:
    page.get_by_text("Save this view", exact=True).click()
    expect(page.get_by_label("Name this view")).to_be_visible()


def _open_the_chart_tables(page: Page) -> None:
    for summary in page.locator("main details > summary").all():
        summary.click()


VISITS = [
    Visit("login", "/accounts/login/", roles=(ANONYMOUS,)),
    Visit("password-reset", "/accounts/password_reset/", roles=(ANONYMOUS,)),
    Visit("not-found", "/no/such/page/", roles=(ANONYMOUS, *STAFF), status=404),
    Visit("dashboard", "/"),
    Visit("client-list", "/clients/"),
    Visit("client-search", "/clients/?q=hotel&band=adversarial"),
    Visit("client-new", "/clients/new/"),
    Visit("client-detail", "/clients/{client}/"),
    Visit("client-edit", "/clients/{client}/edit/"),
    Visit("client-history", "/clients/{client}/history/"),
    Visit("client-dossier", "/clients/{client}/dossier/"),
    Visit("engagement-list", "/engagements/"),
    Visit("engagement-new", "/engagements/new/"),
    Visit("engagement-detail", "/engagements/{engagement}/"),
    Visit("engagement-edit", "/engagements/{engagement}/edit/"),
    Visit("engagement-history", "/engagements/{engagement}/history/"),
    Visit("disagreement-list", "/disagreements/"),
    Visit(
        "disagreement-filters",
        "/disagreements/?severity=critical&tone=hostile&decision=proceeded&o=-occurred_on",
    ),
    Visit("disagreement-search", "/disagreements/?q=fee"),
    Visit("search", "/search/?q=fee"),
    Visit("search-more", "/search/?q=fee&kind=disagreement&page=2"),
    Visit("search-empty", "/search/?q=", status=400),
    Visit("disagreement-detail", "/disagreements/{decided}/"),
    Visit("disagreement-pending", "/disagreements/{pending}/"),
    Visit("disagreement-new", "/disagreements/new/"),
    Visit("disagreement-new-for-client", "/disagreements/new/?client={client}"),
    Visit("disagreement-new-found", "/disagreements/new/?q=ltd", roles=(ADVISOR, MANAGER)),
    Visit(
        "disagreement-new-errors",
        "/disagreements/new/",
        roles=(ADVISOR, MANAGER),  # an admin logs none
        then=_submit_empty,
    ),
    Visit("disagreement-edit", "/disagreements/{decided}/edit/"),
    Visit("disagreement-amend", "/disagreements/{reviewed}/amend/"),
    Visit("disagreement-history", "/disagreements/{decided}/history/"),
    Visit("health-board", "/health/", then=_open_the_chart_tables),
    Visit("health-board-band", "/health/?band=strained"),
    Visit("advisor-breakdown", "/health/advisors/", roles=REVIEWERS),
    Visit("health-score", "/health/score/"),
    Visit("letgo-list", "/let-go/", roles=REVIEWERS),
    Visit("letgo-waiting", "/let-go/?status=proposed", roles=REVIEWERS),
    Visit("letgo-approved", "/let-go/{approved}/"),
    Visit("letgo-proposed", "/let-go/{proposed}/", roles=REVIEWERS),
    Visit("letgo-letter", "/let-go/{approved}/letter/"),
    Visit("letgo-history", "/let-go/{approved}/history/"),
    Visit("letgo-propose", "/clients/{client}/let-go/", roles=REVIEWERS, status=200),
    Visit("imports", "/imports/", roles=REVIEWERS),
    Visit("import-preview", "/imports/", roles=REVIEWERS, then=_preview_an_import),
    Visit("notifications", "/notifications/"),
    Visit("saved-views", "/saved-views/"),
    Visit("saved-view-save", "/disagreements/?severity=critical", then=_open_save_this_view),
    Visit("notification-preferences", "/notifications/preferences/"),
    Visit("profile", "/accounts/profile/"),
    Visit("password-change", "/accounts/password_change/"),
    Visit("two-factor-setup", "/accounts/profile/two-factor/setup/"),
    Visit("api-docs", "/api/docs/", then=_wait_for_swagger),
    Visit("verify-log", "/admin-tools/verify-log/", roles=(ADMIN,)),
]
CASES = [
    pytest.param(role, visit, id=f"{role}-{visit.name}")
    for visit in VISITS
    for role in (ANONYMOUS, *STAFF)
    if role in visit.roles
]


@pytest.mark.parametrize(("role", "visit"), CASES)
def test_no_serious_or_critical_accessibility_violation(
    firm: Firm, pages: dict[str, Page], role: str, visit: Visit
):
    page = pages[role]
    response = page.goto(visit.path.format(**firm.ids))
    assert response is not None
    assert response.status == visit.status, f"{role} got {response.status} for {visit.path}"
    if visit.then:
        visit.then(page)
    assert axe_violations(page, impacts=BLOCKING) == []


# --- Bands and severities are told in words, not colour alone ------------------

BADGE_LABELS = {
    "band": {**{band.value: band.label for band in Band}, "none": "Not scored"},
    "severity": {s.value: s.label for s in Disagreement.Severity},
    "tone": {t.value: t.label for t in Disagreement.Tone},
}
# Every coloured badge, band tile and the words it shows, on the current page.
COLOURED = """() => [...document.querySelectorAll(
    "main [class*='badge-band-'], main [class*='badge-severity-'], main [class*='badge-tone-'],"
    + " main [class*='band-tile-']")].map((el) => ({
  kind: [...el.classList].find((c) => /^(badge-(band|severity|tone)|band-tile)-/.test(c)),
  text: el.innerText.trim(),
  visible: el.getClientRects().length > 0,
}))"""


def test_bands_and_severities_are_always_labelled_in_words(firm: Firm, pages: dict[str, Page]):
    page = pages[MANAGER]
    seen: set[tuple[str, str]] = set()
    for path in [
        "/",
        "/clients/",
        "/clients/?band=adversarial",
        "/clients/{client}/",
        "/clients/{client}/dossier/",
        "/disagreements/",
        "/disagreements/?severity=critical",
        "/disagreements/{decided}/",
        "/health/",
        "/let-go/{approved}/",
    ]:
        page.goto(path.format(**firm.ids))
        for badge in page.evaluate(COLOURED):
            assert badge["visible"], f"{path}: {badge}"
            if badge["kind"].startswith("band-tile-"):
                # A tile's coloured edge comes with the band's name as its heading.
                band = badge["kind"].removeprefix("band-tile-")
                assert badge["text"].startswith(BADGE_LABELS["band"][band]), f"{path}: {badge}"
                continue
            field, value = badge["kind"].removeprefix("badge-").split("-", 1)
            assert badge["text"] == BADGE_LABELS[field][value], f"{path}: {badge}"
            seen.add((field, value))
    # Not vacuous: every band and every severity was on some page.
    assert {("band", band.value) for band in Band} <= seen
    assert {("severity", s.value) for s in Disagreement.Severity} <= seen


def test_every_chart_has_a_text_alternative(firm: Firm, pages: dict[str, Page]):
    page = pages[MANAGER]
    for path in [
        "/health/",
        "/clients/{client}/",
        "/clients/{client}/dossier/",
        "/let-go/{approved}/",
    ]:
        page.goto(path.format(**firm.ids))
        charts = page.locator("canvas[data-chart]:not(.sparkline)")
        assert charts.count() > 0, path
        for chart in charts.all():
            assert chart.get_attribute("role") == "img"
            assert chart.get_attribute("aria-label"), path
            # The numbers as a table in the same section.
            section = chart.locator("xpath=ancestor::section[1]")
            expect(section.locator("table").first, path).to_be_attached()
    # The band and tone charts' colours are named in their tables' headers.
    page.goto("/health/")
    for heading, labels in [
        ("bands-chart", Band.labels),
        ("tones-chart", Disagreement.Tone.labels),
    ]:
        section = page.locator(f"section[aria-labelledby={heading}]")
        headers = section.locator("table thead th").all_text_contents()
        assert set(labels) <= {header.strip() for header in headers}, (heading, headers)


# --- The keyboard alone --------------------------------------------------------

# The accessible name of the focused element, near enough: its aria-label, its
# label's text or its own text; and whether it shows that it has the focus.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const name = el.getAttribute("aria-label")
    || (el.labels && el.labels.length ? el.labels[0].innerText : "")
    || el.innerText || el.value || "";
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const rect = el.getBoundingClientRect();
  return {
    name: name.trim().replace(/\\s+/g, " "),
    tag: el.tagName.toLowerCase(),
    inMain: el.closest("main") !== null,
    indicated: outline || style.boxShadow !== "none",
    visible: rect.width > 1 && rect.height > 1,
  };
}"""


def tab_to(page: Page, name: str, *, backwards: bool = False, limit: int = 150) -> dict:
    """Press Tab (Shift+Tab) until the focus is on the element called `name`;
    it must show that it has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        page.keyboard.press(key)
        focused = page.evaluate(FOCUSED)
        if focused and focused["name"].rstrip("*").strip() == name:
            assert focused["visible"], f"{name} has the focus but cannot be seen"
            assert focused["indicated"], f"{name} has the focus but shows no focus indicator"
            return focused
    raise AssertionError(f"{key} pressed {limit} times never reached {name!r}")


def test_the_skip_link_is_first_visible_and_skips_the_navigation(
    firm: Firm, pages: dict[str, Page]
):
    page = pages[ADVISOR]
    page.goto("/")
    page.keyboard.press("Tab")
    focused = page.evaluate(FOCUSED)
    assert focused["name"] == "Skip to main content"
    assert focused["visible"] and focused["indicated"]
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED)["inMain"], "after the skip link the focus is still in the nav"


def test_a_disagreement_is_logged_with_the_keyboard_alone(firm: Firm, browser: Browser):
    advisor = User.objects.get(username=ADVISOR)
    client = (
        Client.objects.visible_to(advisor)
        .filter(status=Client.Status.ACTIVE, health_band=Band.HEALTHY, engagements__status="active")
        .order_by("name")
        .first()
    )
    context = browser.new_context(base_url=firm.url)
    page = context.new_page()
    page.goto("/")

    # Log in: Tab to each field, type, Enter submits.
    tab_to(page, "Username")
    page.keyboard.type(ADVISOR)
    tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # From the dashboard, the navigation's button opens the form.
    tab_to(page, "Log disagreement")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("disagreement")

    # The picker: type part of the client's name, Tab on to its engagement, Space.
    tab_to(page, "Find it by the client's or the engagement's name")
    page.keyboard.type(client.name)
    # The matches replace the list once typing pauses: wait for them (and for
    # htmx to be done), or Tab walks a list that is swapped away under it.
    options = page.locator("#engagement-options label")
    expect(options.filter(has_not_text=client.name)).to_have_count(0)
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    choice = page.get_by_role("radio", name=client.name).first
    expect(choice).to_be_visible()
    tab_to(page, " ".join(choice.evaluate("radio => radio.labels[0].innerText").split()))
    page.keyboard.press("Space")
    expect(choice).to_be_checked()
    chosen = choice.get_attribute("value")
    tab_to(page, "Short title")
    page.keyboard.type("Skip the stock count")
    tab_to(page, "Topic")
    page.keyboard.press("ArrowDown")  # from "---------" to the first topic
    tab_to(page, "Client's request")
    page.keyboard.type("Drop the year-end stock count, it stops the warehouse.")
    tab_to(page, "Our recommendation")
    page.keyboard.type("Keep the count; without it the opinion is qualified.")
    tab_to(page, "Severity")
    page.keyboard.type("High")
    tab_to(page, "Tone")
    page.keyboard.type("Tense")
    # Back up to check the title, then on to the button.
    tab_to(page, "Short title", backwards=True)
    assert page.get_by_label("Short title").input_value() == "Skip the stock count"
    tab_to(page, "Log disagreement")
    page.keyboard.press("Enter")

    expect(page.get_by_text("Disagreement logged.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/disagreements/\d+/$"))
    logged = Disagreement.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])
    assert logged.title == "Skip the stock count"
    assert logged.engagement_id == int(chosen)
    assert logged.client == client
    assert logged.client == client
    assert logged.logged_by == advisor
    assert logged.topic == Disagreement.Topic.SCOPE
    assert logged.severity == Disagreement.Severity.HIGH
    assert logged.tone == Disagreement.Tone.TENSE
    assert logged.client_request.startswith("Drop the year-end stock count")
    assert logged.recommendation.startswith("Keep the count")
    context.close()
