"""Who may call what: the permissions the matching page requires.

Authentication first (401 without credentials), then the role's model
permissions for the action (403 when the role is too low, e.g. a user without
a role, or an advisor asking for the let-go review queue). Which *records* a
user reaches is not decided here but by the viewsets' querysets, built from
`visible_to(user)`: an outsider's id answers 404.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


class RolePermission(BasePermission):
    """The view lists its permissions per action in `action_permissions`;
    `"action METHOD"` keys (e.g. `"comments POST"`) win over plain `"action"`
    keys. An action without an entry (OPTIONS, or a method the view does not
    allow, which then answers 405) needs only authentication."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        return user.has_perms(required_permissions(view, request.method))


def required_permissions(view: APIView, method: str) -> list[str]:
    table: dict[str, list[str]] = getattr(view, "action_permissions", {})
    action = getattr(view, "action", None)
    return table.get(f"{action} {method}", table.get(action, []))
