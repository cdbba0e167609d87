from __future__ import annotations

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.health import rollups
from advisory.models import Client, Disagreement, Engagement

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


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n:04d} Ltd")
    sector = "Manufacturing"
    contact_name = "Pat Contact"
    contact_email = factory.Sequence(lambda n: f"contact{n}@client.example")
    lead_advisor = factory.SubFactory(UserFactory)
    team = factory.LazyAttribute(lambda c: c.lead_advisor.teams.first() or TeamFactory())


class EngagementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Engagement
        skip_postgeneration_save = True

    client = factory.SubFactory(ClientFactory)
    title = factory.Sequence(lambda n: f"Engagement {n}")
    service_line = "Audit"
    lead_advisor = factory.LazyAttribute(lambda e: e.client.lead_advisor)
    start_date = datetime.date(2025, 1, 6)


class DisagreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Disagreement

    engagement = factory.SubFactory(EngagementFactory)
    client = factory.LazyAttribute(lambda d: d.engagement.client)
    logged_by = factory.LazyAttribute(lambda d: d.engagement.lead_advisor)
    occurred_on = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=10))
    title = factory.Sequence(lambda n: f"Disagreement {n}")
    topic = Disagreement.Topic.SCOPE
    client_request = "Skip the stock count this year."
    recommendation = "Keep the stock count; the auditors will ask for it."
    rationale = "Without it the accounts may be qualified."
    severity = Disagreement.Severity.MODERATE
    tone = Disagreement.Tone.TENSE

    @classmethod
    def _create(cls, model_class, *args, **kwargs) -> Disagreement:
        record = super()._create(model_class, *args, **kwargs)
        # As record_save does: the health board's counts follow the log.
        rollups.months_refresh(record.client_id, [record.occurred_on])
        rollups.stats_refresh(record.client_id, today=timezone.localdate())
        return record
