from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_admin_role_opens_the_admin(client, admin):
    client.force_login(admin)
    assert client.get(reverse("admin:index")).status_code == 200


def test_staff_of_another_role_is_kept_out(client):
    manager = UserFactory(role=Role.MANAGER, is_staff=True)
    client.force_login(manager)
    response = client.get(reverse("admin:advisory_client_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


def test_a_firm_admin_cannot_make_anyone_superuser(client, admin, advisor):
    client.force_login(admin)
    page = client.get(reverse("admin:accounts_user_change", args=[advisor.pk])).content.decode()
    assert 'name="groups"' in page
    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page
