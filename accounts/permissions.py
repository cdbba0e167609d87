"""Who may see and do what: the one place that answers it.

Two questions, two mechanisms:
- *Which records?* Scope. Admins see everything; managers see what they are
  personally on plus everything of the teams they manage; advisors see what
  they lead or are a member of. Querysets expose it as `visible_to(user)`,
  built with `accounts.scoping.scope()`. Outside the scope a record answers 404, never
  403, so its existence is not confirmed.
- *Which actions?* Permissions, granted to the role groups by data migrations
  (accounts/migrations/0002_roles.py). A user inside the scope but without the
  permission gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from accounts.models import User
from accounts.roles import Role
from accounts.scoping import role_of

View = Callable[..., HttpResponse]


def visible[M: models.Model](
    model_or_queryset: type[M] | models.QuerySet[M], user: User
) -> models.QuerySet[M]:
    """The rows of a model (or queryset) that `user` may see."""
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset._default_manager.all()
    )
    return queryset.visible_to(user)


def get_visible_or_404[M: models.Model](
    model_or_queryset: type[M] | models.QuerySet[M], user: User, **lookup
) -> M:
    """Load one record through the user's scope: outsiders get 404."""
    return get_object_or_404(visible(model_or_queryset, user), **lookup)


def can_view(user: User, obj: models.Model) -> bool:
    return visible(type(obj), user).filter(pk=obj.pk).exists()


def can_edit(user: User, obj: models.Model) -> bool:
    """Whoever may see a record may edit it, given the model's change permission."""
    opts = obj._meta
    return user.has_perm(f"{opts.app_label}.change_{opts.model_name}") and can_view(user, obj)


def can_comment(user: User, disagreement) -> bool:
    """Managers and admins review by commenting; the advisor who logged it may reply."""
    if not user.has_perm("advisory.add_comment") or not can_view(user, disagreement):
        return False
    return role_of(user) in (Role.MANAGER, Role.ADMIN) or disagreement.logged_by_id == user.pk


def permission_required(*perms: str) -> Callable[[View], View]:
    """Log-in required, then 403 unless the user holds every permission.

    Unlike Django's decorator of the same name this never redirects a
    logged-in user to the login page: a role too low is told so (403).
    """

    def decorator(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
