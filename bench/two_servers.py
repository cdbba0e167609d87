"""`make bench-scaleout`: two app servers share one database and session store.

docs/deploy.md ("Scale beyond one machine") says Candor's app servers are
stateless: any of them can answer any request. This checks it with two real
gunicorn processes on two free ports of 127.0.0.1, started like the benchmark's
(bench/run.py: DEBUG off, the same bench-only SECRET_KEY, persistent database
connections, 2 workers each, each server in its own process group) against the
same database:

  (a) a session made by logging in on server A through the real login form is
      served by server B: a page on B with A's cookie answers 200 and names
      the user (without the cookie B sends the visitor to the log-in page);
  (b) a disagreement logged on A through the real form (CSRF token and all)
      is visible on B in the very next request: its page and the log's search;
  (c) the same the other way round: logged on B, visible on A.

Sessions live where the settings put them: the database by default, Redis
(`cached_db`) when REDIS_URL is set. It prints what it checks, exits 1 when a
check fails and 2 when it cannot run, and stops both servers whatever happens
(Ctrl-C and `kill` too). Each run logs two disagreements, titled
"Two servers: …", on an engagement of the seed advisor (scale-advisor).

Settings (environment):
  DATABASE_URL  the database (localhost only, like the benchmark); default the
                local PostgreSQL database candor_bench_small, created, migrated
                and seeded at small scale (1,000 clients) when missing
  BENCH_PASSWORD / CANDOR_SCALE_PASSWORD  the seed users' password (default candor-scale)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from bench.run import (
    POSTGRES_SCHEMES,
    SCALES,
    BenchError,
    command,
    cookie_header,
    cookies_from,
    database_url_problem,
    default_database_url,
    django_env,
    ensure_postgres_database,
    form_token,
    free_port,
    login,
    manage,
    request,
    seed_state,
    start_gunicorn,
    stop,
    wait_until_up,
    with_persistent_connections,
)

SCALE = "small"
PROFILE = "/accounts/profile/"
NEW = "/disagreements/new/"
LIST = "/disagreements/"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}

# What both servers must share, as the settings say (printed before the checks),
# and the advisor's form for logging a disagreement: the benchmark's own POST.
FACTS = """
import json
from django.conf import settings
from bench.queries import endpoints
from advisory.seeding.scale import ADVISOR
post = next(item for item in endpoints() if item.get("method") == "POST")
print(json.dumps({
    "username": ADVISOR,
    "form": post["form"],
    "session_engine": settings.SESSION_ENGINE,
    "cache": settings.CACHES["default"]["BACKEND"],
    "jobs_cache": settings.CACHES["jobs"]["BACKEND"],
    "storage": settings.STORAGES["default"]["BACKEND"],
}))
"""


class CheckFailed(Exception):
    """A server did not behave as one of several interchangeable app servers."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def database_url() -> str:
    """DATABASE_URL (or the small bench database), refused unless it is on this machine."""
    url = os.environ.get("DATABASE_URL") or default_database_url(SCALE)
    problem = database_url_problem(url)
    if problem:
        raise BenchError(problem)
    return with_persistent_connections(url)


