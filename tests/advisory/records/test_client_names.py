"""A taken client name: refused the same way, naming no team, from a form, the
API and an import (names are unique firm-wide; another team's client must not
be revealed by the message)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from advisory.models import NAME_TAKEN, Client
from advisory.transfer import imports
from tests.advisory.api.test_api import api
from tests.advisory.transfer.importing import csv_bytes, new_client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def hidden(other_advisor, other_team) -> Client:
    """Another team's client, which neither `advisor` nor `manager` can see."""
    return ClientFactory(name="Secret Holdings", lead_advisor=other_advisor, team=other_team)


def test_the_client_form_says_the_name_is_in_use_without_naming_a_team(client, advisor, hidden):
    client.force_login(advisor)

    response = client.post(
        reverse("client-create"),
        {"name": "secret  HOLDINGS", "kind": "organization", "lead_advisor": advisor.pk},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert NAME_TAKEN in page
    assert hidden.team.name not in page
    assert Client.objects.count() == 1


def test_the_api_says_the_same(advisor, hidden):
    response = api(advisor).post("/api/clients/", {"name": "Secret Holdings"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"name": [NAME_TAKEN]}
    assert Client.objects.count() == 1


def test_an_import_says_the_same(manager, hidden):
    data = csv_bytes([new_client(name="SECRET HOLDINGS")])

    result = imports.plan_import(imports.read_table(data, "clients"), user=manager)

    assert [(p.line, p.column, p.message) for p in result.problems] == [(2, "name", NAME_TAKEN)]
    assert hidden.team.name not in NAME_TAKEN
