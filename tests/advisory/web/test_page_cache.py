"""Whole-page caching (advisory/web/page_cache.py): a repeat view is served from
the cache, and no page is ever served after a write that changes it."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache, caches
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client as BrowserClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Team, User
from advisory.models import Client, Disagreement
from advisory.web import page_cache
from tests.factories import ClientFactory, DisagreementFactory

pytestmark = pytest.mark.django_db

# A repeat view: the session, and the user with their role and permissions.
QUERIES_FROM_CACHE = 2
CACHED_PAGES = ["dashboard", "client-list", "engagement-list", "disagreement-list", "health-board"]
NONCE = re.compile(r'nonce="([^"]+)"')


def _sign_in(client, user: User) -> None:
    client.force_login(user)
    # A browser has its CSRF cookie from the log-in page; a page that makes
    # a new CSRF secret is not kept (the cookie is set on the way out).
    client.get(reverse("profile"))


def _view_twice(client, url: str):
    first = client.get(url)
    second = client.get(url)
    assert first.status_code == second.status_code == 200
    return first, second


@pytest.mark.parametrize("name", CACHED_PAGES)
def test_a_repeat_view_is_served_from_the_cache(
    client, manager, dispute, django_assert_num_queries, name
):
    _sign_in(client, manager)
    first = client.get(reverse(name))

    with django_assert_num_queries(QUERIES_FROM_CACHE):
        second = client.get(reverse(name))

    assert NONCE.sub("", second.content.decode()) == NONCE.sub("", first.content.decode())


def test_the_client_page_and_the_breakdown_are_cached_too(
    client, manager, acme, django_assert_num_queries
):
    _sign_in(client, manager)
    for url in (acme.get_absolute_url(), reverse("advisor-breakdown")):
        client.get(url)
        with django_assert_num_queries(QUERIES_FROM_CACHE):
            assert client.get(url).status_code == 200


def test_without_page_cache_every_view_renders(client, manager, settings):
    settings.PAGE_CACHE = False
    _sign_in(client, manager)
    client.get(reverse("client-list"))

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("client-list"))
    assert len(queries) > QUERIES_FROM_CACHE


def test_the_users_own_write_shows_at_once(client, advisor, acme):
    _sign_in(client, advisor)
    client.get(reverse("client-list"))

    response = client.post(
        reverse("client-create"),
        {"name": "Globex", "kind": "organization", "lead_advisor": advisor.pk},
    )
    assert response.status_code == 302

    landing = client.get(reverse("client-list"))  # with "Client created.": not kept
    again = client.get(reverse("client-list"))
    assert "Globex" in landing.content.decode()
    assert "Globex" in again.content.decode()


def test_someone_elses_write_shows_at_once(client, manager, advisor, acme_engagement):
    _sign_in(client, manager)
    assert "Tax dispute" not in client.get(reverse("disagreement-list")).content.decode()

    DisagreementFactory(engagement=acme_engagement, logged_by=advisor, title="Tax dispute")

    assert "Tax dispute" in client.get(reverse("disagreement-list")).content.decode()


def test_a_bulk_update_without_signals_shows_at_once(client, manager, acme):
    _sign_in(client, manager)
    client.get(acme.get_absolute_url())

    Client.objects.filter(pk=acme.pk).update(name="Acme Renamed")

    assert "Acme Renamed" in client.get(acme.get_absolute_url()).content.decode()


def test_a_flash_message_is_shown_once_and_never_kept(client, advisor):
    _sign_in(client, advisor)
    response = client.post(
        reverse("client-create"),
        {"name": "Globex", "kind": "organization", "lead_advisor": advisor.pk},
    )
    assert response.status_code == 302

    landing = client.get(reverse("client-list"))
    again = client.get(reverse("client-list"))
    third = client.get(reverse("client-list"))

    assert "Client created." in landing.content.decode()
    assert "Client created." not in again.content.decode()
    assert "Client created." not in third.content.decode()


def test_a_cached_page_carries_this_responses_nonce(client, manager):
    _sign_in(client, manager)
    first, second = _view_twice(client, reverse("health-board"))

    first_nonces = set(NONCE.findall(first.content.decode()))
    second_nonces = set(NONCE.findall(second.content.decode()))
    assert len(second_nonces) == 1
    assert second_nonces != first_nonces
    [nonce] = second_nonces
    assert f"'nonce-{nonce}'" in second.headers["Content-Security-Policy"]


def test_a_cached_pages_csrf_token_is_accepted(manager, acme):
    browser = BrowserClient(enforce_csrf_checks=True)
    _sign_in(browser, manager)
    url = acme.get_absolute_url()
    browser.get(url)
    cached = browser.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', cached).group(1)

    response = browser.post(reverse("logout"), {"csrfmiddlewaretoken": token})

    assert response.status_code == 302  # not 403: the token still matches the cookie


def test_each_user_has_their_own_pages(client, advisor, other_advisor, acme):
    ClientFactory(name="Initech", lead_advisor=other_advisor, team=other_advisor.teams.get())
    theirs = BrowserClient()
    _sign_in(client, advisor)
    _sign_in(theirs, other_advisor)

    _first, mine = _view_twice(client, reverse("client-list"))
    _first, other_page = _view_twice(theirs, reverse("client-list"))

    assert "Acme" in mine.content.decode() and "Initech" not in mine.content.decode()
    assert "Initech" in other_page.content.decode() and "Acme" not in other_page.content.decode()


def test_the_access_checks_run_on_every_view(client, advisor, acme):
    _sign_in(client, advisor)
    assert client.get(acme.get_absolute_url()).status_code == 200
    cache_generation = page_cache.current_generation()

    advisor.groups.clear()
    User.objects.filter(pk=advisor.pk).update(is_active=False)

    assert page_cache.current_generation() > cache_generation
    assert client.get(acme.get_absolute_url()).status_code == 302  # to the log-in page


def test_a_write_in_a_transaction_moves_the_generation_on_at_commit(acme):
    before = page_cache.current_generation()
    with transaction.atomic():
        Client.objects.filter(pk=acme.pk).update(name="One")
        Client.objects.filter(pk=acme.pk).update(name="Two")
        registered = [
            entry
            for entry in connection.run_on_commit
            if getattr(entry[1], "func", None) is page_cache._after_commit
        ]
        # Its own next page read sees the uncommitted writes: once, not per statement.
        assert page_cache.current_generation() == before + 1
        assert page_cache.current_generation() == before + 1

    assert len(registered) == 1  # and once more when it commits


@pytest.mark.django_db(transaction=True)
def test_a_committed_write_moves_the_generation_on_when_it_commits():
    # A team: no role groups needed (an earlier transactional test may have
    # flushed the ones the migrations made).
    tax = Team.objects.create(name="Tax")
    stored = caches["default"].get
    before = page_cache.current_generation()
    with transaction.atomic():
        Team.objects.filter(pk=tax.pk).update(name="Tax advisory")
        assert stored(page_cache.GENERATION_KEY) == before  # others see it at commit

    assert stored(page_cache.GENERATION_KEY) == before + 1


@pytest.mark.parametrize(
    ("sql", "changes"),
    [
        ('SELECT "advisory_client"."id" FROM "advisory_client"', False),
        ('(SELECT "name" FROM "auth_group") UNION (SELECT "codename" FROM "x")', False),
        ("  select 1 FOR UPDATE", False),
        ('SAVEPOINT "s1"', False),
        ('RELEASE SAVEPOINT "s1"', False),
        ("SELECT pg_advisory_xact_lock(1)", False),
        ('UPDATE "django_session" SET "expire_date" = now()', False),
        ('INSERT INTO "axes_accesslog" ("username") VALUES (%s)', False),
        ('INSERT INTO "advisory_disagreement" ("title") VALUES (%s)', True),
        ('UPDATE "advisory_client" SET "name" = %s', True),
        ('DELETE FROM "advisory_clientmonth" WHERE 1', True),
        ('TRUNCATE "advisory_client"', True),
        ("WITH moved AS (DELETE FROM t RETURNING *) SELECT 1", True),
        ('ALTER TABLE "advisory_client" ADD COLUMN "x" int', True),
    ],
)
def test_which_statements_change_pages(sql, changes):
    assert page_cache.changes_pages(sql) is changes


def test_reads_and_session_writes_leave_the_generation_alone(client, advisor, acme):
    before = page_cache.current_generation()
    list(Client.objects.all())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE django_session SET expire_date = expire_date")
    with transaction.atomic():
        Client.objects.select_for_update().filter(pk=acme.pk).exists()

    assert page_cache.current_generation() == before


def test_a_failing_cache_renders_the_page(client, manager, monkeypatch):
    _sign_in(client, manager)

    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(caches["default"], "get", down)

    assert client.get(reverse("client-list")).status_code == 200


def test_a_failing_cache_does_not_refuse_a_write(dispute, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(caches["default"], "incr", down)

    Disagreement.objects.filter(pk=dispute.pk).update(title="Still written")

    dispute.refresh_from_db()
    assert dispute.title == "Still written"


def test_clear_page_cache_marks_every_page_out_of_date():
    before = page_cache.current_generation()
    call_command("clear_page_cache", stdout=io.StringIO())
    assert page_cache.current_generation() == before + 1


def test_a_lost_counter_starts_past_every_generation_used():
    before = page_cache.current_generation()
    cache.delete(page_cache.GENERATION_KEY)
    assert page_cache.current_generation() > before


def test_the_generation_is_read_before_anything_reads_the_database(settings):
    order = settings.MIDDLEWARE
    generation = order.index("advisory.web.page_cache.GenerationMiddleware")
    assert generation < order.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    assert generation < order.index("django.contrib.sessions.middleware.SessionMiddleware")


def test_another_build_renders_its_own_pages(client, manager, monkeypatch):
    _sign_in(client, manager)
    client.get(reverse("client-list"))
    page_cache.build_id.cache_clear()
    monkeypatch.setattr(page_cache, "build_id", lambda: "the-next-release")

    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("client-list"))

    assert len(queries) > QUERIES_FROM_CACHE


def test_the_build_id_follows_the_code_and_templates(settings, tmp_path):
    page_cache.build_id.cache_clear()
    here = page_cache.build_id()
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "base.html").write_text("<html>")
    settings.BASE_DIR = tmp_path
    page_cache.build_id.cache_clear()
    elsewhere = page_cache.build_id()
    (tmp_path / "templates" / "base.html").write_text("<html lang=en>")
    page_cache.build_id.cache_clear()
    changed = page_cache.build_id()
    page_cache.build_id.cache_clear()

    assert len({here, elsewhere, changed}) == 3
