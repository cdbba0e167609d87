"""The benchmark's guard rails (bench/run.py); the benchmark itself is `make bench`."""

from __future__ import annotations

import http.server
import threading

import pytest

from bench import run


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres:postgres@127.0.0.1:5432/candor_bench_full",
        "postgresql://me@localhost/candor_bench_small?conn_max_age=60",
        "postgres://me@[::1]:5432/bench",
        "postgres://me@%2Fvar%2Frun%2Fpostgresql/bench",
        "sqlite:///bench.sqlite3",
    ],
)
def test_it_accepts_a_database_on_this_machine(url: str) -> None:
    assert run.database_url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "postgres://candor:secret@db.prod.example.com:5432/candor",
        "postgres://candor:secret@10.0.3.7/candor",
        "postgres://candor@127.0.0.1.evil.example/candor",
    ],
)
def test_it_refuses_a_database_elsewhere(url: str) -> None:
    problem = run.database_url_problem(url)
    assert problem is not None
    assert "only runs against a database on this machine" in problem


def test_it_refuses_an_unknown_database() -> None:
    assert "PostgreSQL or SQLite" in run.database_url_problem("mysql://root@localhost/candor")


def test_it_stops_before_touching_a_remote_database(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://candor:secret@db.prod.example.com/candor")
    monkeypatch.setenv("SCALE", "small")
    touched = []
    monkeypatch.setattr(run, "manage", lambda *args, **kwargs: touched.append(args))
    monkeypatch.setattr(run, "ensure_postgres_database", lambda url: touched.append(url))
    with pytest.raises(run.BenchError, match=r"db\.prod\.example\.com"):
        run.main()
    assert touched == []


def test_it_asks_for_persistent_connections() -> None:
    url = "postgres://p@127.0.0.1/bench"
    assert run.with_persistent_connections(url) == url + "?conn_max_age=600"
    assert run.with_persistent_connections(url + "?conn_max_age=60") == url + "?conn_max_age=60"


def test_the_verdicts_follow_issue_8s_targets() -> None:
    items = [
        {"name": "baseline", "median_ms": 10.0, "queries": 6},
        {"name": "clients p1", "median_ms": 29.0, "queries": 10},
        {"name": "health board", "median_ms": 31.0, "queries": 10},
        {"name": "many queries", "median_ms": 12.0, "queries": 16},
        {"name": "POST log", "method": "POST", "median_ms": 49.0, "queries": 12},
        {"name": "CSV export", "median_ms": 2500.0, "queries": 6},
    ]
    run.verdicts(items)
    assert [i["target_met"] for i in items] == [True, True, False, False, True, False]
    assert "clients p1" in run.table(items)


def test_it_uses_only_a_local_redis(monkeypatch) -> None:
    monkeypatch.setenv("BENCH_REDIS_URL", "redis://cache.prod.example.com:6379/0")
    with pytest.raises(run.BenchError, match=r"cache\.prod\.example\.com"):
        run.redis_url()
    monkeypatch.setenv("BENCH_REDIS_URL", "none")
    assert run.redis_url() == ""


def test_the_servers_get_the_benchs_redis_or_none(monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")
    assert run.django_env("sqlite:///b.sqlite3", "redis://127.0.0.1:6379/14")["REDIS_URL"] == (
        "redis://127.0.0.1:6379/14"
    )
    assert "REDIS_URL" not in run.django_env("sqlite:///b.sqlite3", "")
    # bench-scaleout and the load test keep the caller's choice.
    assert run.django_env("sqlite:///b.sqlite3")["REDIS_URL"] == "redis://elsewhere:6379/0"


def test_the_table_shows_the_cold_median() -> None:
    items = [
        {"name": "baseline", "median_ms": 10.0, "queries": 3},
        {"name": "clients p1", "median_ms": 12.0, "queries": 8, "cold_ms": 31.5},
    ]
    run.verdicts(items)
    [row] = [line for line in run.table(items).splitlines() if line.startswith("clients p1")]
    assert "31.5" in row


def test_the_python_driver_sends_each_body_in_turn() -> None:
    received: list[bytes] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(302)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run.run_python(
            server.server_address[1], "POST", "/new/", "", "engagement=1\nengagement=2", 1, 0.3
        )
    finally:
        server.shutdown()

    assert result["requests"] >= 4
    assert received[:4] == [b"engagement=1", b"engagement=2", b"engagement=1", b"engagement=2"]


# --- The log at scale (bench/log_scale.py) ---------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgres://candor:secret@db.prod.example.com:5432/candor_bench",
        "postgres://postgres:postgres@127.0.0.1:5432/candor",  # local, but the real one
    ],
)
def test_the_log_benchmark_refuses_a_database_it_could_harm(url: str) -> None:
    from bench import log_scale

    assert log_scale.database_problem(url)


def test_the_log_benchmark_runs_small(tmp_path) -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bench.log_scale"],
        cwd=run.ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ENTRIES": "300",
            "PROOFS": "20",
            "LOG_BENCH_OUTPUT": str(tmp_path / "log_scale.json"),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "log_scale.json").read_text())
    assert result["entries"] == 300
    assert result["all_proofs_verify"] is True
    assert result["consistency_verifies"] is True
