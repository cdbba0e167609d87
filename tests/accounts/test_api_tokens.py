"""Personal API tokens: created, named and revoked on the profile page, shown
once, stored hashed, and accepted by the API until revoked."""

from __future__ import annotations

import datetime
import hashlib

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = "/accounts/profile/"
CLIENTS = "/api/clients/"


def bearer(secret: str, keyword: str = "Bearer") -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")
    return api


def issue(user, name: str = "Reporting script") -> tuple[ApiToken, str]:
    return ApiToken.objects.issue(user=user, name=name)


# --- The profile page ----------------------------------------------------------------


def test_the_profile_page_needs_a_login(client):
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_it_lists_the_users_own_tokens_without_their_secrets(client, advisor, other_advisor):
    token, secret = issue(advisor, "Nightly export")
    issue(other_advisor, "Bob's script")
    client.force_login(advisor)
    response = client.get(PROFILE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nightly export" in html
    assert token.key_prefix in html
    assert secret not in html
    assert "Bob&#x27;s script" not in html and "Bob's script" not in html
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_creating_a_token_shows_the_secret_once_and_stores_only_its_hash(client, advisor):
    client.force_login(advisor)
    response = client.post(PROFILE, {"name": "  Reporting script ", "lifetime": "90"})
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.expires_at == token.created_at + datetime.timedelta(days=90)
    secret = response.context["secret"]
    assert secret.startswith("cnd_") and len(secret) > 40
    assert secret in response.content.decode()
    assert "will not be shown again" in response.content.decode()
    assert (token.user, token.name) == (advisor, "Reporting script")
    assert token.key_prefix == secret[:8]
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {token.name, token.key_prefix, token.key_hash}
    # Shown once: the next visit lists the token but not its secret.
    assert secret not in client.get(PROFILE).content.decode()


def test_each_token_is_different(advisor):
    secrets = {issue(advisor)[1] for _ in range(5)}
    assert len(secrets) == 5


def test_a_token_needs_a_name(client, advisor):
    client.force_login(advisor)
    response = client.post(PROFILE, {"name": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_a_token_keeps_it_listed_as_revoked(client, advisor):
    token, secret = issue(advisor)
    client.force_login(advisor)
    response = client.post(reverse("api-token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert response.url == PROFILE
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "Revoked" in client.get(PROFILE).content.decode()
    assert bearer(secret).get(CLIENTS).status_code == 401


def test_revoking_someone_elses_token_answers_404(client, advisor, other_advisor):
    token, secret = issue(other_advisor)
    client.force_login(advisor)
    response = client.post(reverse("api-token-revoke", args=[token.pk]))
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert bearer(secret).get(CLIENTS).status_code == 200


def test_revoke_is_post_only(client, advisor):
    token, _ = issue(advisor)
    client.force_login(advisor)
    assert client.get(reverse("api-token-revoke", args=[token.pk])).status_code == 405


# --- Using a token ----------------------------------------------------------------


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_a_token_authenticates_as_its_user(advisor, acme, keyword):
    _, secret = issue(advisor)
    response = bearer(secret, keyword).get(CLIENTS)
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["Acme Holdings"]


def test_a_token_needs_no_csrf_token_to_write(advisor):
    _, secret = issue(advisor)
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = api.post(CLIENTS, {"name": "Initech"}, format="json")
    assert response.status_code == 201, response.json()


def test_the_browser_session_works_and_needs_the_csrf_token_to_write(advisor, acme):
    api = APIClient(enforce_csrf_checks=True)
    api.force_login(advisor)
    assert api.get(CLIENTS).status_code == 200
    response = api.post(CLIENTS, {"name": "Initech"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cnd_not-a-real-token",
        "Bearer",
        "Bearer two parts",
        "Token ",
    ],
)
def test_a_bad_token_answers_401_with_a_challenge(db, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    response = api.get(CLIENTS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_answer_401_with_a_challenge(db):
    response = APIClient().get(CLIENTS)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_revoked_token_is_refused(advisor):
    token, secret = issue(advisor)
    token.revoke()
    response = bearer(secret).get(CLIENTS)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}


def test_an_inactive_users_token_is_refused(advisor):
    _, secret = issue(advisor)
    advisor.is_active = False
    advisor.save()
    assert bearer(secret).get(CLIENTS).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(advisor):
    token, secret = issue(advisor)
    api = bearer(secret)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.get(CLIENTS)
    token.refresh_from_db()
    assert token.last_used_at == start
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        api.get(CLIENTS)
    token.refresh_from_db()
    assert token.last_used_at == start
    later = start + datetime.timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        api.get(CLIENTS)
    token.refresh_from_db()
    assert token.last_used_at == later


def test_a_token_acts_with_its_users_role_and_scope(other_advisor, acme):
    _, secret = issue(other_advisor)
    api = bearer(secret)
    assert api.get(CLIENTS).json()["results"] == []
    assert api.get(f"{CLIENTS}{acme.pk}/").status_code == 404


def test_a_user_without_a_role_can_hold_a_token_but_gets_403(team):
    nobody = UserFactory(username="eve", role="", team=team)
    _, secret = issue(nobody)
    assert bearer(secret).get(CLIENTS).status_code == 403


# --- Expiry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "days"), [("30", 30), ("90", 90), ("365", 365), ("never", None)]
)
def test_a_token_gets_the_expiry_chosen_at_creation(client, advisor, choice, days):
    client.force_login(advisor)

    client.post(PROFILE, {"name": "Script", "lifetime": choice})

    token = ApiToken.objects.get()
    if days is None:
        assert token.expires_at is None
    else:
        assert token.expires_at == token.created_at + datetime.timedelta(days=days)


def test_an_expired_token_is_refused_and_says_so(advisor):
    token, secret = ApiToken.objects.issue(
        user=advisor, name="Short", lifetime=datetime.timedelta(days=30)
    )
    with time_machine.travel(token.expires_at + datetime.timedelta(seconds=1)):
        response = bearer(secret).get("/api/clients/")
        assert not ApiToken.objects.active().exists()

    assert response.status_code == 401
    assert "This token expired on" in response.json()["detail"]


def test_the_profile_says_when_a_token_expires(client, advisor):
    ApiToken.objects.issue(user=advisor, name="Short", lifetime=datetime.timedelta(days=30))
    client.force_login(advisor)

    assert "Active until" in client.get(PROFILE).content.decode()


# --- A new password ends every token ---------------------------------------------------


def test_changing_the_password_revokes_the_tokens_and_the_profile_says_why(client, advisor):
    _, secret = issue(advisor)
    client.force_login(advisor)

    client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-brand-new-pass-42",
            "new_password2": "a-brand-new-pass-42",
        },
    )

    token = ApiToken.objects.get()
    assert token.revoked_at is not None
    assert token.revoked_because == ApiToken.PASSWORD_CHANGED
    assert bearer(secret).get("/api/clients/").status_code == 401
    assert "because the password changed" in client.get(PROFILE).content.decode()


def test_resetting_the_password_revokes_the_tokens(advisor):
    issue(advisor)
    advisor.set_password("a-reset-password-99")
    advisor.save()

    assert not ApiToken.objects.active().exists()


def test_a_log_in_that_only_rehashes_the_password_keeps_the_tokens(advisor, settings):
    issue(advisor)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    assert advisor.check_password(PASSWORD)  # upgraded to PBKDF2 and saved

    advisor.refresh_from_db()
    assert advisor.password.startswith("pbkdf2_")
    assert ApiToken.objects.active().count() == 1


# --- Guessing is slowed ----------------------------------------------------------------


def test_failed_tokens_from_one_address_are_throttled_and_logged_once(advisor, caplog):
    from accounts.authentication import FAILURE_LIMIT, FAILURE_WINDOW

    _, secret = issue(advisor)
    guesses = [bearer(f"cnd_guess{i}").get("/api/clients/") for i in range(FAILURE_LIMIT)]
    assert {response.status_code for response in guesses} == {401}

    blocked = bearer(f"cnd_guess{FAILURE_LIMIT}").get("/api/clients/")
    also_blocked = bearer(secret).get("/api/clients/")  # a right token from there waits too

    assert blocked.status_code == also_blocked.status_code == 429
    assert 0 < int(blocked["Retry-After"]) <= FAILURE_WINDOW
    assert caplog.text.count("api tokens throttled") == 1
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=FAILURE_WINDOW + 1)):
        assert bearer(secret).get("/api/clients/").status_code == 200
