"""`make bench`: how fast Candor's pages are at scale (docs/performance.md).

Against the database in DATABASE_URL (default: a local PostgreSQL database
`candor_bench_<SCALE>`, created if missing; only a database on this machine is
accepted), it migrates, collects static files, seeds the scale firm when it is
missing (`seed_scale`), counts each page's SQL queries in a separate process
(bench/queries.py), starts gunicorn (2 workers, persistent connections, DEBUG
off) on a free port of 127.0.0.1, logs in through the login form as the
manager and as the advisor, and drives each page for DURATION seconds with wrk
(bench/wrk.lua) or, without wrk, a Python client. It prints a table and writes
bench/results.json. gunicorn is stopped at the end, whatever happens.

Settings (environment, or `make bench SCALE=… DURATION=…`):
  SCALE        full (10,000 clients, 1,000,000 disagreements) or small (1,000 and 10,000)
  DURATION     seconds of load per page (default 10)
  CONNECTIONS  concurrent connections per page (default 2, one per gunicorn worker)
  DATABASE_URL the database (localhost only)
  BENCH_PASSWORD / CANDOR_SCALE_PASSWORD  the seed users' password (default candor-scale)
  BENCH_DRIVER wrk or python (default: wrk when installed)
  BENCH_REDIS_URL  Redis for the cache, sessions and cached pages, as production
               runs (default redis://127.0.0.1:6379/14; localhost only; `none` for
               no Redis: database sessions and no page cache)

Each GET page is also measured cold, as a first view after a write would be:
COLD_VIEWS sequential requests (default 15), each with a query parameter no
request used before, so none is served from the page cache (advisory/web/page_cache.py).
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
SCALES = {"full": (10_000, 1_000_000), "small": (1_000, 10_000)}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql", "postgis"}
# Issue 8's targets.
GET_RATIO, POST_RATIO, CSV_SECONDS, MAX_QUERIES = 3.0, 5.0, 2.0, 15


class BenchError(Exception):
    """Stops the benchmark with a message for the person running it."""


def database_url_problem(url: str) -> str | None:
    """Why the benchmark refuses to run against `url`, or None when it is local."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme.startswith("sqlite"):
        return None
    if scheme not in POSTGRES_SCHEMES:
        return (
            f"DATABASE_URL uses {scheme or 'no scheme'!r}; "
            "the benchmark runs on PostgreSQL or SQLite."
        )
    host = unquote(parts.hostname or "")
    if host in LOCAL_HOSTS or host.startswith("/"):  # a Unix socket directory is local too
        return None
    return (
        f"DATABASE_URL points at the host {host or '(none)'!r}. The benchmark seeds data and "
        "loads the server; it only runs against a database on this machine "
        "(localhost, 127.0.0.1 or a Unix socket). Refusing."
    )


def default_database_url(scale: str) -> str:
    return f"postgres://postgres:postgres@127.0.0.1:5432/candor_bench_{scale}"


def with_persistent_connections(url: str) -> str:
    if url.startswith("sqlite") or "conn_max_age=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "conn_max_age=600"


# --- Processes ---------------------------------------------------------------------


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"


def redis_url() -> str:
    """The Redis the servers use, or "" for none; refuses any host but this one."""
    url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    if url.lower() in ("", "none"):
        return ""
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise BenchError(f"BENCH_REDIS_URL points at {host!r}; only a local Redis is used.")
    try:
        socket.create_connection((host, urlsplit(url).port or 6379), timeout=2).close()
    except OSError:
        print(f"No Redis at {url}: database sessions, no page cache.")
        return ""
    return url


def django_env(database_url: str, redis: str | None = None) -> dict[str, str]:
    """The servers' environment; `redis` replaces REDIS_URL ("" for none) when given."""
    env = dict(os.environ)
    if redis is not None:
        env.pop("REDIS_URL", None)
        if redis:
            env["REDIS_URL"] = redis
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url,
        DEBUG="false",
        SECRET_KEY="bench-only-secret-key-not-for-production-" + "x" * 20,
        # testserver: bench/queries.py requests pages through Django's test client.
        ALLOWED_HOSTS="127.0.0.1,testserver",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SECURE_SSL", None)
    return env


