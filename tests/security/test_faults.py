"""Faults lose nothing: the database going away, a write failing halfway, the
mail server down.

The database tests send their requests through Django's WSGI handler the way
gunicorn does (`serve()` below): the request_started and request_finished
signals run, so Django closes a broken connection at the end of a request
exactly as in production. (The test client skips that on purpose, which would
hide whether Candor recovers by itself.) Nothing is reset between the fault
and the requests that must succeed after it.

The fault is as real as the backend allows. On PostgreSQL the database stops
accepting connections (ALTER DATABASE ... ALLOW_CONNECTIONS false, only this
run's test database) and every connection to it is terminated
(pg_terminate_backend), in the middle of a request; the other databases of
the cluster, and any other test run using one, are untouched. SQLite has no
server to lose: every query from then on fails inside Django's own database
error handling, as a disk or file error would.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import re
import smtplib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from wsgiref.util import setup_testing_defaults

import pytest
from django.apps import apps
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.db import InterfaceError, OperationalError, connection
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts.models import ApiToken
from accounts.password_reset import send_password_reset_email
from advisory.health.services import health_refresh
from advisory.history import log
from advisory.letgo import services as letgo
from advisory.models import Client, Disagreement, Engagement, LetGoCase, Notification
from advisory.notifications import triggers
from advisory.records import services, versioning
from advisory.transfer import imports
from config.middleware import API_MESSAGE, is_database_unavailable
from tests.factories import DisagreementFactory
from tests.records import tick_all

# --- Requests the way a WSGI server makes them ------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: str


def serve(path: str, *, session: str = "", token: str = "") -> Answer:
    """GET `path` through Django's WSGI application, as gunicorn would."""
    environ: dict = {
        "PATH_INFO": path,
        "REQUEST_METHOD": "GET",
        "HTTP_HOST": "testserver",
        "SERVER_NAME": "testserver",
        "wsgi.input": io.BytesIO(b""),
    }
    setup_testing_defaults(environ)
    if session:
        environ["HTTP_COOKIE"] = f"sessionid={session}"
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    started: list = []

    def start_response(status: str, headers: list, exc_info=None) -> None:
        started.append((status, headers))

    result = WSGIHandler()(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # what the server does: request_finished, connections tidied
    status, headers = started[0]
    return Answer(int(status[:3]), dict(headers), body.decode())


# --- The database going away --------------------------------------------------------------


class DatabaseFault:
    """Takes the database away on the first query naming `trip_on` (None: at once)."""

    def __init__(self) -> None:
        self.down = False
        self.trip_on: str | None = None

    def __call__(self, execute, sql, params, many, context):
        if not self.down and self.trip_on is not None and self.trip_on in sql:
            self.go_down()
        if self.down and connection.vendor == "sqlite":
            # Raised where SQLite's own errors are, so Django sees it the same way.
            with context["connection"].wrap_database_errors:
                raise sqlite3.OperationalError("disk I/O error")
        return execute(sql, params, many, context)

    def go_down(self) -> None:
        self.down = True
        if connection.vendor == "postgresql":
            self._allow_connections(False)
            self._terminate_connections()

    def come_back(self) -> None:
        self.down = False
        self.trip_on = None
        if connection.vendor == "postgresql":
            self._allow_connections(True)

    def kill_connections(self) -> None:
        """Terminate the open connections without refusing new ones (PostgreSQL)."""
        self._terminate_connections()

    # PostgreSQL, from a separate connection to the maintenance database.
    def _admin(self, statement, params=()) -> list:
        import psycopg2

        settings = connection.settings_dict
        admin = psycopg2.connect(
            dbname="postgres",
            host=settings["HOST"],
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            password=settings["PASSWORD"],
        )
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
        finally:
            admin.close()

    def _allow_connections(self, allow: bool) -> None:
        from psycopg2 import sql

        self._admin(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(connection.settings_dict["NAME"]),
                sql.SQL("true" if allow else "false"),
            )
        )

    def _terminate_connections(self) -> None:
        name = connection.settings_dict["NAME"]
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        for _ in range(100):  # gone within a second or so; wait at most 5 s
            if not self._admin("SELECT 1 FROM pg_stat_activity WHERE datname = %s", [name]):
                return
            time.sleep(0.05)
        raise AssertionError("the test database's connections did not end")


