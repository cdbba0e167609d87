from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, Team, User

pytestmark = pytest.mark.django_db


def seed(settings, *args: str) -> None:
    settings.DEBUG = True
    call_command("seed_demo", *args, stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_it_creates_two_teams_and_four_users_with_their_roles(settings):
    seed(settings)
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Corporate Advisory",
        "Private Clients",
    }
    roles = {user.username: user.role for user in User.objects.all()}
    assert roles == {
        "advisor": Role.ADVISOR,
        "advisor2": Role.ADVISOR,
        "manager": Role.MANAGER,
        "admin": Role.ADMIN,
    }
    assert User.objects.get(username="advisor").check_password("candor-demo")
    assert User.objects.get(username="admin").is_staff


def test_advisor2_is_on_the_other_team_and_the_manager_manages_the_first(settings):
    seed(settings)
    assert list(User.objects.get(username="advisor2").teams.all()) == [
        Team.objects.get(name="Private Clients")
    ]
    assert list(User.objects.get(username="manager").managed_teams.all()) == [
        Team.objects.get(name="Corporate Advisory")
    ]


def test_running_it_twice_changes_nothing(settings):
    seed(settings)
    before = (User.objects.count(), Team.objects.count(), Team.members.through.objects.count())
    seed(settings)
    assert (
        User.objects.count(),
        Team.objects.count(),
        Team.members.through.objects.count(),
    ) == before


def test_if_empty_leaves_an_existing_installation_alone(settings, advisor):
    seed(settings, "--if-empty")
    assert not User.objects.filter(username="manager").exists()


def test_it_refuses_to_run_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="refuses to run with DEBUG off"):
        call_command("seed_demo")
    assert not User.objects.exists()
    call_command("seed_demo", "--force", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert User.objects.filter(username="admin").exists()
