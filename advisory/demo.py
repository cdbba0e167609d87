"""Demo data for `make run` and manual testing: readable, deterministic, idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import Role, Team, User


@dataclass(frozen=True)
class DemoUser:
    username: str
    first_name: str
    last_name: str
    role: Role
    team: str
    manages: bool = False


TEAMS = ["Corporate Advisory", "Private Clients"]
USERS = [
    DemoUser("advisor", "Alex", "Adams", Role.ADVISOR, "Corporate Advisory"),
    DemoUser("advisor2", "Blake", "Brown", Role.ADVISOR, "Private Clients"),
    DemoUser("manager", "Morgan", "Miller", Role.MANAGER, "Corporate Advisory", manages=True),
    DemoUser("admin", "Ari", "Archer", Role.ADMIN, "Corporate Advisory"),
]


@transaction.atomic
def seed_people() -> list[User]:
    """Create the demo teams and users; existing ones are left as they are."""
    teams = {name: Team.objects.get_or_create(name=name)[0] for name in TEAMS}
    users = []
    for spec in USERS:
        user, created = User.objects.get_or_create(
            username=spec.username,
            defaults={
                "first_name": spec.first_name,
                "last_name": spec.last_name,
                "email": f"{spec.username}@candor.example",
                "is_staff": spec.role == Role.ADMIN,
            },
        )
        if created:
            user.set_password(settings.CANDOR_DEMO_PASSWORD)
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=spec.role))
        team = teams[spec.team]
        team.members.add(user)
        if spec.manages:
            team.managers.add(user)
        users.append(user)
    return users
