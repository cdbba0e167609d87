"""The cast every test can use (after healthchecks' alice/bob/charlie).

- `team` and `other_team`: two practice groups.
- `advisor` (on `team`), `other_advisor` (on `other_team` only),
  `manager` (manages `team`), `admin` (firm-wide).
- `client`: the test client; `force_login` includes two-factor sign-in (tests/otp.py).
- `acme`: a client on `team` led by `advisor`, with one engagement
  (`acme_engagement`) and one pending disagreement (`dispute`).
  (`client` is pytest-django's test client, hence the name.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from huey.contrib.djhuey import HUEY

from accounts.models import Team, User
from accounts.roles import Role
from advisory.history.signing import create_key
from advisory.models import Client, Disagreement, Engagement
from tests.factories import (
    ClientFactory,
    DisagreementFactory,
    EngagementFactory,
    TeamFactory,
    UserFactory,
)
from tests.otp import SignedInClient

# Tasks run inside the test that enqueues them, on huey's in-memory storage,
# through the same django.tasks backend production uses (TASKS_IMMEDIATE=true
# does the same from the environment). A task scheduled for later (a retry)
# waits in `HUEY.scheduled()` instead of running.
HUEY.immediate = True


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Database tests first, then transactional ones (live server, browser), then
    the rest, as pytest-django orders them; again, because pytest's own grouping
    by session-scoped fixture parameters (the browser tests' `[chromium]`) runs
    after it and can move database tests behind the transactional ones, whose
    flush removes the role groups the migrations made."""

    def order(item: pytest.Item) -> int:
        marker = item.get_closest_marker("django_db")
        fixtures = set(getattr(item, "fixturenames", ()))
        if {"transactional_db", "live_server"} & fixtures or (
            marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))
        ):
            return 1
        return 0 if marker or "db" in fixtures else 2

    items.sort(key=order)  # stable: pytest's grouping holds within each kind


@pytest.fixture(autouse=True)
def _empty_task_queue() -> None:
    HUEY.flush()


@pytest.fixture(autouse=True)
def _fresh_local_cache() -> None:
    """Each test starts with an empty process-local cache: counters kept there
    (failed API tokens per address) must not carry over from other tests. A
    shared cache (REDIS_URL) is never emptied."""
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(scope="session")
def log_signing_key_file(tmp_path_factory) -> Path:
    """One signing key for the log's tree heads for the whole run (never the real one)."""
    path = tmp_path_factory.mktemp("log-key") / "log-signing-key.pem"
    create_key(path)
    return path


@pytest.fixture(autouse=True)
def _test_settings(settings, log_signing_key_file) -> None:
    # Manifest storage needs collectstatic; tests serve static files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # On everywhere (one process, so memory is shared enough): any test that
    # writes and then looks at a page also checks no page is served stale.
    settings.PAGE_CACHE = True
    # Tasks run in the test's own process, so the jobs cache needn't be shared.
    settings.CACHES = {
        **settings.CACHES,
        "jobs": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "jobs"},
    }
    settings.CANDOR_LOG_SIGNING_KEY_FILE = log_signing_key_file
    settings.CANDOR_LOG_RETIRED_PUBLIC_KEYS = []
    # No timestamp authority unless a test starts one (tests/tsa.py).
    settings.CANDOR_TSA_URL = ""
    settings.CANDOR_TSA_CA_FILE = ""


@pytest.fixture
def media(settings, tmp_path):
    """Stored files (evidence, uploads) go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    return settings.MEDIA_ROOT


@pytest.fixture
def client() -> SignedInClient:
    """pytest-django's test client, but `force_login` passes two-factor sign-in
    too (tests/otp.py): admins need it for let-go decisions and the admin."""
    return SignedInClient()


@pytest.fixture
def team(db) -> Team:
    return TeamFactory(name="Corporate Advisory")


@pytest.fixture
def other_team(db) -> Team:
    return TeamFactory(name="Private Clients")


@pytest.fixture
def advisor(team) -> User:
    return UserFactory(username="alice", first_name="Alice", role=Role.ADVISOR, team=team)


@pytest.fixture
def other_advisor(other_team) -> User:
    return UserFactory(username="bob", first_name="Bob", role=Role.ADVISOR, team=other_team)


@pytest.fixture
def manager(team) -> User:
    user = UserFactory(username="charlie", first_name="Charlie", role=Role.MANAGER, team=team)
    team.managers.add(user)
    return user


@pytest.fixture
def admin(db) -> User:
    return UserFactory(username="dana", first_name="Dana", role=Role.ADMIN, is_staff=True)


@pytest.fixture
def acme(advisor, team) -> Client:
    return ClientFactory(name="Acme Holdings", lead_advisor=advisor, team=team)


@pytest.fixture
def acme_engagement(acme) -> Engagement:
    return EngagementFactory(client=acme, title="Annual audit 2026")


@pytest.fixture
def dispute(acme_engagement) -> Disagreement:
    return DisagreementFactory(engagement=acme_engagement, title="Stock count skipped")
