"""`make loadtest`'s workload and checks (bench/loadtest.py), briefly, on a live server.

`make loadtest` runs against gunicorn on PostgreSQL for a minute; here four users
work for a few seconds against Django's live test server in this process, on the
test database (SQLite or PostgreSQL, whichever DATABASE_URL picks), and the same
checks then read that database through the ORM. On PostgreSQL the server answers
requests in parallel threads, each with its own connection, as gunicorn's workers
do. On SQLite the test database lives in memory and the server shares this test's
one connection, which cannot carry two transactions at once, so there it answers
one request at a time: the users still interleave (both sides of a conflict pair
open the same version before either saves), the parallel writes are
`make loadtest`'s.

The checks must be able to fail: a 5xx, two winners in a conflict pair, a loser
told nothing, a record changed behind the application's back, a stray row and a
rewritten history entry are each caught.
"""

from __future__ import annotations

import copy
from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread

from accounts.models import Team, User
from advisory.models import Disagreement
from advisory.seeding.demo import seed_people
from bench import loadtest
from bench.run import BenchError
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

# Data migrations that make the role groups (flushed by earlier transactional tests).
ROLE_MIGRATIONS = [
    "advisory.migrations.0002_roles",
    "advisory.migrations.0004_health_roles",
    "advisory.migrations.0007_letgo_roles",
]


class OneRequestAtATime(ThreadedWSGIServer):
    """Answers each request in the server's thread, on the shared connection."""

    def process_request(self, request, client_address) -> None:
        self.process_request_thread(request, client_address)


@pytest.fixture
def port(transactional_db, settings):
    """A live server on 127.0.0.1 over the demo people and a few clients."""
    import_module("accounts.migrations.0002_roles").create_roles(apps, schema_editor=None)
    for migration in ROLE_MIGRATIONS:
        import_module(migration).grant(apps, schema_editor=None)
    seed_people()
    users = {user.username: user for user in User.objects.all()}
    for lead, team, name in [
        ("advisor", "Corporate Advisory", "Halden Foods"),
        ("advisor", "Corporate Advisory", "Marlow Shipping"),
        ("advisor2", "Private Clients", "Ines Okafor"),
    ]:
        client = ClientFactory(
            name=name, lead_advisor=users[lead], team=Team.objects.get(name=team)
        )
        EngagementFactory(client=client, title=f"{name} audit")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]

    shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared)
    if shared:
        thread.server_class = OneRequestAtATime
    thread.daemon = True
    for connection in shared.values():
        connection.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield thread.port
    finally:
        thread.terminate()
        for connection in shared.values():
            connection.dec_thread_sharing()


@pytest.fixture
def run(port) -> dict:
    return loadtest.run_workload(port, users=4, duration=3, seed=11)


def test_a_short_run_loses_nothing(run) -> None:
    checked = loadtest.verify(run)

    assert checked["problems"] == []
    assert checked["server_errors"] == 0
    # Every user logged, decided and fought over an edit at least once.
    assert checked["logs_accepted"] >= 4
    assert {w["kind"] for w in run["writes"]} == {"log", "decision", "edit"}
    assert checked["conflict_pairs"] >= 4
    assert checked["conflicts_reported"] == checked["conflict_pairs"]
    assert checked["records_verified"] == checked["records_written"] >= 4
    assert checked["log_entries_verified"] > checked["writes_accepted"]
    kinds = loadtest.figures(run)["by_kind"]
    assert {"log POST", "decision POST", "edit POST", "disagreement detail"} <= set(kinds)
    table = loadtest.table(loadtest.figures(run), checked)
    assert f"conflicts reported:   {checked['conflict_pairs']}" in table


