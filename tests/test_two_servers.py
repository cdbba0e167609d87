"""The scale-out check's guard rails and verdicts (bench/two_servers.py).

The check itself starts two gunicorn servers (`make bench-scaleout`); these
tests start none.
"""

from __future__ import annotations

import pytest

from bench import two_servers
from bench.run import BenchError


def test_it_refuses_a_database_elsewhere(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://candor:secret@db.prod.example.com/candor")
    with pytest.raises(BenchError, match="only runs against a database on this machine"):
        two_servers.database_url()


def test_it_stops_before_touching_a_remote_database_or_starting_a_server(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://candor:secret@10.0.3.7:5432/candor")
    touched = []
    for name in ("manage", "ensure_postgres_database", "start_gunicorn", "seed_state"):
        monkeypatch.setattr(two_servers, name, lambda *a, _n=name, **k: touched.append(_n))
    with pytest.raises(BenchError, match=r"10\.0\.3\.7"):
        two_servers.main()
    assert touched == []


def test_by_default_it_uses_the_small_bench_database_with_persistent_connections(
    monkeypatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert two_servers.database_url() == (
        "postgres://postgres:postgres@127.0.0.1:5432/candor_bench_small?conn_max_age=600"
    )


def test_it_accepts_a_local_database(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://me@localhost/scaleout?conn_max_age=60")
    assert two_servers.database_url() == "postgres://me@localhost/scaleout?conn_max_age=60"


def test_the_two_servers_get_different_ports(monkeypatch) -> None:
    ports = iter([8123, 8123, 8123, 8124])
    monkeypatch.setattr(two_servers, "free_port", lambda: next(ports))
    assert two_servers.two_free_ports() == (8123, 8124)


def test_a_page_for_the_session_names_its_user() -> None:
    page = b"<span>Signed in as scale-advisor (Advisor)</span>"
    assert two_servers.signed_in_problem(200, {}, page, "scale-advisor") is None
    redirect = {"location": ["/accounts/login/?next=/accounts/profile/"]}
    assert "redirect" in two_servers.signed_in_problem(302, redirect, b"", "scale-advisor")
    assert "does not say" in two_servers.signed_in_problem(200, {}, b"<p>Hi</p>", "scale-advisor")
    assert "500" in two_servers.signed_in_problem(500, {}, page, "scale-advisor")


def test_it_fails_when_the_second_server_does_not_know_the_session(monkeypatch) -> None:
    """Process-local sessions: B sends A's logged-in user to the log-in page."""
    login_page = {"location": ["/accounts/login/?next=/accounts/profile/"]}

    def fake_request(port, method, path, *, headers=None, body=None):
        return 302, login_page, b""

    monkeypatch.setattr(two_servers, "login", lambda port, user, pw: {"sessionid": "s"})
    monkeypatch.setattr(two_servers, "request", fake_request)
    facts = {"username": "scale-advisor", "form": {}}
    with pytest.raises(two_servers.CheckFailed, match="B does not serve A's session"):
        two_servers.check({"A": 8001, "B": 8002}, facts, "pw")


def test_it_fails_when_a_write_is_not_seen_on_the_other_server(monkeypatch) -> None:
    monkeypatch.setattr(two_servers, "log_disagreement", lambda *a: "/disagreements/7/")
    monkeypatch.setattr(
        two_servers, "request", lambda port, method, path, **kw: (200, {}, b"<p>nothing</p>")
    )
    with pytest.raises(two_servers.CheckFailed, match="B does not see A's write"):
        two_servers.write_and_read({"A": 8001, "B": 8002}, "A", "B", {}, {})
