"""The cast every test can use (after healthchecks' alice/bob/charlie).

- `team` and `other_team`: two practice groups.
- `advisor` (on `team`), `other_advisor` (on `other_team` only),
  `manager` (manages `team`), `admin` (firm-wide).
"""

from __future__ import annotations

import pytest

from accounts.models import Role, Team, User
from tests.factories import TeamFactory, UserFactory


@pytest.fixture(autouse=True)
def _test_settings(settings) -> None:
    # Manifest storage needs collectstatic; tests serve static files from the finders.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