ROLE_MIGRATIONS = [
    "advisory.migrations.0002_roles",
    "advisory.migrations.0004_health_roles",
    "advisory.migrations.0007_letgo_roles",
]


@pytest.fixture
def real_transactions(transactional_db) -> None:
    """Committed writes; the role groups that data migrations made are put
    back first (each transactional test ends by emptying every table)."""
    import_module("accounts.migrations.0002_roles").create_roles(apps, schema_editor=None)
    for migration in ROLE_MIGRATIONS:
        import_module(migration).grant(apps, schema_editor=None)


@pytest.fixture
def fault(real_transactions) -> Iterator[DatabaseFault]:
    """The fault's switch; whatever happens, the database is back afterwards."""
    fault = DatabaseFault()
    try:
        with connection.execute_wrapper(fault):
            yield fault
    finally:
        if fault.down:
            fault.come_back()


@pytest.fixture
def signed_in(client, advisor, acme, dispute) -> str:
    """alice's session cookie (a real session row, committed)."""
    client.force_login(advisor)
    return client.cookies["sessionid"].value


@pytest.fixture
def api_secret(advisor) -> str:
    return ApiToken.objects.issue(user=advisor, name="Fault test")[1]


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self, path: str) -> list[str]:
        return [r.getMessage() for r in self.records if r.getMessage().endswith(f": {path}")]

    @property
    def text(self) -> str:
        formatter = logging.Formatter()
        return "\n".join(formatter.format(r) for r in self.records)


@pytest.fixture
def request_log() -> Iterator[Records]:
    """Django's request log (the django logger doesn't propagate: config/settings.py)."""
    handler = Records()
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def assert_friendly_503(answer: Answer) -> None:
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Candor is temporarily unavailable" in answer.body
    for leak in ("Traceback", "OperationalError", "InterfaceError", "disk I/O", "terminating"):
        assert leak not in answer.body


def test_the_database_going_away_mid_request_gives_503s_and_candor_recovers_by_itself(
    fault, signed_in, api_secret, request_log
):
    dashboard, ready, live = reverse("dashboard"), reverse("healthz-ready"), reverse("healthz")
    clients, api = reverse("client-list"), reverse("api:client-list")
    assert serve(dashboard, session=signed_in).status == 200
    assert serve(ready).body == "ready"

    # Halfway through the dashboard: the session and the user are loaded,
    # then the database goes away at the first query about clients.
    fault.trip_on = "advisory_"
    mid_request = serve(dashboard, session=signed_in)
    assert fault.down
    # Still down: now the session can't even be read, the API can't check its
    # token, readiness fails; liveness (no database) still answers.
    next_page = serve(clients, session=signed_in)
    api_answer = serve(api, token=api_secret)
    ready_answer = serve(ready)
    live_answer = serve(live)

    assert_friendly_503(mid_request)
    assert_friendly_503(next_page)
    assert (api_answer.status, api_answer.headers["Retry-After"]) == (503, "30")
    assert api_answer.headers["Content-Type"] == "application/json"
    assert json.loads(api_answer.body) == {"detail": API_MESSAGE}
    assert (ready_answer.status, ready_answer.body) == (503, "database unavailable")
    assert (live_answer.status, live_answer.body) == (200, "ok")
    # Each failed request is logged once, naming the cause; no session or token.
    for path in (dashboard, api, ready):
        [line] = request_log.lines(path)
        assert line.startswith("Service Unavailable (database unavailable: OperationalError")
    assert request_log.lines(clients) == [f"Service Unavailable: {clients}"]  # with the traceback
    assert "OperationalError" in request_log.text
    assert request_log.lines(live) == []
    assert signed_in not in request_log.text
    assert api_secret not in request_log.text

    # The database is back: the very next requests succeed, same process, nothing reset.
    fault.come_back()
    assert serve(ready).body == "ready"
    page = serve(dashboard, session=signed_in)
    assert page.status == 200
    assert "Stock count skipped" in page.body  # alice's open disagreement, read afresh
    assert serve(api, token=api_secret).status == 200

    if connection.vendor == "postgresql":
        # A persistent connection that died between requests is replaced
        # before use (CONN_HEALTH_CHECKS): the next request doesn't even fail.
        fault.kill_connections()
        assert serve(dashboard, session=signed_in).status == 200
        assert serve(ready).body == "ready"


