"""Authentication backend: Django's ModelBackend, two queries lighter per request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from accounts.models import User


class RoleBackend(ModelBackend):
    """Reads the user's permissions together with the groups' names.

    Every page needs the user's role (accounts.models.User.role: the names of
    their groups) and their permissions; ModelBackend would query the groups'
    permissions and the user's own separately. `User.group_facts` holds all
    three, and the request's user is read with them (`get_user`): one query
    for the user, role and permissions. A superuser's permissions still come
    from ModelBackend (all of them).
    """

    def get_user(self, user_id) -> User | None:
        try:
            user = User._default_manager.with_group_facts().get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_user_permissions(self, user_obj, obj=None) -> set[str]:
        if user_obj.is_superuser or not user_obj.is_active or user_obj.is_anonymous:
            return super().get_user_permissions(user_obj, obj)
        return set() if obj is not None else set(user_obj.group_facts.own_permissions)

    def get_group_permissions(self, user_obj, obj=None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        return set(user_obj.group_facts.permissions)
