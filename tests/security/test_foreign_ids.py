"""Ids of records outside one's scope, given where a page takes ids besides its
URL (query strings, form fields, API bodies): 404, or the field's error, and
nothing saved. The URL patterns themselves are walked in test_authorization_walk.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from advisory.models import Client, Disagreement, Engagement
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_advisor) -> Engagement:
    """An engagement of the other team's client."""
    zenith = ClientFactory(name="Zenith Family Office", lead_advisor=other_advisor)
    return EngagementFactory(client=zenith, title="Estate plan review")


def test_preselecting_someone_elses_client_or_engagement_answers_404(client, advisor, theirs):
    client.force_login(advisor)
    log = reverse("disagreement-create")
    assert client.get(f"{log}?client={theirs.client_id}").status_code == 404
    assert client.get(f"{log}?engagement={theirs.pk}").status_code == 404
    new = reverse("engagement-create")
    assert client.get(f"{new}?client={theirs.client_id}").status_code == 404


def test_the_forms_do_not_offer_other_teams_records(client, advisor, acme_engagement, theirs):
    client.force_login(advisor)
    for name in ("disagreement-create", "engagement-create", "client-create"):
        page = client.get(reverse(name)).content.decode()
        assert "Zenith" not in page and "Estate plan review" not in page, name


def test_logging_a_disagreement_on_someone_elses_engagement_saves_nothing(
    client, advisor, acme_engagement, theirs
):
    client.force_login(advisor)
    response = client.post(
        reverse("disagreement-create"),
        {
            "engagement": theirs.pk,
            "occurred_on": "2026-01-05",
            "title": "Planted",
            "topic": "scope",
            "client_request": "x",
            "recommendation": "y",
            "rationale": "z",
            "severity": "low",
            "tone": "tense",
        },
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Disagreement.objects.filter(title="Planted").exists()


def test_an_engagement_for_someone_elses_client_saves_nothing(client, advisor, acme, theirs):
    client.force_login(advisor)
    response = client.post(
        reverse("engagement-create"),
        {
            "client": theirs.client_id,
            "title": "Planted",
            "service_line": "Audit",
            "lead_advisor": advisor.pk,
            "status": "active",
            "start_date": "2026-01-05",
        },
    )
    assert response.status_code == 400
    assert not Engagement.objects.filter(title="Planted").exists()


def test_the_api_refuses_someone_elses_engagement_in_a_body(advisor, theirs):
    api = APIClient()
    api.force_authenticate(advisor)
    response = api.post(
        "/api/disagreements/",
        {
            "engagement": theirs.pk,
            "occurred_on": "2026-01-05",
            "title": "Planted",
            "topic": "scope",
            "client_request": "x",
            "recommendation": "y",
            "severity": "low",
            "tone": "tense",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "engagement" in response.json()
    assert not Disagreement.objects.filter(title="Planted").exists()


def test_a_let_go_proposal_cannot_cite_another_clients_disagreement(
    client, advisor, acme, acme_engagement, theirs
):
    foreign = DisagreementFactory(engagement=theirs, title="Trust structure rejected")
    client.force_login(advisor)
    response = client.post(
        reverse("letgo-propose", args=[acme.pk]),
        {"reason": "overridden_advice", "justification": "Planted", "evidence": [foreign.pk]},
    )
    assert response.status_code == 400
    assert Client.objects.get(pk=acme.pk).status == Client.Status.ACTIVE
