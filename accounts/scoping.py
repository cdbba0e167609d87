"""Scope: which records a user may see, as a query condition.

Admins see everything; managers see what they are personally on plus
everything of the teams they manage; advisors see what they lead or are a
member of. Querysets expose it as `visible_to(user)` (accounts.models,
advisory.models), built with `scope()` below; accounts.permissions answers
"may this user do that" on top of it.

This module imports no model: the models' querysets call it, so it must not
call them back (a manager's teams are `user.managed_teams`).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models import Q

from accounts.roles import Role

# Any user model will do for the signatures: importing accounts.models here
# would make a circle (its querysets call scope()).
type User = AbstractBaseUser


def role_of(user) -> Role | None:
    if not user.is_authenticated or not user.is_active:
        return None
    return user.role


def scope[M: models.Model](
    queryset: models.QuerySet[M],
    user: User,
    *,
    team: str,
    people: Sequence[str],
) -> models.QuerySet[M]:
    """Restrict `queryset` to the rows `user` may see.

    `team` is the lookup from the row to its Team (e.g. "team" or
    "client__team"); `people` are lookups to the users personally on the row
    (e.g. "lead_advisor", "engagements__members").
    """
    role = role_of(user)
    if role is None:
        return queryset.none()
    if role == Role.ADMIN:
        return queryset
    allowed = personally(queryset.model, user, people)
    if role == Role.MANAGER:
        allowed |= Q(**{f"{team}__in": user.managed_teams.all()})
    return queryset.filter(allowed)


def personally(model: type[models.Model], user: User, people: Sequence[str]) -> Q:
    """The rows of `model` on which `user` is named through one of the `people` lookups.

    One condition per lookup, each answerable from an index on its own. A
    lookup through a to-many relation becomes its own subquery (joining would
    repeat rows, and one join OR-ing every way makes the database read all
    engagements and their members every time).
    """
    named = Q()
    for lookup in people:
        if _is_multivalued(model, lookup):
            named |= Q(pk__in=model._base_manager.filter(**{lookup: user}).values("pk"))
        else:
            named |= Q(**{lookup: user})
    return named


def _is_multivalued(model: type[models.Model], lookup: str) -> bool:
    opts = model._meta
    for part in lookup.split("__"):
        field = opts.get_field(part)
        if field.many_to_many or field.one_to_many:
            return True
        if field.related_model is None:
            return False
        opts = field.related_model._meta
    return False
