"""Who may open which page, and the site-wide pages (errors, /healthz)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

pytestmark = pytest.mark.django_db

EVERY_ROLE_PAGES = [
    "dashboard",
    "client-list",
    "disagreement-list",
    "disagreement-create",
    "health-board",
]
NAV_LABELS = ["Dashboard", "Clients", "Engagements", "Disagreements", "Health", "Log disagreement"]


@pytest.mark.parametrize("name", [*EVERY_ROLE_PAGES, "letgo-list"])
def test_anonymous_visitors_are_sent_to_log_in(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("role", ["advisor", "manager", "admin"])
@pytest.mark.parametrize("name", EVERY_ROLE_PAGES)
def test_every_role_opens_the_everyday_pages(client, request, role, name):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse(name)).status_code == 200


def test_an_advisor_may_not_open_letgo_review(client, advisor):
    client.force_login(advisor)
    response = client.get(reverse("letgo-list"))
    assert response.status_code == 403
    assert "You can't do that" in response.content.decode()


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_open_letgo_review(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("letgo-list")).status_code == 200


def test_the_navigation_for_an_advisor(client, advisor):
    client.force_login(advisor)
    page = client.get(reverse("dashboard")).content.decode()
    for label in NAV_LABELS:
        assert f">{label}</a>" in page
    assert "Let-go review" not in page
    assert ">Imports</a>" not in page


def test_there_is_one_log_disagreement_button(client, advisor):
    """In the navigation, on every page; the dashboard and the list add none of their own."""
    client.force_login(advisor)
    for name in ("dashboard", "disagreement-list"):
        page = client.get(reverse(name)).content.decode()
        assert page.count(">Log disagreement</a>") == 1, name


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_find_imports_in_the_navigation(client, request, role):
    client.force_login(request.getfixturevalue(role))
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("import-upload")}">Imports</a>' in page


def test_the_api_docs_link_back_to_candor(client, advisor):
    client.force_login(advisor)
    page = client.get("/api/docs/").content.decode()
    assert f'<a href="{reverse("dashboard")}">← Back to Candor</a>' in page


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_the_navigation_for_managers_and_admins_adds_letgo_review(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert ">Let-go review</a>" in client.get(reverse("dashboard")).content.decode()


def test_the_dashboard_lists_the_users_teams_and_their_managers(
    client, advisor, manager, other_team
):
    client.force_login(advisor)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Corporate Advisory" in page
    assert "managed by Charlie" in page
    assert "Private Clients" not in page


def test_an_unknown_url_shows_the_styled_404(client, advisor):
    client.force_login(advisor)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "navbar" in response.content.decode()


def test_the_500_page_renders_without_a_request_context_or_traceback(rf: RequestFactory):
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page


def test_an_exception_shows_the_500_page_not_a_traceback(client, advisor, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("advisory.records.selectors.Team.objects.visible_to", boom)
    client.raise_request_exception = False
    client.force_login(advisor)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 500
    assert "secret internals" not in response.content.decode()


def test_healthz_answers_ok_without_session_or_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "sessionid" not in response.cookies


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["healthz", "healthz-ready"])
def test_probes_answer_head_requests_too(client, name):
    """Some load balancers and uptime monitors probe with HEAD."""
    response = client.head(reverse(name))
    assert response.status_code == 200
    assert client.post(reverse(name)).status_code == 405


def test_pages_send_a_strict_content_security_policy(client, advisor):
    client.force_login(advisor)
    policy = client.get(reverse("dashboard"))["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy
    assert "unsafe-inline" not in policy
