"""The security log (accounts/audit.py): who was refused what, and every log-in attempt."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOGGER = "candor.security"


@pytest.fixture
def security_log(caplog) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def sign_in(client, user, log: pytest.LogCaptureFixture) -> None:
    """force_login (whose own "login succeeded" line is not what a test looks at)."""
    client.force_login(user)
    log.clear()


def events(log: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in log.records if r.name == LOGGER]


def only(log: pytest.LogCaptureFixture) -> logging.LogRecord:
    found = events(log)
    assert len(found) == 1, [r.getMessage() for r in found]
    return found[0]


def test_a_role_too_low_is_logged_with_who_what_and_when(client, advisor, security_log):
    sign_in(client, advisor, security_log)
    assert client.get(reverse("letgo-list")).status_code == 403
    record = only(security_log)
    assert record.levelno == logging.WARNING
    assert (record.event, record.status, record.method, record.path) == (
        "denied",
        403,
        "GET",
        "/let-go/",
    )
    assert (record.user_id, record.username) == (advisor.pk, "alice")
    assert record.created > 0  # the record's time is the when
    assert (
        record.getMessage() == f"denied 403: GET /let-go/ by alice (id {advisor.pk}) from 127.0.0.1"
    )


def test_a_record_outside_the_scope_is_logged(client, other_advisor, acme, security_log):
    sign_in(client, other_advisor, security_log)
    url = reverse("client-detail", args=[acme.pk])
    assert client.get(url).status_code == 404
    record = only(security_log)
    assert (record.status, record.path, record.username) == (404, url, "bob")


def test_an_unknown_address_is_not_a_refusal(client, advisor, security_log):
    sign_in(client, advisor, security_log)
    assert client.get("/no-such-page/").status_code == 404
    assert client.get("/api/no-such-thing/").status_code == 404
    assert events(security_log) == []


def test_the_api_without_credentials_is_logged_as_401(acme, security_log):
    response = APIClient().get("/api/clients/", HTTP_AUTHORIZATION="Bearer cnd_wrong")
    assert response.status_code == 401
    record = only(security_log)
    assert (record.status, record.user_id, record.username) == (401, None, "anonymous")
    assert record.path == "/api/clients/"
    assert "cnd_wrong" not in record.getMessage()


def test_the_api_outside_the_scope_is_logged(other_advisor, acme, security_log):
    api = APIClient()
    api.force_authenticate(other_advisor)  # no log-in event: it bypasses authentication
    assert api.get(f"/api/clients/{acme.pk}/").status_code == 404
    assert only(security_log).username == "bob"


def test_a_post_without_csrf_token_is_logged(advisor, acme, security_log):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    sign_in(browser, advisor, security_log)
    assert browser.post(reverse("client-archive", args=[acme.pk])).status_code == 403
    record = only(security_log)
    assert (record.method, record.status, record.username) == ("POST", 403, "alice")


def test_the_admin_site_turning_away_a_manager_is_logged(client, manager, security_log):
    sign_in(client, manager, security_log)
    assert client.get("/admin/").status_code == 302
    record = only(security_log)
    assert (record.status, record.path, record.username) == (302, "/admin/", "charlie")
    assert "not an admin" in record.getMessage()


def test_a_successful_login_is_logged(client, advisor, security_log):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    record = only(security_log)
    assert record.levelno == logging.INFO
    assert (record.event, record.user_id, record.username) == (
        "login succeeded",
        advisor.pk,
        "alice",
    )
    assert (record.method, record.path) == ("POST", reverse("login"))


def test_a_failed_login_is_logged_without_the_password(client, advisor, security_log):
    client.post(reverse("login"), {"username": "alice", "password": "not-my-password"})
    record = only(security_log)
    assert (record.event, record.username, record.user_id) == ("login failed", "alice", None)
    assert "not-my-password" not in record.getMessage()
    assert all("not-my-password" not in r.getMessage() for r in security_log.records)


def test_a_lockout_is_logged(client, advisor, security_log):
    for _ in range(5):
        client.post(reverse("login"), {"username": "alice", "password": "wrong-password"})
    found = [(r.event, r.username) for r in events(security_log)]
    # django-axes announces the lockout while it handles the fifth failure.
    assert found == [("login failed", "alice")] * 4 + [
        ("locked out", "alice"),
        ("login failed", "alice"),
    ]
    assert "account locked" in events(security_log)[5].getMessage()

    security_log.clear()
    assert (
        client.post(reverse("login"), {"username": "alice", "password": PASSWORD}).status_code
        == 429
    )
    assert {r.event for r in events(security_log)} == {"login failed", "locked out"}


def test_a_logout_is_logged(client, advisor, security_log):
    sign_in(client, advisor, security_log)
    client.post(reverse("logout"))
    assert only(security_log).event == "logout"


def test_a_username_cannot_forge_a_log_line(client, db, security_log):
    client.post(reverse("login"), {"username": "mallory\ndenied 403: fake", "password": "x"})
    record = only(security_log)
    assert "\n" not in record.getMessage()
    assert record.username == "mallory?denied 403: fake"


def test_pages_the_user_may_open_log_nothing(client, advisor, acme, security_log):
    sign_in(client, advisor, security_log)
    assert client.get(reverse("client-detail", args=[acme.pk])).status_code == 200
    assert events(security_log) == []