def test_healthz_needs_no_database_even_while_it_is_down(fault):
    fault.go_down()
    assert serve(reverse("healthz")).body == "ok"
    assert serve(reverse("healthz-ready")).status == 503


class DriverError(Exception):
    """psycopg2's errors carry the SQLSTATE as `pgcode` (None when the connection failed)."""

    def __init__(self, pgcode: str | None) -> None:
        super().__init__("driver error")
        self.pgcode = pgcode


def _wrapped(cause: BaseException) -> OperationalError:
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error, unavailable",
    [
        (_wrapped(DriverError(None)), True),  # refused, closed, timed out
        (_wrapped(DriverError("08006")), True),  # connection failure
        (_wrapped(DriverError("57P01")), True),  # terminated by the administrator
        (_wrapped(sqlite3.OperationalError("disk I/O error")), True),
        (InterfaceError("connection already closed"), True),
        (_wrapped(DriverError("40P01")), False),  # a deadlock: a bug or load, a 500
        (_wrapped(DriverError("57014")), False),  # a statement timeout
        (_wrapped(sqlite3.OperationalError("database is locked")), False),
        (_wrapped(sqlite3.OperationalError("no such table: advisory_client")), False),
        (ValueError("a bug"), False),
    ],
)
def test_only_an_unreachable_database_counts_as_unavailable(error, unavailable):
    assert is_database_unavailable(error) is unavailable


def test_a_view_error_that_is_not_the_database_is_still_a_500(client, advisor, monkeypatch):
    """Only "database unreachable" becomes a 503; a bug stays a 500 (and is logged as one)."""
    from advisory.views import home

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(home, "render", broken)
    client.raise_request_exception = False
    client.force_login(advisor)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "Retry-After" not in response.headers


# --- An exception halfway through a multi-row write ------------------------------------------
#
# Each of these writes many rows (records, history entries, chain links,
# notifications) in one transaction. Each test lets the first part happen
# for real, raises part of the way through, and then finds every table
# exactly as before and the history chain intact. The tests use real
# transactions (`transactional_db`): the service's transaction is the
# outermost one, as in production, not a savepoint inside the test's.


class Halfway(Exception):
    """The fault: anything at all going wrong in the middle of a write."""


def every_row_count() -> dict[str, int]:
    """Rows per table of Candor's own apps (history, chain links and m2m tables included)."""
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in {"accounts", "advisory"}
    }


def assert_chain_intact() -> None:
    out = io.StringIO()
    call_command("verify_log", stdout=out)  # raises CommandError when it is broken
    assert "Log intact" in out.getvalue()


def fail_on_call(n: int, real):
    """`real`, except that its n-th call raises Halfway (after n - 1 real calls)."""
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise Halfway(f"call {n}")
        return real(*args, **kwargs)

    wrapper.calls = calls
    return wrapper


