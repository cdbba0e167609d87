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
- Clients and engagements open for work: in scope, not archived, not let go;
  the log form's engagement picker finds them by client's or engagement's name.
- Client names are unique firm-wide, ignoring case and repeated spaces; a
  taken name gets advisory.models.NAME_TAKEN, which names no team.
"""

from __future__ import annotations

from functools import cached_property

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


# The engagement picker of the log form: how many it offers at once, and the
# longest query it takes (a client's or engagement's name is shorter).
PICKER_SHOWS = 12
PICKER_QUERY_MAX = 100


class EngagementPicker:
    """What the log form's engagement picker offers, read only when shown: the
    engagements in `user`'s scope open for work whose client's or own name
    holds every word of `query`; without a query, those the user leads or
    works on (or, when that is none, the whole scope if it is short).
    `chosen` (a choice already made) stays first whatever the query."""

    def __init__(self, user: AnyUser, *, query: str = "", chosen: int | None = None) -> None:
        self.user, self.chosen = user, chosen
        self.query = " ".join(query.split())
        self.problem = (
            f"Type at most {PICKER_QUERY_MAX} characters of the name."
            if len(self.query) > PICKER_QUERY_MAX
            else ""
        )

    @property
    def searched(self) -> bool:
        return bool(self.query) and not self.problem

    @property
    def options(self) -> list[Engagement]:
        return self._found[0]

    @property
    def more(self) -> bool:
        """More matches than shown: type more of the name."""
        return self._found[1]

    @cached_property
    def _found(self) -> tuple[list[Engagement], bool]:
        scope = engagements_open_for_work(self.user).select_related("client")
        ordered = scope.order_by("client__name", "title", "pk")
        rows: list[Engagement] = []
        if self.searched:
            found = ordered
            for word in self.query.split():
                found = found.filter(Q(client__name__icontains=word) | Q(title__icontains=word))
            rows = list(found[: PICKER_SHOWS + 1])
        elif not self.query:
            # Not a join on members (with DISTINCT): that reads every engagement.
            worked_on = Engagement.members.through.objects.filter(user=self.user.pk)
            mine = Q(lead_advisor=self.user.pk) | Q(pk__in=worked_on.values("engagement"))
            rows = list(ordered.filter(mine)[: PICKER_SHOWS + 1])
            # Nothing of their own: the whole scope, when it is short (asked
            # unordered first, so a long scope is never sorted for nothing).
            if not rows and len(scope.values("pk")[: PICKER_SHOWS + 1]) <= PICKER_SHOWS:
                rows = list(ordered)
        more = len(rows) > PICKER_SHOWS
        rows = rows[:PICKER_SHOWS]
        if self.chosen is not None and all(row.pk != self.chosen for row in rows):
            rows = [*scope.filter(pk=self.chosen), *rows][:PICKER_SHOWS]
        return rows, more


def normalise_name(name: str) -> str:
    """A client name as stored: no leading, trailing or repeated spaces."""
    return " ".join(name.split())


def name_key(name: str) -> str:
    """What client names are compared by: ignoring case and repeated spaces."""
    return normalise_name(name).lower()


def name_taken(name: str, *, exclude: int | None = None) -> bool:
    """Whether another client (not `exclude`) has this name, ignoring case."""
    return Client.objects.filter(name__iexact=normalise_name(name)).exclude(pk=exclude).exists()
