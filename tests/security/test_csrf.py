"""A POST without the CSRF token is refused (403) and changes nothing; the same
POST with the token goes through, so it is the token that made the difference.

Every page's POST is also tried without a token in test_authorization_walk.py.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client as BrowserClient
from django.urls import reverse

from accounts.models import ApiToken
from advisory.models import Client, Comment
from tests.security.html import inline_code

pytestmark = pytest.mark.django_db

NEW_CLIENT = {
    "name": "Globex",
    "kind": "organization",
    "sector": "Energy",
    "contact_name": "Hank Scorpio",
    "contact_email": "hank@globex.example",
    "client_since": "2020-05-01",
}


@pytest.fixture
def web(advisor) -> BrowserClient:
    """A browser that gets CSRF checks, as real ones do. (Not `browser`:
    pytest-playwright's fixture of that name would run these in Chromium.)"""
    browser = BrowserClient(enforce_csrf_checks=True)
    browser.force_login(advisor)
    return browser


def token(browser: BrowserClient, page: str) -> str:
    """The token a form on `page` would carry (the cookie's value)."""
    browser.get(page)
    return browser.cookies[settings.CSRF_COOKIE_NAME].value


def test_creating_a_client_needs_the_token(web, advisor):
    data = {**NEW_CLIENT, "lead_advisor": advisor.pk}
    refused = web.post(reverse("client-create"), data)
    assert refused.status_code == 403
    assert not Client.objects.filter(name="Globex").exists()

    data["csrfmiddlewaretoken"] = token(web, reverse("client-create"))
    assert web.post(reverse("client-create"), data).status_code == 302
    assert Client.objects.filter(name="Globex").exists()


def test_a_comment_needs_the_token(web, dispute):
    url = reverse("comment-create", args=[dispute.pk])
    assert web.post(url, {"body": "Forged."}).status_code == 403
    assert not Comment.objects.exists()
    csrf = token(web, dispute.get_absolute_url())
    assert web.post(url, {"body": "Mine.", "csrfmiddlewaretoken": csrf}).status_code == 302
    assert Comment.objects.get().body == "Mine."


def test_archiving_needs_the_token(web, acme):
    response = web.post(
        reverse("client-archive", args=[acme.pk]),
        {"archive": "true", "reason": "Forged", "version": acme.version},
    )
    assert response.status_code == 403
    acme.refresh_from_db()
    assert not acme.is_archived
    assert acme.history.count() == 1


def test_the_refusal_page_says_what_happened_in_the_sites_own_style(web, acme):
    response = web.post(reverse("client-archive", args=[acme.pk]))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Nothing was saved" in page and "security token (CSRF)" in page
    assert inline_code(page) == []  # Django's own failure page has an inline <style>


def test_issuing_an_api_token_needs_the_token(web):
    assert web.post(reverse("profile"), {"name": "Forged"}).status_code == 403
    assert not ApiToken.objects.exists()


def test_the_api_with_the_browser_session_needs_the_token(web, advisor):
    body = json.dumps({**NEW_CLIENT, "name": "Initech"})
    response = web.post("/api/clients/", body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Client.objects.filter(name="Initech").exists()


def test_the_api_with_a_personal_token_needs_no_csrf_token(advisor):
    # A forged cross-site request cannot carry the Authorization header.
    _token, secret = ApiToken.objects.issue(user=advisor, name="Script")
    api = BrowserClient(enforce_csrf_checks=True)
    response = api.post(
        "/api/clients/",
        json.dumps({**NEW_CLIENT, "name": "Initech"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 201, response.content
    assert Client.objects.filter(name="Initech").exists()
