"""The authorization walk: every URL pattern, requested by everyone.

The patterns come from the URLconf itself (`discover()` walks every include),
so a new page cannot be forgotten: `test_every_url_pattern_is_walked` fails,
naming it, until it is added to PAGES (the lowest role that may use it, the
record its URL names) or, with a reason, to PUBLIC. Patterns under /admin/ are
walked by the admin site's own rule (admins only) without a list.

Each page is requested with GET and then POST (an empty form; an empty JSON
object for the API; CSRF checks off: `test_posts_without_a_csrf_token_...`
below and test_csrf.py check those) by anonymous and five people, with
records of two teams:

- anonymous: sent to log in (the API answers 401), or 405 for a method the
  page does not take;
- the team's advisor (alice), its manager (charlie) and an admin (dana), for
  whom the records are in scope: never 401/403/404 when their role suffices,
  403 when it does not;
- an advisor (bob) and a manager (erin) of the other team: 404 for the team's
  records (or 403 when their role would not suffice anyway), never a 2xx or
  3xx answer for them.

Nobody ever gets a 5xx; no 2xx answer shows someone the names of another
team's clients, engagements or disagreements; and no HTML page carries inline
code the Content-Security-Policy would refuse.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client as BrowserClient
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django_otp import DEVICE_ID_SESSION_KEY

from accounts import two_factor
from accounts.models import ApiToken, User
from accounts.roles import Role
from advisory.evidence.files import evidence_attach
from advisory.letgo.services import letgo_propose
from advisory.models import Delivery, LetGoCase, Notification, NotificationKind, SavedView
from advisory.records.services import disagreement_mark_reviewed
from advisory.transfer import imports
from advisory.transfer import jobs as import_jobs
from tests.factories import (
    ClientFactory,
    DisagreementFactory,
    EngagementFactory,
    TeamFactory,
    UserFactory,
)
from tests.otp import enroll
from tests.security.html import inline_code

ANONYMOUS = "anonymous"
ADVISOR, MANAGER, ADMIN = Role.ADVISOR.value, Role.MANAGER.value, Role.ADMIN.value
RANK = {ADVISOR: 1, MANAGER: 2, ADMIN: 3}

# Who walks, and the role each acts with.
PEOPLE = {
    "advisor": ADVISOR,  # alice: leads the team's client
    "manager": MANAGER,  # charlie: manages the team
    "admin": ADMIN,  # dana: firm-wide
    "other_advisor": ADVISOR,  # bob: the other team
    "other_manager": MANAGER,  # erin: manages the other team
}
ROLES = [ANONYMOUS, *PEOPLE]

# The records a URL can name, and who (besides nobody else) has them in scope.
TEAM = {"advisor", "manager", "admin"}
SCOPE = {
    "client": TEAM,
    "engagement": TEAM,
    "disagreement": TEAM,
    "reviewed_disagreement": TEAM,
    "letgo_case": TEAM,
    "evidence": TEAM,
    # Personal records: only their owner's.
    "notification": {"advisor"},  # alice's
    "api_token": {"advisor"},  # alice's
    "saved_view": {"advisor"},  # alice's
    "import_job": {"manager"},  # charlie started it
    # Not a record: a kind of import template.
    "import_kind": {"advisor", "manager", "admin", "other_advisor", "other_manager"},
}

# Every page: (the lowest role that may use it, the record its URL names).
PAGES: dict[str, tuple[str, str | None]] = {
    # accounts
    "profile": (ADVISOR, None),
    "api-token-revoke": (ADVISOR, "api_token"),
    "password_change": (ADVISOR, None),
    "password_change_done": (ADVISOR, None),
    "two-factor-setup": (ADVISOR, None),
    "two-factor-recovery-codes": (ADVISOR, None),
    "two-factor-turn-off": (ADVISOR, None),
    # the pages
    "dashboard": (ADVISOR, None),
    "search": (ADVISOR, None),
    "client-list": (ADVISOR, None),
    "client-create": (ADVISOR, None),
    "client-detail": (ADVISOR, "client"),
    "client-edit": (ADVISOR, "client"),
    "client-history": (ADVISOR, "client"),
    "client-archive": (ADVISOR, "client"),
    "client-dossier": (ADVISOR, "client"),
    "client-dossier-pdf": (ADVISOR, "client"),
    "client-evidence-pack": (ADVISOR, "client"),
    "band-override": (MANAGER, "client"),
    "band-override-end": (MANAGER, "client"),
    "engagement-list": (ADVISOR, None),
    "engagement-create": (ADVISOR, None),
    "engagement-detail": (ADVISOR, "engagement"),
    "engagement-edit": (ADVISOR, "engagement"),
    "engagement-history": (ADVISOR, "engagement"),
    "engagement-archive": (ADVISOR, "engagement"),
    "disagreement-list": (ADVISOR, None),
    "disagreement-create": (ADVISOR, None),
    "engagement-pick": (ADVISOR, None),
    "disagreement-detail": (ADVISOR, "disagreement"),
    "disagreement-edit": (ADVISOR, "disagreement"),
    "disagreement-history": (ADVISOR, "disagreement"),
    "disagreement-archive": (ADVISOR, "disagreement"),
    "disagreement-decision": (ADVISOR, "disagreement"),
    "disagreement-outcome": (ADVISOR, "disagreement"),
    "disagreement-review": (MANAGER, "disagreement"),
    "disagreement-amend": (ADVISOR, "reviewed_disagreement"),
    "comment-create": (ADVISOR, "disagreement"),  # alice logged it, so she may reply
    "evidence-upload": (ADVISOR, "disagreement"),
    "evidence-download": (ADVISOR, "evidence"),
    "health-board": (ADVISOR, None),
    "advisor-breakdown": (MANAGER, None),
    "health-score": (ADVISOR, None),
    "import-upload": (MANAGER, None),
    "import-preview": (MANAGER, None),
    "import-confirm": (MANAGER, None),
    "import-job": (MANAGER, "import_job"),
    "import-template": (MANAGER, "import_kind"),
    "verify-log": (ADMIN, None),
    "tree-head-sign": (ADMIN, None),
    "letgo-list": (MANAGER, None),
    "letgo-detail": (ADVISOR, "letgo_case"),
    "letgo-decide": (ADMIN, "letgo_case"),
    "letgo-withdraw": (ADVISOR, "letgo_case"),
    "letgo-offboarding": (ADMIN, "letgo_case"),
    "letgo-complete": (ADMIN, "letgo_case"),
    "letgo-letter": (ADVISOR, "letgo_case"),
    "letgo-letter-choice": (ADMIN, "letgo_case"),
    "letgo-history": (ADVISOR, "letgo_case"),
    "letgo-letter-pdf": (ADVISOR, "letgo_case"),
    "letgo-letter-send": (ADMIN, "letgo_case"),
    "letgo-letter-posted": (ADMIN, "letgo_case"),
    "letgo-propose": (ADVISOR, "client"),
    "client-reinstate": (ADMIN, "client"),
    "notification-list": (ADVISOR, None),
    "notification-read": (ADVISOR, "notification"),
    "notification-read-all": (ADVISOR, None),
    "notification-preferences": (ADVISOR, None),
    "saved-view-list": (ADVISOR, None),
    "saved-view-create": (ADVISOR, None),
    "saved-view-rename": (ADVISOR, "saved_view"),
    "saved-view-delete": (ADVISOR, "saved_view"),
    # the API (401 without credentials)
    "api:api-root": (ADVISOR, None),
    "api:client-list": (ADVISOR, None),
    "api:client-detail": (ADVISOR, "client"),
    "api:client-health": (ADVISOR, "client"),
    "api:engagement-list": (ADVISOR, None),
    "api:engagement-detail": (ADVISOR, "engagement"),
    "api:disagreement-list": (ADVISOR, None),
    "api:disagreement-detail": (ADVISOR, "disagreement"),
    "api:disagreement-comments": (ADVISOR, "disagreement"),
    "api:disagreement-decision": (ADVISOR, "disagreement"),
    "api:disagreement-outcome": (ADVISOR, "disagreement"),
    "api:letgo-case-list": (MANAGER, None),
    "api:letgo-case-detail": (ADVISOR, "letgo_case"),
}

# Actions only one person in scope may take, whatever their role: the others get 403.
ONLY = {
    "letgo-withdraw": {"advisor"},  # the proposer (alice) withdraws her own proposal
}

# Open to anyone on purpose, each for a reason; walked only for server errors.
PUBLIC: dict[str, str] = {
    "healthz": "load balancer liveness probe; says only 'ok'",
    "healthz-ready": "load balancer readiness probe; says only whether the database answers",
    "login": "where everyone starts",
    "login-code": "the log-in's second step, for whoever just gave the right password",
    "logout": "ends one's own session (POST only)",
    "password_reset": "asks for an e-mail address; says the same whether it is known",
    "password_reset_done": "a static confirmation",
    "password_reset_confirm": "the signed one-time link from the e-mail is the credential",
    "password_reset_complete": "a static confirmation",
    "notification-unsubscribe": "the signed token from the e-mail is the credential",
    "api-schema": "describes the endpoints, holds no records",
    "api-docs": "the browsable view of that description",
    "api:not-found": "catch-all: any other /api/ path answers 404 in JSON",
    "admin:login": "the admin site's own log-in form",
    "admin:logout": "ends one's own session (POST only)",
    "admin:catch-all": "unknown admin paths: 404 (or a slash added)",
}


# --- Discovering the URLconf -----------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    key: str  # "namespace:name", or for an unnamed pattern its route
    route: str  # the full route, e.g. "clients/<int:pk>/"
    callback: object

    @property
    def is_admin_site(self) -> bool:
        return self.key.startswith("admin:") or self.route.startswith("admin/")


def discover(resolver: URLResolver | None = None, prefix: str = "", ns: str = "") -> Iterator:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (ns, entry.namespace or "") if part)
            yield from discover(entry, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{ns}:{entry.name}" if ns and entry.name else entry.name
            if getattr(entry.callback, "__name__", "") == "catch_all_view":
                name = "admin:catch-all"
            yield Pattern(key=name or route, route=route, callback=entry.callback)


PATTERNS = list(discover())
SITE = [p for p in PATTERNS if p.key in PAGES]
ADMIN_SITE = [p for p in PATTERNS if p.is_admin_site and p.key not in PUBLIC]
OPEN = [p for p in PATTERNS if p.key in PUBLIC]


def test_every_url_pattern_is_walked():
    walked = {p.key for p in SITE + ADMIN_SITE + OPEN}
    missing = sorted(f"{p.key}  ({p.route})" for p in PATTERNS if p.key not in walked)
    assert not missing, (
        "URL patterns the authorization walk does not cover; add each to PAGES "
        "(lowest role, record it names) or, with a reason, to PUBLIC:\n  " + "\n  ".join(missing)
    )
    known = {p.key for p in PATTERNS}
    stale = sorted((set(PAGES) | set(PUBLIC)) - known)
    assert not stale, f"Entries for URL patterns that no longer exist: {stale}"


def test_the_walk_is_as_wide_as_promised():
    # Patterns x people; a shrinking number is worth a look.
    assert len(SITE) >= 65
    assert len(ADMIN_SITE) >= 90
    assert len(SITE) * len(ROLES) + len(ADMIN_SITE) * len(ADMIN_ROLES) >= 650


# --- The records ---------------------------------------------------------------------


@dataclass
class World:
    people: dict[str, User]
    sessions: dict[str, str]  # person → session key, signed in once for the module
    records: dict[str, object]
    job_id: str
    team_names: list[str]  # what outsiders must never see
    other_team_names: list[str]


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[World]:
    """Two teams' records, made once for the module. Each test runs inside a
    savepoint of this transaction (pytest-django's own), so what one test's
    POST changes is undone before the next; the whole lot is rolled back at
    the end."""
    media = tmp_path_factory.mktemp("media")
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=media,
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        ),
        transaction.atomic(),
    ):
        yield _build_world()
        transaction.set_rollback(True)


def _build_world() -> World:
    team = TeamFactory(name="Corporate Advisory")
    other_team = TeamFactory(name="Private Clients")
    alice = UserFactory(username="alice", role=Role.ADVISOR, team=team)
    bob = UserFactory(username="bob", role=Role.ADVISOR, team=other_team)
    charlie = UserFactory(username="charlie", role=Role.MANAGER, team=team)
    team.managers.add(charlie)
    erin = UserFactory(username="erin", role=Role.MANAGER, team=other_team)
    other_team.managers.add(erin)
    dana = UserFactory(username="dana", role=Role.ADMIN, is_staff=True)
    enroll(dana)  # admins need two-factor sign-in to decide let-go cases and use the admin

    acme = ClientFactory(name="Acme Holdings", lead_advisor=alice, team=team)
    engagement = EngagementFactory(client=acme, title="Annual audit 2026")
    dispute = DisagreementFactory(engagement=engagement, title="Stock count skipped")
    reviewed = DisagreementFactory(engagement=engagement, title="Inventory write-down refused")
    disagreement_mark_reviewed(reviewed, by=charlie, expected_version=reviewed.version)
    evidence = evidence_attach(
        dispute,
        by=alice,
        upload=SimpleUploadedFile("minutes.pdf", PDF, content_type="application/pdf"),
    )
    borealis = ClientFactory(name="Borealis Trading", lead_advisor=alice, team=team)
    borealis_work = EngagementFactory(client=borealis, title="Transfer pricing study")
    overridden = DisagreementFactory(engagement=borealis_work, title="Thin documentation kept")
    case = letgo_propose(
        borealis,
        by=alice,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="Advice overridden again and again.",
        evidence=[overridden],
    )

    zenith = ClientFactory(name="Zenith Family Office", lead_advisor=bob, team=other_team)
    zenith_work = EngagementFactory(client=zenith, title="Estate plan review")
    DisagreementFactory(engagement=zenith_work, title="Trust structure rejected")

    notification = Notification.objects.create(
        recipient=alice,
        kind=NotificationKind.FOLLOW_UP_DUE,
        event_key="walk:follow-up",
        title="Follow up: Stock count skipped",
        client=acme,
        delivery=Delivery.IN_APP,
    )
    token, _secret = ApiToken.objects.issue(user=alice, name="Reporting script")
    saved_view = SavedView.objects.create(
        user=alice, name="Critical ones", list_name="disagreement-list", query="severity=critical"
    )
    _make_admin_site_records(alice)
    people = {
        "advisor": alice,
        "other_advisor": bob,
        "manager": charlie,
        "other_manager": erin,
        "admin": dana,
    }
    return World(
        people=people,
        sessions={role: _session_for(user) for role, user in people.items()},
        records={
            "client": acme,
            "engagement": engagement,
            "disagreement": dispute,
            "reviewed_disagreement": reviewed,
            "letgo_case": case,
            "evidence": evidence,
            "notification": notification,
            "api_token": token,
            "saved_view": saved_view,
        },
        job_id="walk-import-job",
        team_names=["Acme Holdings", "Annual audit 2026", "Stock count skipped", "Borealis"],
        other_team_names=["Zenith Family Office", "Estate plan review", "Trust structure"],
    )


def _session_for(user: User) -> str:
    """A signed-in session, as django.contrib.auth.login makes it (without its
    signals: the walk is about what happens after logging in), verified by
    two-factor sign-in for whoever has it set up."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if device := two_factor.app_device(user):
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id  # verified with the code
    session.create()
    return session.session_key


def _make_admin_site_records(user: User) -> None:
    """One row for each model the admin lists that the records above do not make."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.utils import timezone

    from advisory.models import Amendment, Comment

    now = timezone.now()
    common = {"user_agent": "walk", "ip_address": "127.0.0.1", "username": "alice"}
    AccessAttempt.objects.create(
        **common,
        get_data="",
        post_data="",
        http_accept="*/*",
        path_info="/",
        failures_since_start=1,
        attempt_time=now,
    )
    AccessLog.objects.create(**common, http_accept="*/*", path_info="/", attempt_time=now)
    AccessFailureLog.objects.create(**common, http_accept="*/*", path_info="/", attempt_time=now)
    disagreement = apps.get_model("advisory", "Disagreement").objects.get(
        title="Inventory write-down refused"
    )
    if not Amendment.objects.exists():
        Amendment.objects.create(
            disagreement=disagreement,
            field="title",
            old_value="a",
            new_value="b",
            reason="walk",
            amended_by=user,
        )
    if not Comment.objects.exists():
        Comment.objects.create(disagreement=disagreement, author=user, body="Looks right.")


@pytest.fixture
def walk(world, db) -> World:
    # The import job lives in the "jobs" cache, which conftest makes per test.
    job = import_jobs.Job(
        id=world.job_id,
        user_id=world.people["manager"].pk,
        kind=imports.CLIENTS,
        filename="clients.csv",
        path="imports/none.csv",
        sha256="",
        fingerprint="",
        total=1,
        state=import_jobs.DONE,
        message="Imported.",
    )
    caches["jobs"].set(f"import-job:{job.id}", job.__dict__, 60)
    return world


def kwargs_for(record: str | None, world: World) -> dict:
    if record is None:
        return {}
    if record == "import_job":
        return {"job_id": world.job_id}
    if record == "import_kind":
        return {"kind": imports.CLIENTS}
    return {"pk": world.records[record].pk}


# --- Asking ----------------------------------------------------------------------------


def browser_for(role: str, world: World) -> BrowserClient:
    browser = BrowserClient()
    if role != ANONYMOUS:
        browser.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return browser


def send(browser: BrowserClient, method: str, url: str):
    if method == "GET":
        response = browser.get(url)
    elif url.startswith("/api/"):
        response = browser.post(url, "{}", content_type="application/json")
    else:
        response = browser.post(url, {})
    # Reading a file response to the end closes it (the test client then closes it
    # as a server would; closing it again here would close the database connection).
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def shows(body: bytes, names: list[str]) -> list[str]:
    text = body.decode("utf-8", errors="replace")
    return [name for name in names if name in text]


LOGIN = reverse("login")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("key", [p.key for p in SITE])
def test_walk(walk, key, role):
    min_role, record = PAGES[key]
    url = reverse(key, kwargs=kwargs_for(record, walk))
    api = url.startswith("/api/")
    browser = browser_for(role, walk)
    acts_as = PEOPLE.get(role)
    in_scope = record is None or role in SCOPE[record]
    role_ok = acts_as is not None and RANK[acts_as] >= RANK[min_role]
    for method in ("GET", "POST"):
        response, body = send(browser, method, url)
        status = response.status_code
        where = f"{method} {url} as {role}: {status}"
        assert status < 500, where
        if role == ANONYMOUS:
            if api:
                assert status == 401, f"{where}, expected 401"
            elif status != 405:
                assert status == 302 and response["Location"].startswith(LOGIN), (
                    f"{where} {response.get('Location')}, expected the log-in page"
                )
            continue
        if role_ok and in_scope and method == "POST" and role not in ONLY.get(key, {role}):
            assert status in (403, 405), f"{where}, expected 403 (not theirs to do)"
        elif role_ok and in_scope:
            assert status not in (401, 403, 404), f"{where}, expected to be let in"
            if status == 302:
                assert not response["Location"].startswith(LOGIN), f"{where} sent to log in"
        elif role_ok:
            assert status in (404, 405), f"{where}, expected 404 (out of scope)"
        elif in_scope:
            assert status in (403, 405), f"{where}, expected 403 (role too low)"
        else:
            assert status in (403, 404, 405), f"{where}, expected 403 or 404"
        if status == 200 and response["Content-Type"].startswith("text/html"):
            problems = inline_code(body.decode())
            assert not problems, f"{where}: inline code the CSP refuses: {problems}"
        if 200 <= status < 300:
            outside = {
                "advisor": walk.other_team_names,
                "manager": walk.other_team_names,
                "other_advisor": walk.team_names,
                "other_manager": walk.team_names,
            }.get(role, [])
            assert not shows(body, outside), f"{where} shows {shows(body, outside)}"


# --- CSRF ----------------------------------------------------------------------------


def fingerprint() -> dict[str, tuple]:
    """Rows per table (and the highest id), unread notifications, active tokens:
    what any change through the pages would move."""
    found = {}
    for model in apps.get_models():
        rows = model._default_manager.all()
        found[model._meta.label] = (rows.count(), rows.order_by("-pk").values_list("pk").first())
    found["unread"] = (Notification.objects.unread().count(),)
    found["active tokens"] = (ApiToken.objects.active().count(),)
    return found


@pytest.mark.parametrize("key", [p.key for p in SITE])
def test_posts_without_a_csrf_token_are_refused_and_change_nothing(walk, key):
    """Each page, POSTed by someone who may use it, from a browser that sends
    no CSRF token: 403 (405 where the page takes no POST), nothing changed."""
    min_role, record = PAGES[key]
    role = next(
        person
        for person in ("advisor", "manager", "admin")
        if RANK[PEOPLE[person]] >= RANK[min_role]
        and (record is None or person in SCOPE[record])
        and person in ONLY.get(key, {person})
    )
    url = reverse(key, kwargs=kwargs_for(record, walk))
    browser = BrowserClient(enforce_csrf_checks=True)
    browser.cookies[settings.SESSION_COOKIE_NAME] = walk.sessions[role]
    before = fingerprint()
    response, _body = send(browser, "POST", url)
    assert response.status_code in (403, 405), f"POST {url} as {role}: {response.status_code}"
    assert fingerprint() == before, f"POST {url} as {role} changed something"


# --- The admin site --------------------------------------------------------------------

# The admin site is the admins' tool, firm-wide: anyone else is sent to its log-in
# page (it redirects rather than answering 403), and its pages never show them
# anything. Admins themselves may get 403 where the model admin allows nothing
# (records are read-only there). The site asks only "admin or not", so the
# manager (the highest role below admin) speaks for every signed-in non-admin.
ADMIN_ROLES = [ANONYMOUS, "manager", "admin"]


def admin_url(pattern: Pattern) -> str:
    key, route = pattern.key, pattern.route
    if key == "admin:view_on_site":
        client = apps.get_model("advisory", "Client").objects.first()
        ct = ContentType.objects.get_for_model(client)
        return reverse(key, kwargs={"content_type_id": ct.pk, "object_id": client.pk})
    if key == "admin:app_list":
        return reverse(key, kwargs={"app_label": "advisory"})
    if key == "admin:auth_user_password_change":
        return reverse(key, kwargs={"id": User.objects.get(username="alice").pk})
    named = key != route
    found = re.match(r"admin/(\w+)/(\w+)/", route)
    try:
        model = apps.get_model(found[1], found[2]) if found else None
    except LookupError:  # e.g. admin/password_change/done/
        model = None
    if model is None:
        return reverse(key)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the walk has no {model.__name__} for {route}"
    if key.endswith("_simple_history"):
        return reverse(key, args=[obj.pk, obj.history.order_by("pk").first().pk])
    if "<path:object_id>" not in route:
        return reverse(key)
    if named:
        return reverse(key, kwargs={"object_id": obj.pk})
    return "/" + route.replace("<path:object_id>", str(obj.pk))  # unnamed redirect


ADMIN_LOGIN = "/admin/login/"


@pytest.mark.parametrize("role", ADMIN_ROLES)
@pytest.mark.parametrize("key", [p.key for p in ADMIN_SITE])
def test_walk_admin_site(walk, key, role):
    pattern = next(p for p in ADMIN_SITE if p.key == key)
    url = admin_url(pattern)
    browser = browser_for(role, walk)
    # Admins only look (GET); the manager also tries a POST.
    for method in ("GET", "POST") if role == "manager" else ("GET",):
        response, _body = send(browser, method, url)
        status = response.status_code
        where = f"{method} {url} as {role}: {status}"
        assert status < 500, where
        if role == "admin":
            assert status in (200, 302, 403), where
            continue
        assert status in (302, 403, 404, 405), where
        if status == 302 and key != pattern.route:
            assert response["Location"].startswith(ADMIN_LOGIN), (
                f"{where} → {response['Location']}, expected the admin log-in page"
            )


@pytest.mark.parametrize("key", [p.key for p in OPEN])
def test_public_pages_never_fail(walk, key):
    pattern = next(p for p in OPEN if p.key == key)
    kwargs = {
        "password_reset_confirm": {"uidb64": "MQ", "token": "set-password"},
        "notification-unsubscribe": {"token": "not-a-real-token"},
        "api:not-found": {"path": "nothing/"},
        "admin:catch-all": {"url": "nothing/"},
    }.get(key, {})
    url = reverse(key if key != "admin:catch-all" else "admin:index") if not kwargs else None
    if key == "admin:catch-all":
        url = "/admin/nothing/"
    elif url is None:
        url = reverse(pattern.key, kwargs=kwargs)
    for role in (ANONYMOUS, "advisor"):
        browser = browser_for(role, walk)
        for method in ("GET", "POST"):
            response, body = send(browser, method, url)
            where = f"{method} {url} as {role}: {response.status_code}"
            assert response.status_code < 500, where
            assert not shows(body, walk.team_names + walk.other_team_names), where