def test_the_checks_catch_what_was_lost_or_overwritten(run) -> None:
    assert loadtest.verify(run)["problems"] == []
    pair = run["pairs"][0]
    loser = next(side for side in pair["sides"] if not side["accepted"])

    # The server said 500 once.
    failed = copy.deepcopy(run)
    failed["requests"].append(("log POST", 500, 12.0))
    assert "1 responses with a 5xx status" in loadtest.verify(failed)["problems"]

    # Both sides of a conflict pair were told their save succeeded.
    overwritten = copy.deepcopy(run)
    next(s for s in overwritten["pairs"][0]["sides"] if not s["accepted"])["accepted"] = True
    problems = loadtest.verify(overwritten)["problems"]
    assert any("2 saves accepted (one silently overwrote" in p for p in problems)

    # The loser got a page without the conflict message.
    silent = copy.deepcopy(run)
    next(s for s in silent["pairs"][0]["sides"] if not s["accepted"])["conflict_shown"] = False
    problems = loadtest.verify(silent)["problems"]
    assert any(f"{loser['user']} got HTTP 409 without the conflict message" in p for p in problems)

    # A record changed behind the application's back (no history entry).
    Disagreement.objects.filter(pk=pair["pk"]).update(rationale=loser["text"])
    problems = loadtest.verify(run)["problems"]
    assert any(
        p.startswith(f"disagreement #{pair['pk']}: rationale: stored {loser['text']!r}")
        for p in problems
    )
    # The log's own check sees it too: the record no longer says what was logged.
    assert any(
        p.startswith("log does not verify") and "changed around the application" in p
        for p in problems
    )
    logged = Disagreement.history.filter(id=pair["pk"]).latest()
    Disagreement.objects.filter(pk=pair["pk"]).update(rationale=logged.rationale)

    # A stray row with this run's marker: more rows than accepted writes.
    DisagreementFactory(
        engagement=Disagreement.objects.get(pk=pair["pk"]).engagement,
        title=f"{run['marker']} stray",
    )
    problems = loadtest.verify(run)["problems"]
    assert any("carry this run's marker" in p for p in problems)

    # A history entry rewritten: the log no longer verifies.
    assert not any(p.startswith("log does not verify") for p in problems)
    write = next(w for w in run["writes"] if w["kind"] == "log")
    Disagreement.history.filter(id=write["pk"]).update(title="rewritten")
    problems = loadtest.verify(run)["problems"]
    assert any(p.startswith("log does not verify") for p in problems)
    assert any(p.startswith(f"disagreement #{write['pk']}: ") for p in problems)


def test_it_refuses_a_database_elsewhere_or_not_postgresql(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://candor:secret@db.prod.example.com/candor")
    with pytest.raises(BenchError, match="only runs against a database on this machine"):
        loadtest.database_url()
    monkeypatch.setenv("DATABASE_URL", "sqlite:///loadtest.sqlite3")
    with pytest.raises(BenchError, match="runs on PostgreSQL"):
        loadtest.database_url()
    monkeypatch.delenv("DATABASE_URL")
    assert loadtest.database_url() == loadtest.DEFAULT_DATABASE_URL + "?conn_max_age=600"


def test_it_stops_before_touching_a_remote_database_or_starting_a_server(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://candor:secret@10.0.3.7:5432/candor")
    touched = []
    for name in ("manage", "ensure_postgres_database", "start_gunicorn", "run_workload"):
        monkeypatch.setattr(loadtest, name, lambda *a, _n=name, **k: touched.append(_n))
    with pytest.raises(BenchError, match=r"10\.0\.3\.7"):
        loadtest.main()
    assert touched == []


def test_forms_are_read_as_a_browser_submits_them() -> None:
    page = """
    <form method="post" action="/accounts/logout/">
      <input name="csrfmiddlewaretoken" value="a">
    </form>
    <form method="post">
      <input type="hidden" name="csrfmiddlewaretoken" value="t&amp;k">
      <select name="engagement" disabled><option value="3" selected>Locked</option></select>
      <select name="topic">
        <option value="">Choose</option><option value="fees" selected>Fees</option>
      </select>
      <select name="tone">
        <option value="tense">Tense</option><option value="calm">Calm</option>
      </select>
      <textarea name="client_request">
Line one &lt;b&gt;
line two</textarea>
      <input type="radio" name="risk" value="True">
      <input type="radio" name="risk" value="False" checked>
      <input type="checkbox" name="urgent" value="yes">
      <input name="title" value="“Quoted” &amp; more"><button type="submit" name="go">Save</button>
    </form>""".encode()
    form = loadtest.post_form(page, "title")
    assert form["fields"] == {
        "csrfmiddlewaretoken": "t&k",
        "topic": "fees",
        "tone": "tense",
        "client_request": "Line one <b>\nline two",
        "risk": "False",
        "title": "“Quoted” & more",
    }
    assert form["options"]["topic"] == ["", "fees"]
    with pytest.raises(BenchError, match="No form with the field 'decision'"):
        loadtest.post_form(page, "decision")
