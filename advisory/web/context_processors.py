from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from advisory.models import Notification
from advisory.transfer.imports import can_import


def notifications(request: HttpRequest) -> dict:
    """The bell's unread count: one COUNT on a partial index, and only when a
    template shows it (pages without the navigation pay nothing)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": SimpleLazyObject(
            lambda: Notification.objects.filter(recipient=user).unread().count()
        )
    }


def navigation(request: HttpRequest) -> dict:
    """What the navigation offers beyond permissions: Imports for managers and admins."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_imports": can_import(user)}
