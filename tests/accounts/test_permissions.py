from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from accounts.models import Team, User
from accounts.permissions import can_edit, can_view, get_visible_or_404
from accounts.roles import Role
from accounts.scoping import scope
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_advisor_sees_only_their_own_teams(advisor, team, other_team):
    assert list(Team.objects.visible_to(advisor)) == [team]


def test_a_manager_sees_the_teams_they_manage_without_being_a_member(other_team):
    boss = UserFactory(role=Role.MANAGER)
    other_team.managers.add(boss)
    assert list(Team.objects.visible_to(boss)) == [other_team]


def test_an_admin_sees_every_team(admin, team, other_team):
    assert set(Team.objects.visible_to(admin)) == {team, other_team}


def test_nobody_unauthenticated_inactive_or_roleless_sees_anything(team):
    roleless = UserFactory(role="", team=team)
    inactive = UserFactory(role=Role.ADMIN, is_active=False)
    for user in (AnonymousUser(), roleless, inactive):
        assert not Team.objects.visible_to(user).exists()


def test_scope_returns_each_row_once_through_to_many_relations(manager, team):
    # The manager is a member *and* a manager of the team, and the team has
    # other members: a plain join would repeat it.
    UserFactory.create_batch(3, team=team)
    scoped = scope(Team.objects.all(), manager, team="pk", people=["members", "managers"])
    assert list(scoped) == [team]


def test_colleagues_are_people_on_the_same_teams(advisor, manager, other_advisor):
    assert set(User.objects.visible_to(advisor)) == {advisor, manager}
    assert other_advisor not in User.objects.visible_to(manager)


def test_an_admin_sees_every_colleague(admin, advisor, other_advisor):
    assert {advisor, other_advisor, admin} <= set(User.objects.visible_to(admin))


def test_can_view_and_can_edit_follow_the_scope_and_the_permission(
    advisor, admin, team, other_team
):
    assert can_view(advisor, team)
    assert not can_view(advisor, other_team)
    assert not can_edit(advisor, team)  # advisors may not rename teams
    assert can_edit(admin, other_team)


def test_an_object_outside_the_scope_is_a_404(advisor, other_team, team):
    assert get_visible_or_404(Team, advisor, pk=team.pk) == team
    with pytest.raises(Http404):
        get_visible_or_404(Team, advisor, pk=other_team.pk)


def test_managed_by_lists_only_managed_teams(manager, team, advisor):
    TeamFactory(name="Elsewhere")
    assert list(Team.objects.managed_by(manager)) == [team]
    assert not Team.objects.managed_by(advisor).exists()
