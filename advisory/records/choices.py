"""Who and what a user may choose when writing a record, whichever way it
comes in: a form, an API call or an import. Written once here; forms.py,
api/serializers.py and transfer/imports.py all call it.

- Colleagues: the active people the user can see.
- Leads and teams: an advisor leads the clients they create and keeps them in
  their own teams (handing a client over or moving it to another team is a
  manager's call: the advisor, or the team's manager, would lose sight of it);
  managers and admins choose among colleagues and teams they can see.
- A record's current lead, team and members stay valid choices whoever edits
  it, so a save never drops anyone silently.
- Clients and engagements open for work: in scope, not archived, not let go.
- Client names are unique firm-wide, ignoring case and repeated spaces; a
  taken name gets advisory.models.NAME_TAKEN, which names no team.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import Team, User
from accounts.roles import Role
from accounts.scoping import role_of
from advisory.models import Client, Engagement

type AnyUser = User | AnonymousUser


def with_current[Q_: QuerySet](queryset: Q_, pks: list[int | None]) -> Q_:
    """`queryset` plus the rows with these primary keys (one query, no duplicates)."""
    extra = [pk for pk in pks if pk is not None]
    if not extra:
        return queryset
    return queryset.model.objects.filter(Q(pk__in=queryset.values("pk")) | Q(pk__in=extra))


def colleagues(user: AnyUser) -> QuerySet[User]:
    return User.objects.visible_to(user).filter(is_active=True)


def lead_choices(user: AnyUser, *, current: int | None = None) -> QuerySet[User]:
    """Who may lead a client `user` creates or edits (`current`: its lead now)."""
    if role_of(user) == Role.ADVISOR:
        return User.objects.filter(pk=current or user.pk)
    return with_current(colleagues(user), [current])


def team_choices(user: AnyUser, *, current: int | None = None) -> QuerySet[Team]:
    """Which team a client `user` creates or edits may be on (`current`: its team now)."""
    if role_of(user) == Role.ADVISOR:
        return Team.objects.filter(pk=current) if current else Team.objects.visible_to(user)
    return with_current(Team.objects.visible_to(user), [current])


def may_reassign(user: AnyUser) -> bool:
    """Whether `user` may hand an existing client to another lead or team."""
    return role_of(user) != Role.ADVISOR


def clients_open_for_work(user: AnyUser) -> QuerySet[Client]:
    return Client.objects.visible_to(user).open_for_work()


def engagements_open_for_work(user: AnyUser) -> QuerySet[Engagement]:
    return Engagement.objects.visible_to(user).open_for_work()


def normalise_name(name: str) -> str:
    """A client name as stored: no leading, trailing or repeated spaces."""
    return " ".join(name.split())


def name_key(name: str) -> str:
    """What client names are compared by: ignoring case and repeated spaces."""
    return normalise_name(name).lower()


def name_taken(name: str, *, exclude: int | None = None) -> bool:
    """Whether another client (not `exclude`) has this name, ignoring case."""
    return Client.objects.filter(name__iexact=normalise_name(name)).exclude(pk=exclude).exists()
