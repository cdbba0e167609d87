"""The Django admin shows the records but changes nothing: the app's services do."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return UserFactory(username="root", role="", is_superuser=True, is_staff=True)


@pytest.mark.parametrize("model", ["client", "engagement", "disagreement", "comment", "amendment"])
def test_nobody_can_add_records_in_the_admin(client, superuser, model):
    client.force_login(superuser)
    assert client.get(reverse(f"admin:advisory_{model}_add")).status_code == 403


def test_a_disagreement_can_be_viewed_but_not_changed_or_deleted(client, superuser, dispute):
    client.force_login(superuser)
    change_url = reverse("admin:advisory_disagreement_change", args=[dispute.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    assert "Save" not in page.content.decode()
    response = client.post(change_url, {"title": "Rewritten"})
    assert response.status_code == 403
    delete_url = reverse("admin:advisory_disagreement_delete", args=[dispute.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    dispute.refresh_from_db()
    assert dispute.title == "Stock count skipped"


def test_the_admin_shows_a_records_history(client, superuser, dispute):
    client.force_login(superuser)
    url = reverse("admin:advisory_disagreement_history", args=[dispute.pk])
    assert client.get(url).status_code == 200


def test_an_old_version_cannot_be_restored_over_the_record(client, superuser, dispute):
    """simple-history's revert form would save a POST; the record stays as it is."""
    client.force_login(superuser)
    version = dispute.history.earliest()
    url = reverse("admin:advisory_disagreement_simple_history", args=[dispute.pk, version.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"title": "Rewritten", "client_request": "Rewritten"})
    assert response.status_code == 403
    dispute.refresh_from_db()
    assert dispute.title == "Stock count skipped"
    assert dispute.history.count() == 1
