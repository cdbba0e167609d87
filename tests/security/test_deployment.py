"""Deployment security: production settings, response headers, cookies,
passwords, and pages the strict Content-Security-Policy can serve whole.

`python manage.py check --deploy` under production settings is checked in
tests/test_settings.py (test_a_production_configuration_passes_check_deploy).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from bench.run import free_port
from tests.factories import PASSWORD
from tests.security.html import inline_code
from tests.test_settings import CONFIG_VARS, ROOT, run

PRODUCTION = {
    "SECRET_KEY": "a-long-random-production-key-with-enough-entropy-0123456789-abcdef",
    "ALLOWED_HOSTS": "candor.example.com",
    "SECURE_SSL": "true",
    # Nothing below touches the database; an empty one keeps it that way.
    "DATABASE_URL": "sqlite://:memory:",
}

# Runs in a fresh interpreter configured only by PRODUCTION.
ASK_PRODUCTION = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
browser = Client(HTTP_HOST="candor.example.com")
https = browser.get("/healthz", secure=True)
http = browser.get("/clients/")
# The 400 page renders the base template; no collectstatic ran for its manifest.
from django.test.utils import override_settings
plain_static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain_static}):
    bad_host = browser.get("/clients/", secure=True, HTTP_HOST="evil.example.net")
validators = {
    v["NAME"].rsplit(".", 1)[1]: v.get("OPTIONS", {}) for v in settings.AUTH_PASSWORD_VALIDATORS
}
print(json.dumps({
    "https": {"status": https.status_code, "headers": dict(https.headers)},
    "http": {"status": http.status_code, "location": http.get("Location")},
    "bad_host": {"status": bad_host.status_code, "headers": dict(bad_host.headers)},
    "settings": {name: getattr(settings, name) for name in [
        "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE",
        "SESSION_COOKIE_AGE", "SESSION_EXPIRE_AT_BROWSER_CLOSE", "SECURE_HSTS_SECONDS",
    ]},
    "validators": validators,
}))
"""

