from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.backends import RoleBackend
from accounts.models import User
from accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def perms_of(role: Role) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def test_the_migration_creates_one_group_per_role():
    assert set(Group.objects.values_list("name", flat=True)) >= {"advisor", "manager", "admin"}


def test_only_managers_and_admins_review_letgo_and_see_the_health_board():
    assert "accounts.review_letgo" not in perms_of(Role.ADVISOR)
    assert "accounts.view_health_board" not in perms_of(Role.ADVISOR)
    assert {"accounts.review_letgo", "accounts.view_health_board"} <= perms_of(Role.MANAGER)
    assert {"accounts.review_letgo", "accounts.view_health_board"} <= perms_of(Role.ADMIN)


def test_only_admins_decide_letgo_and_manage_users_and_teams():
    admin_only = {"accounts.decide_letgo", "accounts.change_user", "accounts.add_team"}
    assert admin_only <= perms_of(Role.ADMIN)
    assert not admin_only & perms_of(Role.MANAGER)
    assert not admin_only & perms_of(Role.ADVISOR)


def test_group_permissions_reach_the_user(manager, advisor):
    assert manager.has_perm("accounts.review_letgo")
    assert not advisor.has_perm("accounts.review_letgo")


def test_a_user_acts_with_their_highest_role():
    user = UserFactory(role=Role.ADVISOR)
    user.groups.add(Group.objects.get(name=Role.MANAGER))
    assert UserFactory._meta.model.objects.get(pk=user.pk).role == Role.MANAGER


def test_a_user_without_a_group_has_no_role():
    assert UserFactory(role="").role is None


def test_a_superuser_is_an_admin():
    assert UserFactory(role="", is_superuser=True).role == Role.ADMIN


def test_the_role_and_every_permission_cost_one_query(manager, django_assert_num_queries):
    """The groups' names, their permissions and the user's own, in one query."""
    user = type(manager).objects.get(pk=manager.pk)
    user.user_permissions.add(Permission.objects.get(codename="view_team"))
    user = type(manager).objects.get(pk=user.pk)
    expected = perms_of(Role.MANAGER) | {"accounts.view_team"}

    with django_assert_num_queries(1):
        assert user.role == Role.MANAGER
        assert user.has_perm("accounts.review_letgo")  # through the manager group
        assert user.has_perm("accounts.view_team")  # given to the user directly
        assert not user.has_perm("accounts.decide_letgo")
        assert user.get_all_permissions() == expected


def test_the_signed_in_user_comes_with_role_and_permissions(manager, django_assert_num_queries):
    """What a request reads (RoleBackend.get_user): the user, their role and
    every permission in one query."""
    manager.user_permissions.add(Permission.objects.get(codename="view_team"))
    Group.objects.create(name="Newsletter")  # a group without permissions
    manager.groups.add(Group.objects.get(name="Newsletter"))
    expected = perms_of(Role.MANAGER) | {"accounts.view_team"}

    with django_assert_num_queries(1):
        user = RoleBackend().get_user(manager.pk)
        assert user.role == Role.MANAGER
        assert user.group_facts.names == {Role.MANAGER, "Newsletter"}
        assert user.get_all_permissions() == expected
        assert user.has_perm("accounts.review_letgo")


def test_a_user_read_with_facts_sees_the_same_as_one_read_without(advisor, admin):
    roleless = UserFactory(role="")
    roleless.user_permissions.add(Permission.objects.get(codename="view_team"))
    for user in (advisor, admin, roleless):
        with_facts = User.objects.with_group_facts().get(pk=user.pk)
        assert with_facts.group_facts == User.objects.get(pk=user.pk).group_facts


def test_a_group_name_holding_the_separator_is_read_again(advisor, django_assert_num_queries):
    odd = Group.objects.create(name="Odd\x1fname")
    advisor.groups.add(odd)
    user = User.objects.with_group_facts().get(pk=advisor.pk)

    with django_assert_num_queries(1):  # the facts' own query, not a wrong split
        assert user.group_facts.names == {Role.ADVISOR, "Odd\x1fname"}


def test_an_inactive_or_missing_user_is_not_signed_in(advisor):
    assert RoleBackend().get_user(advisor.pk + 1000) is None
    User.objects.filter(pk=advisor.pk).update(is_active=False)
    assert RoleBackend().get_user(advisor.pk) is None


def test_a_superuser_has_every_permission(manager):
    manager.is_superuser = True
    manager.save()
    user = type(manager).objects.get(pk=manager.pk)

    assert user.role == Role.ADMIN
    assert user.get_all_permissions() == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