def clients_plan(manager, count: int) -> imports.Plan:
    header = [c.name for c in imports.COLUMNS[imports.CLIENTS]]
    rows = [
        {"name": f"Imported {n:02d}", "kind": "organization", "lead_advisor": "alice"}
        for n in range(count)
    ]
    rows.append({"name": "Acme Holdings", "sector": "Aerospace", "lead_advisor": "alice"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, restval="")
    writer.writeheader()
    writer.writerows(rows)
    plan = imports.plan_import(imports.read_table(out.getvalue().encode(), "clients"), user=manager)
    assert plan.ok, plan.problems
    return plan


@pytest.mark.usefixtures("real_transactions")
def test_a_client_import_failing_on_row_n_stores_no_row_of_it(manager, acme, monkeypatch):
    plan = clients_plan(manager, 12)
    before = every_row_count()
    failing = fail_on_call(8, imports.client_save)
    monkeypatch.setattr(imports, "client_save", failing)

    with pytest.raises(Halfway):
        imports.apply_plan(plan, by=manager, filename="clients.csv")

    assert len(failing.calls) == 8  # seven clients were written (with history and links) first
    assert every_row_count() == before
    acme.refresh_from_db()
    assert (acme.sector, acme.version) == ("Manufacturing", 1)  # its update is undone too
    assert_chain_intact()


@pytest.mark.usefixtures("real_transactions")
def test_an_engagement_import_failing_after_its_bulk_inserts_stores_none_of_them(
    manager, acme, acme_engagement, monkeypatch
):
    data = "client,title,lead_advisor,members\n" + "".join(
        f"Acme Holdings,Job {n:02d},alice,alice|charlie\n" for n in range(30)
    )
    data += f"Acme Holdings,{acme_engagement.title},alice,alice|charlie\n"  # an update
    plan = imports.plan_import(imports.read_table(data.encode(), "engagements"), user=manager)
    assert (plan.to_create, plan.to_update) == (30, 1)
    before = every_row_count()
    # The engagements, their members, history entries and snapshots are
    # inserted; linking them into the chain, the last step, fails.
    monkeypatch.setattr(services.log, "append_many", fail_on_call(1, log.append_many))

    with pytest.raises(Halfway):
        imports.apply_plan(plan, by=manager, filename="jobs.csv")

    assert every_row_count() == before
    assert list(acme_engagement.members.all()) == []
    assert_chain_intact()


@pytest.mark.usefixtures("real_transactions")
def test_logging_a_disagreement_that_fails_after_the_health_update_leaves_nothing(
    acme, acme_engagement, advisor, manager, monkeypatch, mailoutbox
):
    health_refresh(acme)
    acme.refresh_from_db()
    band, score = acme.health_band, acme.health_score
    before = every_row_count()
    # The disagreement, its history, the new (adversarial) health, the
    # snapshot and the notifications are written; the monthly counts fail.
    monkeypatch.setattr(versioning.rollups, "months_refresh", fail_on_call(1, None))
    hostile = DisagreementFactory.build(
        engagement=acme_engagement,
        client=acme,
        title="Threatened to walk out",
        severity=Disagreement.Severity.CRITICAL,
        tone=Disagreement.Tone.HOSTILE,
    )

    with pytest.raises(Halfway):
        services.disagreement_log(hostile, by=advisor)

    assert every_row_count() == before
    acme.refresh_from_db()
    assert (acme.health_band, acme.health_score) == (band, score)
    assert mailoutbox == []  # nobody is told about a change that never happened
    assert_chain_intact()


@pytest.mark.usefixtures("real_transactions")
def test_a_let_go_proposal_that_fails_at_the_notifications_leaves_nothing(
    acme, dispute, advisor, admin, monkeypatch, mailoutbox
):
    before = every_row_count()
    # The case, its evidence and the client's new status are written first.
    monkeypatch.setattr(letgo.triggers, "letgo_proposed", fail_on_call(1, None))

    with pytest.raises(Halfway):
        letgo.letgo_propose(
            acme,
            by=advisor,
            reason=LetGoCase.Reason.HOSTILE_CONDUCT,
            justification="Abuse on every call since March.",
            evidence=[dispute],
        )

    assert every_row_count() == before
    acme.refresh_from_db()
    assert acme.status == Client.Status.ACTIVE
    assert mailoutbox == []
    assert_chain_intact()


@pytest.mark.usefixtures("real_transactions")
def test_completing_a_let_go_that_fails_at_the_client_leaves_the_case_approved(
    acme, dispute, advisor, admin, monkeypatch
):
    case = letgo.letgo_propose(
        acme,
        by=advisor,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abuse on every call since March.",
        evidence=[dispute],
    )
    case = letgo.letgo_decide(case, by=admin, approve=True, note="Agreed.")
    case = tick_all(case, admin)
    before = every_row_count()
    # The engagement is terminated and the case saved as offboarded; marking
    # the client let go fails.
    monkeypatch.setattr(letgo, "_set_client_status", fail_on_call(1, None))

    with pytest.raises(Halfway):
        letgo.letgo_complete(case, by=admin, expected_version=case.version)

    assert every_row_count() == before
    case.refresh_from_db()
    acme.refresh_from_db()
    dispute.engagement.refresh_from_db()
    assert (case.status, case.completed_at) == (LetGoCase.Status.APPROVED, None)
    assert acme.status == Client.Status.FLAGGED
    assert dispute.engagement.status == Engagement.Status.ACTIVE
    assert_chain_intact()


@pytest.mark.usefixtures("real_transactions")
def test_reminders_failing_on_the_second_disagreement_send_none(
    acme_engagement, advisor, monkeypatch, mailoutbox
):
    today = timezone.localdate()
    for title in ("First", "Second", "Third"):
        DisagreementFactory(engagement=acme_engagement, title=title, follow_up_on=today)
    before = every_row_count()
    monkeypatch.setattr(triggers, "notify", fail_on_call(2, triggers.notify))

    with pytest.raises(Halfway):
        triggers.remind_follow_ups(today=today)

    assert every_row_count() == before
    assert not Notification.objects.exists()
    assert mailoutbox == []


# --- A failing mail server loses nothing -------------------------------------------------------
#
# Notification e-mails: tests/advisory/notifications/test_notifications.py shows the change
# and its notification stored, the failure logged without the address, the
# retry queued and the e-mail sent once when the server is back (and the
# daily summary kept for its retry). The password reset is the other place
# that sends mail.


def mail_server_down(*args, **kwargs):
    raise ConnectionRefusedError("SMTP is down")


def test_a_password_reset_asked_for_while_mail_is_down_is_sent_later(
    client, advisor, monkeypatch, mailoutbox, caplog
):
    def refused(*args, **kwargs):  # an error whose text holds the address
        raise smtplib.SMTPRecipientsRefused({"alice@example.com": (451, b"try later")})

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refused)

    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})

    # The person sees what they always see, and nothing fails.
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert mailoutbox == []
    assert f"Could not send the password reset e-mail for user {advisor.pk}" in caplog.text
    assert "alice@example.com" not in caplog.text
    [retry] = HUEY.scheduled()  # a minute later, not lost
    assert retry.eta > datetime.datetime.now(datetime.UTC).replace(tzinfo=None)

    # The mail server is back: the queued retry sends a link that works.
    monkeypatch.undo()
    HUEY.execute(retry, timestamp=retry.eta)  # its time has come
    [mail] = mailoutbox
    assert mail.to == ["alice@example.com"]
    # Built from BASE_URL, as the first link would have been.
    [link] = re.findall(re.escape(settings.CANDOR_BASE_URL) + r"(/accounts/reset/\S+/)", mail.body)
    follow = client.get(link, follow=True)
    assert follow.status_code == 200
    assert follow.redirect_chain[-1][0].endswith("/set-password/")
    response = client.post(
        follow.redirect_chain[-1][0],
        {"new_password1": "a-brand-new-pass-42", "new_password2": "a-brand-new-pass-42"},
    )
    assert response["Location"] == reverse("password_reset_complete")
    advisor.refresh_from_db()
    assert advisor.check_password("a-brand-new-pass-42")


def test_a_reset_retry_keeps_trying_then_gives_up(advisor, monkeypatch, caplog, settings):
    monkeypatch.setattr(
        "django.core.mail.backends.locmem.EmailBackend.send_messages", mail_server_down
    )
    where = {"domain": "testserver", "site_name": "testserver", "protocol": "http"}

    assert send_password_reset_email.call(user_id=advisor.pk, **where, attempt=2) == (
        "retry scheduled"
    )
    last = len(settings.CANDOR_NOTIFICATIONS["email_retry_delays"]) + 1
    HUEY.flush()
    assert send_password_reset_email.call(user_id=advisor.pk, **where, attempt=last) == "failed"
    assert HUEY.scheduled() == []
    assert f"Giving up on the password reset e-mail for user {advisor.pk}" in caplog.text


def test_a_reset_retry_for_someone_deactivated_meanwhile_sends_nothing(advisor, mailoutbox):
    advisor.is_active = False
    advisor.save()
    where = {"domain": "testserver", "site_name": "testserver", "protocol": "http"}
    assert send_password_reset_email.call(user_id=advisor.pk, **where) == "nothing to send"
    assert mailoutbox == []