STRICT_CSP = {
    "default-src": ["'self'"],
    # Plus the request's nonce (`'nonce-…'`) on pages whose templates use it.
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def directives(policy: str) -> dict[str, list[str]]:
    """The policy's directives, without the per-request nonce."""
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = [value for value in values if not value.startswith("'nonce-")]
    return parsed


@pytest.fixture(scope="module")
def production() -> dict:
    result = run(["-c", ASK_PRODUCTION], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_production_sends_hsts_and_the_security_headers(production):
    https = production["https"]
    assert https["status"] == 200
    headers = {name.lower(): value for name, value in https["headers"].items()}
    assert headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert directives(headers["content-security-policy"]) == STRICT_CSP


def test_a_disallowed_hosts_400_carries_the_same_security_headers(production):
    bad = production["bad_host"]
    assert bad["status"] == 400
    headers = {name.lower(): value for name, value in bad["headers"].items()}
    good = {name.lower(): value for name, value in production["https"]["headers"].items()}
    for name in [
        "strict-transport-security",
        "x-content-type-options",
        "referrer-policy",
        "cross-origin-opener-policy",
        "x-frame-options",
    ]:
        assert headers.get(name) == good[name], name
    assert directives(headers["content-security-policy"]) == STRICT_CSP


def test_production_redirects_plain_http_to_https(production):
    assert production["http"] == {"status": 301, "location": "https://candor.example.com/clients/"}


def test_production_cookies_are_secure_httponly_and_samesite(production):
    config = production["settings"]
    assert config["DEBUG"] is False
    assert config["SESSION_COOKIE_SECURE"] is config["CSRF_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is config["CSRF_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == config["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert config["SECURE_HSTS_SECONDS"] >= 365 * 24 * 60 * 60
    # Expiry after two idle hours (tests/accounts/test_session_expiry.py), not at a
    # browser close that some browsers never do.
    assert config["SESSION_COOKIE_AGE"] == 2 * 60 * 60
    assert config["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is False


def test_production_asks_for_passwords_of_twelve_characters(production):
    assert production["validators"]["MinimumLengthValidator"] == {"min_length": 12}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["dashboard", "client-list", "health-board", "password_change"])
def test_signed_in_pages_are_private_and_never_stored(client, advisor, name):
    client.force_login(advisor)

    response = client.get(reverse(name))

    assert response.status_code == 200
    assert {"private", "no-store"} <= {
        part.strip() for part in response["Cache-Control"].split(",")
    }


@pytest.mark.django_db
def test_pages_send_the_strict_policy_and_the_headers(client, advisor):
    client.force_login(advisor)
    response = client.get(reverse("dashboard"))
    assert directives(response["Content-Security-Policy"]) == STRICT_CSP
    assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_logging_in_sets_httponly_samesite_cookies(client, advisor, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True  # as SECURE_SSL sets them
    csrf = client.get(reverse("login"), secure=True).cookies[settings.CSRF_COOKIE_NAME]
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    for cookie in (csrf, session):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
    assert session["max-age"] == settings.SESSION_COOKIE_AGE


@pytest.mark.django_db
def test_an_eleven_character_password_is_refused(advisor):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("tulip-ocean", advisor)
    validate_password("tulip-ocean!", advisor)


@pytest.mark.django_db
def test_the_password_change_form_says_so(client, advisor):
    client.force_login(advisor)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "tulip-ocean", "new_password2": "tulip-ocean"},
    )
    assert response.status_code == 200
    assert "at least 12 characters" in response.content.decode()


def test_the_demo_password_is_long_enough():
    assert len(settings.CANDOR_DEMO_PASSWORD) >= 12


# --- No inline code ------------------------------------------------------------------
# The authorization walk (test_authorization_walk.py) runs the same check on every
# page it opens; these are the main pages, named, for each role.

MAIN_PAGES = [
    "dashboard",
    "client-list",
    "client-create",
    "client-detail",
    "client-history",
    "client-dossier",
    "engagement-list",
    "engagement-detail",
    "disagreement-list",
    "disagreement-create",
    "disagreement-detail",
    "disagreement-edit",
    "disagreement-decision",
    "health-board",
    "notification-list",
    "notification-preferences",
    "profile",
]
REVIEWER_PAGES = ["letgo-list", "advisor-breakdown", "import-upload"]


@pytest.fixture
def pages(acme, dispute) -> dict[str, str]:
    ids = {"client": acme.pk, "engagement": dispute.engagement_id, "disagreement": dispute.pk}
    urls = {}
    for name in MAIN_PAGES + REVIEWER_PAGES:
        kind = name.split("-")[0]
        pk = (
            ids.get(kind)
            if name.endswith(("detail", "history", "dossier", "edit", "decision"))
            else None
        )
        urls[name] = reverse(name, args=[pk] if pk else [])
    return urls


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["advisor", "manager", "admin"])
def test_no_page_has_inline_script_or_style(client, request, role, pages):
    client.force_login(request.getfixturevalue(role))
    names = MAIN_PAGES + (REVIEWER_PAGES if role != "advisor" else [])
    for name in names:
        response = client.get(pages[name])
        assert response.status_code == 200, name
        html = response.content.decode()
        assert "<script" in html, name  # the check below has something to look at
        assert inline_code(html) == [], f"{name}: {inline_code(html)}"


@pytest.mark.django_db
def test_the_log_in_and_error_pages_have_no_inline_code(client, advisor):
    assert inline_code(client.get(reverse("login")).content.decode()) == []
    client.force_login(advisor)
    assert inline_code(client.get("/no-such-page/").content.decode()) == []
    assert inline_code(client.get(reverse("letgo-list")).content.decode()) == []  # 403


def test_the_checker_finds_what_the_policy_refuses():
    assert inline_code('<script src="/static/a.js"></script>') == []
    assert inline_code('<script type="application/json">{"a": 1}</script>') == []
    assert len(inline_code("<script>alert(1)</script>")) == 1
    assert len(inline_code('<button onclick="go()">Go</button>')) == 1
    assert len(inline_code('<p style="color: red">x</p>')) == 1
    assert len(inline_code("<style>p {}</style>")) == 1
    assert len(inline_code('<a href="javascript:go()">x</a>')) == 1


def test_gunicorn_with_candors_config_sends_no_server_banner(tmp_path):
    """docs/deploy.md serves with `gunicorn -c config/gunicorn.py`: no "Server: gunicorn"."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", ENV_FILE="", **PRODUCTION)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "config/gunicorn.py",
            "config.wsgi",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "gunicorn.log").open("wb"),
        start_new_session=True,
    )
    try:
        response = _get_when_up(f"http://127.0.0.1:{port}/healthz", server, tmp_path)
        assert response.status == 200
        assert response.getheader("Server") is None
        # The application's own headers are untouched.
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert not (tmp_path / "control.sock").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=15)


def _get_when_up(url: str, server: subprocess.Popen, tmp_path) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + 30
    while True:
        assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        try:
            # X-Forwarded-Proto: production redirects plain HTTP (SECURE_SSL).
            connection.request(
                "GET",
                parts.path,
                headers={"Host": "candor.example.com", "X-Forwarded-Proto": "https"},
            )
            response = connection.getresponse()
            response.read()
            return response
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        finally:
            connection.close()
