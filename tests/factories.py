from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from accounts.models import Role, Team, User

PASSWORD = "correct-horse-battery"


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A user in a role group: advisor unless `role=` says otherwise, `role=""` for none.

    `team=` makes them a member of that team.
    """

    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Tester"
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: Role | str | None, **kwargs) -> None:
        role = Role.ADVISOR if extracted is None else extracted
        if create and role:
            self.groups.add(Group.objects.get(name=role))

    @factory.post_generation
    def team(self, create: bool, extracted: Team | None, **kwargs) -> None:
        if create and extracted is not None:
            extracted.members.add(self)