def manage(env: dict[str, str], *args: str, capture: bool = True) -> str:
    command = [sys.executable, "manage.py", *args]
    result = subprocess.run(
        command, cwd=ROOT, env=env, text=True, capture_output=capture, check=False
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "")[-3000:] if capture else ""
        raise BenchError(f"`manage.py {' '.join(args)}` failed:\n{detail}")
    return result.stdout or ""


def ensure_postgres_database(url: str) -> None:
    """Create the (local) database when it does not exist yet."""
    import psycopg2
    from psycopg2 import sql

    parts = urlsplit(url)
    name = unquote(parts.path.lstrip("/"))
    connect = {
        "host": unquote(parts.hostname or "") or None,
        "port": parts.port or 5432,
        "user": unquote(parts.username or "") or None,
        "password": unquote(parts.password or "") or None,
    }
    try:
        connection = psycopg2.connect(dbname="postgres", **connect)
    except psycopg2.OperationalError as error:
        raise BenchError(f"Cannot connect to PostgreSQL at {parts.hostname}: {error}") from None
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            print(f"Creating database {name}…")
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    connection.close()


def seed_state(env: dict[str, str]) -> dict:
    code = (
        "import json; from accounts.models import User; "
        "from advisory.models import Client, Disagreement, Engagement; "
        "seed = User.objects.filter(username__startswith='scale-'); "
        "print(json.dumps({'seed_users': seed.count(), "
        "'clients': Client.objects.count(), 'engagements': Engagement.objects.count(), "
        "'disagreements': Disagreement.objects.count()}))"
    )
    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], port: int, log: Path, output: Path | None = None
) -> subprocess.Popen:
    """gunicorn on 127.0.0.1:`port`; its workers' own output to `output` when given."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "--config=config/gunicorn.py",  # as in production (docs/deploy.md)
        "config.wsgi:application",
        "--workers=2",
        f"--bind=127.0.0.1:{port}",
        "--timeout=120",
        f"--error-logfile={log}",
    ]
    # Its own process group, so stopping it stops its workers too.
    if output is None:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    with output.open("ab") as sink:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, stdout=sink, stderr=sink
        )


def stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def wait_until_up(port: int, process: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            if request(port, "GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise BenchError("gunicorn did not answer /healthz within a minute.")


# --- HTTP --------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> tuple[int, dict[str, list[str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        found: dict[str, list[str]] = {}
        for key, value in response.getheaders():
            found.setdefault(key.lower(), []).append(value)
        return response.status, found, data
    finally:
        connection.close()


def cookies_from(headers: dict[str, list[str]], jar: dict[str, str]) -> dict[str, str]:
    for line in headers.get("set-cookie", []):
        cookie = SimpleCookie()
        cookie.load(line)
        for name, morsel in cookie.items():
            jar[name] = morsel.value
    return jar


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in jar.items())


def form_token(page: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise BenchError("No CSRF token in the page.")
    return match.group(1).decode()


def login(port: int, username: str, password: str) -> dict[str, str]:
    """Log in through the real form (CSRF and all); the session's cookies."""
    status, headers, page = request(port, "GET", "/accounts/login/")
    jar = cookies_from(headers, {})
    body = urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": form_token(page)}
    )
    status, headers, _ = request(
        port,
        "POST",
        "/accounts/login/",
        body=body,
        headers={
            "Cookie": cookie_header(jar),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    cookies_from(headers, jar)
    if status != 302 or "sessionid" not in jar:
        raise BenchError(
            f"Logging in as {username} failed (HTTP {status}). Wrong BENCH_PASSWORD, or "
            "locked out after failures (`manage.py axes_reset`)?"
        )
    return jar


# --- Load --------------------------------------------------------------------------


def run_wrk(port, method, path, cookie, body, connections, duration) -> dict:
    env = dict(os.environ, BENCH_METHOD=method, BENCH_BODY=body or "")
    command = [
        "wrk",
        f"--threads={min(connections, 2)}",
        f"--connections={connections}",
        f"--duration={duration}s",
        "--timeout=60s",
        f"--script={ROOT / 'bench' / 'wrk.lua'}",
        "--header",
        f"Cookie: {cookie}",
        f"http://127.0.0.1:{port}{path}",
    ]
    result = subprocess.run(
        command, env=env, text=True, capture_output=True, timeout=duration + 120, check=False
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchError(f"wrk failed:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "median_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "errors": errors,
        "bytes_per_request": raw["bytes"] / raw["requests"] if raw["requests"] else 0,
    }


def run_python(port, method, path, cookie, body, connections, duration) -> dict:
    """Threads with keep-alive connections (reopened when the server closes one)."""
    headers = {"Cookie": cookie}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    received = [0]
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + duration
    limit = 200_000  # a bound on the loop whatever the speed

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        bodies = itertools.cycle(body.split("\n") if body else [None])  # as bench/wrk.lua
        while time.monotonic() < deadline and len(latencies) < limit:
            begin = time.perf_counter()
            try:
                connection.request(method, path, body=next(bodies), headers=headers)
                response = connection.getresponse()
                data = response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, data = 0, b""
            elapsed = time.perf_counter() - begin
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
                received[0] += len(data)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    ordered = sorted(latencies)
    errors = sum(n for status, n in statuses.items() if not 200 <= status < 400)
    return {
        "requests": len(ordered),
        "median_ms": statistics.median(ordered) * 1000 if ordered else None,
        "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000
        if ordered
        else None,
        "rps": len(ordered) / seconds if seconds else 0.0,
        "errors": errors,
        "bytes_per_request": received[0] / len(ordered) if ordered else 0,
    }


def cold_median(port: int, path: str, cookie: str, views: int) -> float | None:
    """Median ms of `views` sequential first views: each URL is new to the page cache."""
    timings = []
    for n in range(views):
        fresh = f"{path}{'&' if '?' in path else '?'}cold={time.time_ns()}-{n}"
        begin = time.perf_counter()
        status, _, _ = request(port, "GET", fresh, headers={"Cookie": cookie})
        if status == 200:
            timings.append((time.perf_counter() - begin) * 1000)
    return statistics.median(timings) if timings else None


def check(port: int, item: dict, cookie: str, body: str | None) -> str | None:
    """One request before the load: the status it must answer with."""
    method = item.get("method", "GET")
    headers = {"Cookie": cookie}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    status, found, data = request(port, method, item["path"], headers=headers, body=body)
    if method == "POST":
        location = (found.get("location") or [""])[0]
        if status != 302 or location.endswith("/new/"):
            snippet = re.findall(rb'class="invalid-feedback[^"]*"[^>]*>([^<]+)', data)[:3]
            return f"POST answered {status} {location} {snippet}"
        return None
    if status != 200:
        return f"GET answered {status}"
    return None


# --- Report ------------------------------------------------------------------------


BASELINES = ("baseline", "baseline (end)")


def verdicts(items: list[dict]) -> None:
    """Each row's ratio to the baseline (the mean of its medians at the start and
    the end of the run) and whether it meets issue 8's targets."""
    medians = [i["median_ms"] for i in items if i["name"] in BASELINES and i.get("median_ms")]
    baseline = sum(medians) / len(medians) if medians else None
    for item in items:
        median = item.get("median_ms")
        item["ratio"] = median / baseline if median and baseline else None
        problems = []
        if item.get("queries") is not None and item["queries"] > MAX_QUERIES:
            problems.append(f"{item['queries']} queries > {MAX_QUERIES}")
        if item.get("error"):
            problems.append(item["error"])
        name = item["name"]
        if name == "CSV export":
            if median is None or median > CSV_SECONDS * 1000:
                problems.append(f"download > {CSV_SECONDS:g} s")
        elif item.get("method") == "POST":
            if item["ratio"] is None or item["ratio"] > POST_RATIO:
                problems.append(f"> {POST_RATIO:g}x baseline")
        elif name not in ("healthz", *BASELINES) and (
            item["ratio"] is None or item["ratio"] > GET_RATIO
        ):
            problems.append(f"> {GET_RATIO:g}x baseline")
        item["target_met"] = not problems
        item["misses"] = problems


def table(items: list[dict]) -> str:
    header = (
        f"{'page':<36} {'median ms':>10} {'p95 ms':>9} {'req/s':>8} {'x base':>7} {'SQL':>4}"
        f" {'cold ms':>8}  target"
    )
    lines = [header, "-" * len(header)]

    def num(item: dict, key: str, fmt: str) -> str:
        value = item.get(key)
        return format(value, fmt) if value is not None else "-"

    for item in items:
        target = "ok" if item["target_met"] else "MISS: " + "; ".join(item["misses"])
        if item["name"] in ("healthz", *BASELINES) and item["target_met"]:
            target = ""
        lines.append(
            f"{item['name']:<36} {num(item, 'median_ms', '.1f'):>10} "
            f"{num(item, 'p95_ms', '.1f'):>9} {num(item, 'rps', '.1f'):>8} "
            f"{num(item, 'ratio', '.2f'):>7} {num(item, 'queries', 'd'):>4} "
            f"{num(item, 'cold_ms', '.1f'):>8}  {target}"
        )
    return "\n".join(lines)


def machine() -> dict:
    memory = None
    try:
        with open("/proc/meminfo") as info:
            kib = int(next(ln for ln in info if ln.startswith("MemTotal")).split()[1])
            memory = round(kib / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        pass
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
    }


# --- Main --------------------------------------------------------------------------


def main() -> int:
    scale = os.environ.get("SCALE", "full")
    if scale not in SCALES:
        raise BenchError(f"SCALE must be one of {', '.join(SCALES)}, not {scale!r}.")
    duration = int(os.environ.get("DURATION", "10"))
    connections = int(os.environ.get("CONNECTIONS", "2"))
    cold_views = int(os.environ.get("COLD_VIEWS", "15"))
    password = os.environ.get(
        "BENCH_PASSWORD", os.environ.get("CANDOR_SCALE_PASSWORD", "candor-scale")
    )
    url = os.environ.get("DATABASE_URL") or default_database_url(scale)
    problem = database_url_problem(url)
    if problem:
        raise BenchError(problem)
    load_at_start = os.getloadavg()
    driver = os.environ.get("BENCH_DRIVER") or ("wrk" if shutil.which("wrk") else "python")
    load = run_wrk if driver == "wrk" else run_python
    url = with_persistent_connections(url)
    redis = redis_url()
    env = django_env(url, redis)
    database = urlsplit(url).path.lstrip("/") or url

    print(
        f"Candor bench: SCALE={scale} DURATION={duration}s CONNECTIONS={connections} "
        f"driver={driver} database={database} redis={redis or 'none'}"
    )
    if urlsplit(url).scheme.lower() in POSTGRES_SCHEMES:
        ensure_postgres_database(url)
    print("migrate + collectstatic…")
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    state = seed_state(env)
    if not state["seed_users"]:
        clients, disagreements = SCALES[scale]
        print(f"Seeding {clients:,} clients and {disagreements:,} disagreements…")
        started = time.monotonic()
        manage(
            env,
            "seed_scale",
            f"--clients={clients}",
            f"--disagreements={disagreements}",
            f"--password={password}",
            capture=False,
        )
        print(f"Seeded in {time.monotonic() - started:.0f} s.")
        state = seed_state(env)
    else:
        print(
            f"Seed data present: {state['clients']:,} clients, "
            f"{state['disagreements']:,} disagreements."
        )

    work = Path(tempfile.mkdtemp(prefix="candor-bench-"))
    endpoints_file = work / "endpoints.json"
    print("Counting each page's SQL queries (Django test client, separate process)…")
    result = subprocess.run(
        [sys.executable, "-m", "bench.queries", str(endpoints_file)],
        cwd=ROOT, env=env, text=True, capture_output=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BenchError(f"bench/queries.py failed:\n{result.stderr[-3000:]}")
    items = json.loads(endpoints_file.read_text())

    port = free_port()
    log = work / "gunicorn.log"
    server = None
    try:
        server = start_gunicorn(env, port, log)
        wait_until_up(port, server, log)
        users = {"manager": "scale-manager", "advisor": "scale-advisor", "admin": "scale-admin"}
        sessions = {role: login(port, name, password) for role, name in users.items()}
        # A form token for the POST, from the page the advisor would use.
        _, found, page = request(
            port, "GET", "/disagreements/new/",
            headers={"Cookie": cookie_header(sessions["advisor"])},
        )  # fmt: skip
        cookies_from(found, sessions["advisor"])
        token = form_token(page)
        for item in items:
            jar = sessions.get(item["user"]) or {}
            cookie = cookie_header(jar)
            method = item.get("method", "GET")
            body = first = None
            if method == "POST":
                # One body per engagement, each request the next (bench/queries.py).
                bodies = [
                    urlencode({**item["form"], "engagement": pk, "csrfmiddlewaretoken": token})
                    for pk in item["engagements"]
                ]
                body, first = "\n".join(bodies), bodies[0]
            item["error"] = check(port, item, cookie, first)
            if item["error"]:
                print(f"  {item['name']}: {item['error']} — not measured")
                continue
            print(f"  {item['name']}…", flush=True)
            for _ in range(2):  # warm both workers
                request(port, method, item["path"], headers={"Cookie": cookie, **(
                    {"Content-Type": "application/x-www-form-urlencoded"} if first else {})},
                    body=first)  # fmt: skip
            item.update(
                load(
                    port, method, item["path"], cookie, body,
                    item.get("connections", connections), duration,
                )
            )  # fmt: skip
            if item["errors"]:
                item["error"] = f"{item['errors']} failed requests"
            if method == "GET" and item["name"] not in ("healthz", "CSV export", *BASELINES):
                item["cold_ms"] = cold_median(port, item["path"], cookie, cold_views)
    finally:
        stop(server)

    verdicts(items)
    print()
    print(table(items))
    pages = [i for i in items if i["name"] not in ("healthz", *BASELINES)]
    met = [i["name"] for i in pages if i["target_met"]]
    print(f"\n{len(met)} of {len(pages)} measured pages meet issue 8's targets.")
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "duration_s": duration,
        "connections": connections,
        "driver": driver,
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        },
        "database": {"vendor": urlsplit(url).scheme, "name": database, **state},
        "redis": redis or None,
        "targets": {
            "get_ratio": GET_RATIO,
            "post_ratio": POST_RATIO,
            "csv_seconds": CSV_SECONDS,
            "max_queries": MAX_QUERIES,
        },
        "endpoints": [{k: v for k, v in item.items() if k not in ("form",)} for item in items],
    }
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"Written {RESULTS.relative_to(ROOT)}.")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def command(
    main: Callable[[], int], name: str, *, failed: tuple[type[Exception], ...] = ()
) -> None:
    """Run a bench command's `main`: `kill` stops the servers it started too;
    `failed` (a check that did not hold) exits 1, a BenchError 2."""
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        sys.exit(main())
    except failed as failure:
        print(f"{name}: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    except BenchError as error:
        print(f"{name}: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{name}: interrupted; the servers it started are stopped.", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    command(main, "bench")