def prepare(url: str, env: dict[str, str], password: str) -> dict:
    """Create, migrate and seed the database when needed, as `make bench` does."""
    if urlsplit(url).scheme.lower() in POSTGRES_SCHEMES:
        ensure_postgres_database(url)
    print("migrate + collectstatic…", flush=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    state = seed_state(env)
    if not state["seed_users"]:
        clients, disagreements = SCALES[SCALE]
        print(f"Seeding {clients:,} clients and {disagreements:,} disagreements…", flush=True)
        manage(
            env,
            "seed_scale",
            f"--clients={clients}",
            f"--disagreements={disagreements}",
            f"--password={password}",
            capture=False,
        )
        state = seed_state(env)
    return state


def signed_in_problem(status: int, headers: dict[str, list[str]], page: bytes, username: str):
    """Why a response is not a page for `username`'s session, or None when it is."""
    if status in (301, 302, 303, 307, 308):
        location = (headers.get("location") or [""])[0]
        return f"answered {status}, a redirect to {location!r} instead of the page"
    if status != 200:
        return f"answered {status} instead of 200"
    if f"Signed in as {username}".encode() not in page:
        return f"answered 200 but the page does not say 'Signed in as {username}'"
    return None


def log_disagreement(port: int, jar: dict[str, str], form: dict, title: str) -> str:
    """Log a disagreement through the form on `port`, as a browser does; its page's path."""
    status, headers, page = request(port, "GET", NEW, headers={"Cookie": cookie_header(jar)})
    expect(status == 200, f"GET {NEW} answered {status}")
    cookies_from(headers, jar)
    body = urlencode({**form, "title": title, "csrfmiddlewaretoken": form_token(page)})
    status, headers, page = request(
        port, "POST", NEW, body=body, headers={"Cookie": cookie_header(jar), **FORM_HEADERS}
    )
    cookies_from(headers, jar)
    location = (headers.get("location") or [""])[0]
    expect(
        status == 302 and "/disagreements/" in location and not location.endswith(NEW),
        f"POST {NEW} answered {status} {location!r}, not a redirect to the new disagreement",
    )
    return urlsplit(location).path


def visible_problem(port: int, jar: dict[str, str], path: str, title: str) -> str | None:
    """Why `title` is not on the page at `path`, or None when it is."""
    status, headers, page = request(port, "GET", path, headers={"Cookie": cookie_header(jar)})
    cookies_from(headers, jar)  # as a browser keeps them (a message shown is cleared)
    if status != 200:
        return f"GET {path} answered {status}"
    if title.encode() not in page:
        return f"GET {path} answered 200 without {title!r}"
    return None


def write_and_read(servers: dict[str, int], writer: str, reader: str, jar, form) -> None:
    """(b)/(c): log on `writer`, then the very next requests on `reader` show it."""
    title = f"Two servers: logged on {writer} {secrets.token_hex(4)}"
    # The reader has the log's first page open already: with the page cache
    # (REDIS_URL), its next view must not be the page kept before the write.
    for _ in range(4):  # each of its workers, whichever answers
        request(servers[reader], "GET", LIST, headers={"Cookie": cookie_header(jar)})
    print(f"{reader}: GET {LIST} 4 times before the write")
    path = log_disagreement(servers[writer], jar, form, title)
    answered = time.perf_counter()
    print(f"{writer}: POST {NEW} (form and CSRF token) → 302 {path}  {title!r}")
    search = "/disagreements/?" + urlencode({"q": title.rsplit(" ", 1)[1]}, quote_via=quote)
    for where in (path, LIST, search):
        problem = visible_problem(servers[reader], jar, where, title)
        expect(problem is None, f"{reader} does not see {writer}'s write: {problem}")
        seconds = time.perf_counter() - answered
        print(
            f"{reader}: GET {where} → 200, shows it ({seconds * 1000:.0f} ms after {writer}'s 302)"
        )


def check(servers: dict[str, int], facts: dict, password: str) -> None:
    username = facts["username"]
    a, b = servers["A"], servers["B"]

    # (a) One session, two servers.
    jar = login(a, username, password)
    print(f"A: logged in as {username} through the login form → session cookie")
    status, headers, page = request(b, "GET", PROFILE)
    location = (headers.get("location") or [""])[0]
    expect(
        status == 302 and "/accounts/login/" in location,
        f"B without a session answered {status} {location!r} instead of the log-in page",
    )
    print(f"B: GET {PROFILE} without the cookie → 302 {location}")
    status, headers, page = request(b, "GET", PROFILE, headers={"Cookie": cookie_header(jar)})
    problem = signed_in_problem(status, headers, page, username)
    expect(problem is None, f"B does not serve A's session: GET {PROFILE} {problem}")
    print(f"B: GET {PROFILE} with A's cookie → 200 'Signed in as {username}'")

    # (b) and (c): each server sees the other's writes at once.
    write_and_read(servers, "A", "B", jar, facts["form"])
    write_and_read(servers, "B", "A", jar, facts["form"])


def main() -> int:
    password = os.environ.get(
        "BENCH_PASSWORD", os.environ.get("CANDOR_SCALE_PASSWORD", "candor-scale")
    )
    url = database_url()
    env = django_env(url)
    name = urlsplit(url).path.lstrip("/") or url
    print(f"Candor scale-out check: two app servers, database={name}", flush=True)
    state = prepare(url, env, password)
    print(
        f"Data: {state['clients']:,} clients, {state['disagreements']:,} disagreements.", flush=True
    )
    facts = json.loads(manage(env, "shell", "-c", FACTS).strip().splitlines()[-1])
    print(
        f"Shared: sessions {facts['session_engine']}, cache {facts['cache']}, "
        f"jobs cache {facts['jobs_cache']}, files {facts['storage']}"
    )

    work = Path(tempfile.mkdtemp(prefix="candor-scaleout-"))
    processes: list[subprocess.Popen] = []
    try:
        servers = dict(zip("AB", two_free_ports(), strict=True))
        for server, port in servers.items():
            processes.append(start_gunicorn(env, port, work / f"gunicorn-{server}.log"))
        for (server, port), process in zip(servers.items(), processes, strict=True):
            wait_until_up(port, process, work / f"gunicorn-{server}.log")
            print(f"{server}: gunicorn pid {process.pid} on 127.0.0.1:{port}", flush=True)
        try:
            check(servers, facts, password)
        except CheckFailed:
            for server in servers:
                text = (work / f"gunicorn-{server}.log").read_text()
                log = "\n".join(ln for ln in text.splitlines() if "[INFO]" not in ln)[-3000:]
                if log:
                    print(f"--- gunicorn {server}'s log ---\n{log}", file=sys.stderr)
            raise
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
    print(
        "OK: two app processes on two ports, one database: the same logged-in session, "
        "and each sees the other's writes at once."
    )
    return 0


if __name__ == "__main__":
    command(main, "two_servers", failed=(CheckFailed,))
