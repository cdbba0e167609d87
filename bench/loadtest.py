"""`make loadtest`: many people at once, and nothing they write is lost.

Against a PostgreSQL database on this machine (DATABASE_URL, default the local
database `candor_loadtest`, created when missing) it migrates, collects static
files, seeds the demo firm (`seed_demo --force`: the demo people and about forty
clients; what exists is kept), starts gunicorn as `make bench` does (bench/run.py:
2 workers, persistent connections, DEBUG off, 127.0.0.1 only) and lets USERS
virtual users work for DURATION seconds. Each is a thread with its own sessions,
logged in through the login form as a demo advisor or manager, and mixes:

  - browsing: the dashboard, the client list, a client, the log with filters,
    the health board;
  - logging disagreements through the real form (CSRF token and all), each with
    its own marker text, and opening the new disagreement;
  - recording the client's decision on one of its disagreements;
  - a conflict pair: the user and a colleague open the same disagreement's edit
    form at the same version and both save different text at the same moment.
    One save must win; the other must be answered with the conflict message
    (HTTP 409), never a success.

Every request's status and latency is recorded. Afterwards the database itself
is checked through the ORM (`verify`): no 5xx; every accepted write (a POST
answered with its success redirect) is stored with exactly the content sent,
and the number of logged rows equals the accepted logs; no refused write and no
conflict loser's text is stored anywhere, history included; each conflict pair
has exactly one winner, whose text is the stored one; each record's history
has one entry per accepted write, with its reason and author; and the history's
log verifies (`verify_log`). It prints a table, writes
bench/loadtest.json and exits 1 when a check fails (2 when it cannot run).
gunicorn is stopped at the end, whatever happens.

Settings (environment, or `make loadtest USERS=… DURATION=…`):
  USERS         virtual users (default 16)
  DURATION      seconds of load (default 60)
  DATABASE_URL  the PostgreSQL database (localhost only)
  LOADTEST_PASSWORD  the demo users' password (default candor-demo-pass)
"""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from bench.run import (
    POSTGRES_SCHEMES,
    BenchError,
    command,
    cookie_header,
    cookies_from,
    database_url_problem,
    django_env,
    ensure_postgres_database,
    free_port,
    login,
    machine,
    manage,
    request,
    start_gunicorn,
    stop,
    wait_until_up,
    with_persistent_connections,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "loadtest.json"
DEFAULT_DATABASE_URL = "postgres://postgres:postgres@127.0.0.1:5432/candor_loadtest"
# The demo people (advisory/seeding/demo.py). A colleague for the conflict pairs who
# may edit the same disagreements: the team's manager and its advisor; the
# other team's advisor has no colleague there, so edits in a second session.
PERSONAS = ("advisor", "manager", "advisor2")
PARTNER = {"advisor": "manager", "manager": "advisor", "advisor2": "advisor2"}
DEMO_PASSWORD = "candor-demo-pass"  # settings.CANDOR_DEMO_PASSWORD
# What a user's next step is, by weight.
MIX = {"browse": 60, "log": 20, "decide": 10, "conflict": 10}
OPENING = ["log", "conflict", "decide", "browse"]  # every user's first steps
THINK_SECONDS = (0.0, 0.2)  # a pause between steps, at random in this range
MAX_STEPS = 5_000  # per user, a bound on the loop whatever the speed
CONFLICT_TEXT = b"Someone else saved this record while you were editing"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
DETAIL = re.compile(r"^/disagreements/(\d+)/$")
DECISIONS = ["accepted", "compromise", "proceeded", "withdrew"]
TOPICS = ["scope", "fees", "timeline", "approach", "risk", "ethics", "staffing", "other"]
LIST_FILTERS = [
    {},
    {"severity": "high"},
    {"tone": "hostile", "o": "-occurred"},
    {"decision": "pending"},
    {"state": "awaiting_outcome"},
    {"q": "fee"},
]
# The fields a write sets, compared with the stored record afterwards.
LOG_FIELDS = [
    "engagement",
    "occurred_on",
    "title",
    "topic",
    "client_request",
    "recommendation",
    "rationale",
    "severity",
    "tone",
    "follow_up_on",
]
DECISION_FIELDS = [
    "decision",
    "decided_on",
    "risk_acknowledged",
    "acknowledged_on",
    "acknowledgment_method",
    "client_words",
]


# --- HTML forms, read as a browser reads them ---------------------------------------


class _Forms(HTMLParser):
    """Each <form>'s successful controls: what a browser would submit as is."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self._form = {"method": (found.get("method") or "get").lower(), "fields": {}}
            self._form["options"] = {}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = found.get("name")
        usable = bool(name) and "disabled" not in found
        fields, options = self._form["fields"], self._form["options"]
        if tag == "input" and usable:
            kind = (found.get("type") or "text").lower()
            value = found.get("value")
            if kind in ("checkbox", "radio"):
                # A browser sends "on" only for a box without a value attribute;
                # value="" (a "Not recorded" radio) is sent as "".
                value = "on" if value is None else value
                options.setdefault(name, []).append(value)
                if "checked" in found:
                    fields[name] = value
            elif kind not in ("submit", "button", "image", "reset", "file"):
                fields[name] = value or ""
        elif tag == "textarea" and usable:
            self._textarea, self._text = name, []
        elif tag == "select":
            self._select = name if usable else None
        elif tag == "option" and self._select:
            value = found.get("value") or ""
            options.setdefault(self._select, []).append(value)
            if "selected" in found or self._select not in fields:
                fields[self._select] = value  # the first option unless one is selected

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea and self._form is not None:
            text = "".join(self._text)
            # HTML drops the newline that starts a textarea's content (Django writes one).
            self._form["fields"][self._textarea] = text.removeprefix("\r\n").removeprefix("\n")
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self._text.append(data)


def post_form(page: bytes, field: str) -> dict:
    """The page's POST form that has `field`: {"fields": {...}, "options": {...}}."""
    parser = _Forms()
    parser.feed(page.decode("utf-8", "replace"))
    for form in parser.forms:
        if form["method"] == "post" and (field in form["fields"] or field in form["options"]):
            return form
    raise BenchError(f"No form with the field {field!r} on the page.")


# --- Recording ---------------------------------------------------------------------


class Record:
    """Everything the users did, shared by their threads."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.lock = threading.Lock()
        self.requests: list[tuple[str, int, float]] = []  # kind, status, ms
        self.unexpected: list[str] = []  # a status the step did not expect
        self.writes: list[dict] = []  # accepted, in the order they were answered
        self.refused: list[dict] = []  # log POSTs not answered with success
        self.pairs: list[dict] = []

    def request(self, kind: str, status: int, seconds: float, expected: tuple[int, ...]) -> None:
        with self.lock:
            self.requests.append((kind, status, seconds * 1000))
            if status not in expected:
                self.unexpected.append(f"{kind}: HTTP {status} (expected {expected})")

    def add(self, bucket: str, item: dict) -> None:
        with self.lock:
            getattr(self, bucket).append(item)

    def as_dict(self) -> dict:
        return {
            "marker": self.marker,
            "requests": self.requests,
            "unexpected": self.unexpected,
            "writes": self.writes,
            "refused": self.refused,
            "pairs": self.pairs,
        }


class Session:
    """One signed-in browser: its cookies, and every request recorded."""

    def __init__(self, port: int, username: str, password: str, record: Record) -> None:
        self.port, self.username, self.record = port, username, record
        started = time.perf_counter()
        self.jar = login(port, username, password)
        record.request("login", 302, time.perf_counter() - started, (302,))

    def send(
        self, kind: str, method: str, path: str, data: dict | None = None, expected=(200,)
    ) -> tuple[int, str, bytes]:
        headers = {"Cookie": cookie_header(self.jar)}
        body = None
        if data is not None:
            headers.update(FORM_HEADERS)
            body = urlencode(data)
        started = time.perf_counter()
        try:
            status, found, page = request(self.port, method, path, headers=headers, body=body)
        except OSError as error:
            status, found, page = 0, {}, str(error).encode()
        self.record.request(kind, status, time.perf_counter() - started, expected)
        cookies_from(found, self.jar)
        location = (found.get("location") or [""])[0]
        return status, urlsplit(location).path, page

    def get(self, kind: str, path: str) -> tuple[int, bytes]:
        status, _, page = self.send(kind, "GET", path)
        return status, page

    def form(self, kind: str, path: str, field: str) -> dict | None:
        status, page = self.get(kind, path)
        return post_form(page, field) if status == 200 else None


# --- The virtual user ----------------------------------------------------------------


class User:
    def __init__(self, number: int, port: int, password: str, record: Record, rng) -> None:
        self.number, self.record, self.rng = number, record, rng
        persona = PERSONAS[number % len(PERSONAS)]
        self.me = Session(port, persona, password, record)
        self.colleague = Session(port, PARTNER[persona], password, record)
        self.clients: list[str] = []
        self.mine: list[dict] = []  # {"pk", "decided"}
        self.count = 0
        # Log on engagements both may open, so that each can edit what the other logged.
        engagements = None
        for session in (self.me, self.colleague):
            status, page = session.get("log form", "/disagreements/new/")
            if status != 200:
                raise BenchError(f"{session.username}: GET /disagreements/new/ answered {status}")
            form = post_form(page, "title")
            ids = {v for v in form["options"].get("engagement", []) if v}
            engagements = ids if engagements is None else engagements & ids
        self.engagements = sorted(engagements or [])
        if not self.engagements:
            raise BenchError(f"{persona} and {PARTNER[persona]} share no engagement to log on.")

    def marker(self, what: str) -> str:
        self.count += 1
        return f"{self.record.marker} {what} u{self.number:02d}-{self.count:04d}"

    def run(self, deadline: float) -> None:
        """OPENING first (even a short run does each kind of step), then at random."""
        steps = list(MIX)
        weights = list(MIX.values())
        for number in range(MAX_STEPS):
            if number >= len(OPENING) and time.monotonic() >= deadline:
                return
            step = OPENING[number] if number < len(OPENING) else self.rng.choices(steps, weights)[0]
            if step in ("decide", "conflict") and not self.mine:
                step = "log"
            getattr(self, step)()
            time.sleep(self.rng.uniform(*THINK_SECONDS))

    # Steps.

    def browse(self) -> None:
        page = self.rng.choice(["dashboard", "clients", "client", "log", "health"])
        if page == "dashboard":
            self.me.get("dashboard", "/")
        elif page == "clients" or not self.clients:
            status, body = self.me.get("client list", "/clients/")
            if status == 200:
                self.clients = sorted(set(re.findall(r'href="/clients/(\d+)/"', body.decode())))
        elif page == "client":
            self.me.get("client detail", f"/clients/{self.rng.choice(self.clients)}/")
        elif page == "log":
            query = urlencode(self.rng.choice(LIST_FILTERS))
            self.me.get("disagreement list", "/disagreements/" + (f"?{query}" if query else ""))
        else:
            self.me.get("health board", "/health/")

    def log(self) -> None:
        form = self.me.form("log form", "/disagreements/new/", "title")
        if form is None:
            return
        today = datetime.date.today()
        title = self.marker("log")
        sent = {
            **form["fields"],
            "engagement": self.rng.choice(self.engagements),
            # A day back at least: the server's today may be this machine's yesterday.
            "occurred_on": (today - datetime.timedelta(days=self.rng.randint(2, 60))).isoformat(),
            "title": title,
            "topic": self.rng.choice(TOPICS),
            "client_request": f"Please skip the stock count — «{title}».\nSecond line: naïve café",
            "recommendation": f"Count the stock <b>as planned</b> & keep the minutes ({title}).",
            "rationale": f"Rationale for {title}: 'quotes', \"double\" and <script>x</script>",
            "severity": self.rng.choice(["low", "moderate", "high", "critical"]),
            "tone": self.rng.choice(["collaborative", "tense", "hostile"]),
            "follow_up_on": "",
        }
        status, location, _ = self.me.send(
            "log POST", "POST", "/disagreements/new/", sent, expected=(302,)
        )
        match = DETAIL.match(location) if status == 302 else None
        if not match:
            self.record.add("refused", {"title": title, "status": status})
            return
        pk = int(match.group(1))
        self.record.add(
            "writes",
            {
                "kind": "log",
                "pk": pk,
                "user": self.me.username,
                "fields": {name: sent[name] for name in LOG_FIELDS},
                "reason": "Logged",
            },
        )
        self.mine.append({"pk": pk, "decided": False})
        # As a browser follows the redirect; the page shows the text, escaped.
        status, page = self.me.get("disagreement detail", location)
        if status == 200 and (title.encode() not in page or b"<script>x</script>" in page):
            self.record.add("unexpected", f"{location} does not show {title!r}, escaped")

    def decide(self) -> None:
        pending = [item for item in self.mine if not item["decided"]]
        if not pending:
            return self.log()
        item = self.rng.choice(pending)
        path = f"/disagreements/{item['pk']}/decision/"
        form = self.me.form("decision form", path, "decision")
        if form is None:
            return None
        decision = self.rng.choice(DECISIONS)
        yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
        proceeded = decision == "proceeded"
        words = f"“We accept the risk.” ({self.marker('words')})" if proceeded else ""
        sent = {
            **form["fields"],
            "decision": decision,
            "decided_on": yesterday,
            "risk_acknowledged": "True" if proceeded else "",
            "acknowledged_on": yesterday if proceeded else "",
            "acknowledgment_method": "email" if proceeded else "",
            "client_words": words,
        }
        status, location, _ = self.me.send("decision POST", "POST", path, sent, expected=(302,))
        if status == 302 and DETAIL.match(location):
            item["decided"] = True
            self.record.add(
                "writes",
                {
                    "kind": "decision",
                    "pk": item["pk"],
                    "user": self.me.username,
                    "fields": {name: sent[name] for name in DECISION_FIELDS},
                },
            )
        return None

    def conflict(self) -> None:
        """Both open the same edit form, then both save at the same moment."""
        item = self.rng.choice(self.mine)
        path = f"/disagreements/{item['pk']}/edit/"
        sides = []
        for session in (self.me, self.colleague):
            form = session.form("edit form", path, "title")
            if form is None:
                return
            text = self.marker(f"edit by {session.username}")
            sent = {**form["fields"], "rationale": text, "change_reason": f"Reason: {text}"}
            sides.append({"session": session, "sent": sent, "text": text})
        start = threading.Barrier(len(sides))

        def save(side: dict) -> None:
            start.wait(timeout=60)
            side["status"], side["location"], page = side["session"].send(
                "edit POST", "POST", path, side["sent"], expected=(302, 409)
            )
            side["conflict_shown"] = CONFLICT_TEXT in page

        threads = [threading.Thread(target=save, args=(side,)) for side in sides]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pair = {
            "pk": item["pk"],
            "sides": [
                {
                    "user": side["session"].username,
                    "text": side["text"],
                    "status": side.get("status"),
                    "accepted": side.get("status") == 302 and bool(DETAIL.match(side["location"])),
                    "conflict_shown": side.get("conflict_shown", False),
                }
                for side in sides
            ],
        }
        self.record.add("pairs", pair)
        for side, summary in zip(sides, pair["sides"], strict=True):
            if summary["accepted"]:
                self.record.add(
                    "writes",
                    {
                        "kind": "edit",
                        "pk": item["pk"],
                        "user": summary["user"],
                        "fields": {
                            name: side["sent"].get(name, "")
                            for name in LOG_FIELDS
                            if name != "engagement"
                        },
                        "reason": side["sent"]["change_reason"],
                    },
                )


def run_workload(
    port: int,
    *,
    users: int,
    duration: float,
    password: str = DEMO_PASSWORD,
    seed: int | None = None,
) -> dict:
    """USERS virtual users against 127.0.0.1:`port` for `duration` seconds."""
    record = Record(marker=f"LT-{secrets.token_hex(4)}")
    seed = seed if seed is not None else secrets.randbelow(2**31)
    crowd: list[User | None] = [None] * users
    failures: list[str] = []

    def sign_in(number: int) -> None:
        try:
            crowd[number] = User(number, port, password, record, random.Random(seed + number))
        except BenchError as error:
            failures.append(str(error))

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in range(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise BenchError(failures[0])
    setup_requests = len(record.requests)

    started = time.monotonic()
    deadline = started + duration
    errors: list[str] = []

    def work(user: User) -> None:
        try:
            user.run(deadline)
        except Exception as error:  # reported as a failed check, not lost in a thread
            errors.append(f"user {user.number}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(user,)) for user in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    result = record.as_dict()
    result["unexpected"] = [*result["unexpected"], *errors]
    result.update(users=users, duration_s=duration, elapsed_s=elapsed, seed=seed)
    result["setup_requests"] = setup_requests
    return result


# --- What the database says afterwards (Django's ORM) --------------------------------


def _stored(value) -> str:
    """A model value as the form sent it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def verify(result: dict) -> dict:
    """Check the database against what the users were told; {"problems": [...], ...}."""
    from advisory.history import verification
    from advisory.models import Disagreement

    problems: list[str] = []
    statuses = Counter(status for _, status, _ in result["requests"])
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    if server_errors:
        problems.append(f"{server_errors} responses with a 5xx status")
    if statuses.get(0):
        problems.append(f"{statuses[0]} requests got no answer")
    problems += [f"unexpected: {what}" for what in result["unexpected"][:20]]
    if len(result["unexpected"]) > 20:
        problems.append(f"… and {len(result['unexpected']) - 20} more unexpected answers")

    # What each record must be now: its writes, replayed in the order they were answered.
    expected: dict[int, dict] = {}
    for write in result["writes"]:
        state = expected.setdefault(write["pk"], {"fields": {}, "entries": []})
        state["fields"].update(write["fields"])
        reason = write.get("reason")
        if write["kind"] == "decision":
            reason = f"Decision: {Disagreement.Decision(write['fields']['decision']).label}"
        state["entries"].append((reason, write["user"]))
        if write["kind"] == "log":
            state["logged_by"] = write["user"]

    marker = result["marker"]
    logs = [w for w in result["writes"] if w["kind"] == "log"]
    stored = Disagreement.objects.filter(title__startswith=f"{marker} ")
    if stored.count() != len(logs):
        problems.append(
            f"{stored.count()} disagreements carry this run's marker; {len(logs)} were accepted"
        )
    records = {
        d.pk: d for d in Disagreement.objects.filter(pk__in=expected).select_related("logged_by")
    }
    history = defaultdict(list)
    for entry in (
        Disagreement.history.filter(id__in=expected)
        .select_related("history_user")
        .order_by("history_id")
    ):
        history[entry.id].append(entry)
    verified = 0
    for pk, state in expected.items():
        record = records.get(pk)
        if record is None:
            problems.append(f"disagreement #{pk}: accepted but not in the database")
            continue
        wrong = [
            f"{name}: stored {_stored(getattr(record, _attname(name)))!r}, sent {value!r}"
            for name, value in state["fields"].items()
            if _stored(getattr(record, _attname(name))) != value
        ]
        if "logged_by" in state and record.logged_by.username != state["logged_by"]:
            wrong.append(f"logged by {record.logged_by.username}, not {state['logged_by']}")
        if record.version != len(state["entries"]):
            wrong.append(f"version {record.version} after {len(state['entries'])} writes")
        entries = [(e.history_change_reason, getattr(e.history_user, "username", None))
                   for e in history[pk]]  # fmt: skip
        if entries != state["entries"]:
            wrong.append(f"history {entries} instead of {state['entries']}")
        elif any(
            _stored(getattr(history[pk][-1], _attname(name))) != value
            for name, value in state["fields"].items()
        ):
            wrong.append("its latest history entry differs from what was sent")
        if wrong:
            problems.append(f"disagreement #{pk}: " + "; ".join(wrong))
        else:
            verified += 1

    for refused in result["refused"]:
        if Disagreement.objects.filter(title=refused["title"]).exists():
            problems.append(f"refused write {refused['title']!r} (HTTP {refused['status']}) stored")

    conflicts = 0
    for pair in result["pairs"]:
        winners = [side for side in pair["sides"] if side["accepted"]]
        losers = [side for side in pair["sides"] if not side["accepted"]]
        where = f"conflict pair on #{pair['pk']}"
        if len(winners) != 1:
            problems.append(
                f"{where}: {len(winners)} saves accepted"
                + (" (one silently overwrote the other)" if len(winners) > 1 else "")
            )
        for loser in losers:
            if loser["status"] != 409 or not loser["conflict_shown"]:
                problems.append(
                    f"{where}: {loser['user']} got HTTP {loser['status']} without the conflict "
                    "message"
                )
            else:
                conflicts += 1
            if Disagreement.history.filter(rationale=loser["text"]).exists():
                problems.append(f"{where}: {loser['user']}'s refused text was stored")
        for winner in winners:
            # Stored as the winner sent it (and, unless a later pair changed it
            # again, the record's text now: the replayed writes check that).
            if not Disagreement.history.filter(id=pair["pk"], rationale=winner["text"]).exists():
                problems.append(f"{where}: the winner's text is not stored")

    report = verification.verify()
    if not report.ok:
        first = report.problems[0]
        problems.append(f"log does not verify: {first.where}: {first.problem}")
    return {
        "problems": problems,
        "server_errors": server_errors,
        "writes_accepted": len(result["writes"]),
        "records_written": len(expected),
        "records_verified": verified,
        "logs_accepted": len(logs),
        "logs_refused": len(result["refused"]),
        "conflict_pairs": len(result["pairs"]),
        "conflicts_reported": conflicts,
        "log_entries_verified": report.entries,
    }


def _attname(name: str) -> str:
    return "engagement_id" if name == "engagement" else name


# --- Report ---------------------------------------------------------------------------


def figures(result: dict) -> dict:
    """Requests, rate and latency by kind, for the timed part of the run."""
    timed = result["requests"][result.get("setup_requests", 0) :]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, ms in timed:
        by_kind[kind].append(ms)
    every = [ms for _, _, ms in timed]
    elapsed = result["elapsed_s"] or 1

    def row(values: list[float]) -> dict:
        ordered = sorted(values)
        return {
            "requests": len(ordered),
            "rps": len(ordered) / elapsed,
            "median_ms": statistics.median(ordered) if ordered else None,
            "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else None,
        }

    return {
        "all": row(every),
        "by_kind": {kind: row(values) for kind, values in sorted(by_kind.items())},
        "statuses": dict(Counter(str(status) for _, status, _ in result["requests"])),
    }


def table(numbers: dict, checked: dict) -> str:
    header = f"{'request':<20} {'count':>7} {'req/s':>7} {'median ms':>10} {'p95 ms':>8}"
    lines = [header, "-" * len(header)]
    rows = [*numbers["by_kind"].items(), ("all", numbers["all"])]
    for kind, row in rows:
        median = f"{row['median_ms']:.0f}" if row["median_ms"] is not None else "-"
        p95 = f"{row['p95_ms']:.0f}" if row["p95_ms"] is not None else "-"
        lines.append(f"{kind:<20} {row['requests']:>7} {row['rps']:>7.1f} {median:>10} {p95:>8}")
    lines += [
        "",
        f"5xx responses:        {checked['server_errors']}",
        f"writes accepted:      {checked['writes_accepted']} "
        f"({checked['logs_accepted']} logged, on {checked['records_written']} disagreements; "
        f"{checked['logs_refused']} refused)",
        f"records verified:     {checked['records_verified']} of {checked['records_written']} "
        "(content, version, history)",
        f"conflict pairs:       {checked['conflict_pairs']}, "
        f"conflicts reported:   {checked['conflicts_reported']}",
        f"history log:          {checked['log_entries_verified']} entries verified",
    ]
    return "\n".join(lines)


# --- Main ------------------------------------------------------------------------------


def database_url() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    problem = database_url_problem(url)
    if problem:
        raise BenchError(problem)
    if urlsplit(url).scheme.lower() not in POSTGRES_SCHEMES:
        raise BenchError("The load test runs on PostgreSQL: set DATABASE_URL to a local one.")
    return with_persistent_connections(url)


def main() -> int:
    users = int(os.environ.get("USERS", "16"))
    duration = float(os.environ.get("DURATION", "60"))
    if not 1 <= users <= 200 or not 1 <= duration <= 3600:
        raise BenchError("USERS must be 1 to 200 and DURATION 1 to 3600 seconds.")
    password = os.environ.get("LOADTEST_PASSWORD", DEMO_PASSWORD)
    url = database_url()
    work = Path(tempfile.mkdtemp(prefix="candor-loadtest-"))
    env = django_env(url)
    # The tasks the writes enqueue (e-mails) go to a queue of this run's own,
    # never to the one `make run`'s worker sends from.
    env.update(HUEY_FILE=str(work / "huey.sqlite3"), JOBS_CACHE_DIR=str(work / "jobs"))
    name = urlsplit(url).path.lstrip("/")
    load_at_start = os.getloadavg()
    print(f"Candor load test: USERS={users} DURATION={duration:g}s database={name}", flush=True)
    ensure_postgres_database(url)
    print("migrate + collectstatic + seed_demo…", flush=True)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    manage(env, "seed_demo", "--force")

    port = free_port()
    log, output = work / "gunicorn.log", work / "app.log"
    server = None
    try:
        # The app's own log lines (each sign-in, each conflict) go to a file, not the table.
        server = start_gunicorn(env, port, log, output=output)
        wait_until_up(port, server, log)
        print(f"gunicorn on 127.0.0.1:{port}; {users} users signing in…", flush=True)
        result = run_workload(port, users=users, duration=duration, password=password)
    except BenchError as error:
        raise BenchError(f"{error}\nThe server's logs are kept in {work}.") from None
    finally:
        stop(server)
    lines = [*log.read_text().splitlines(), *output.read_text().splitlines()]
    errors = [ln for ln in lines if "[ERROR]" in ln or " ERROR " in ln or "Traceback" in ln]

    os.environ.update(env)  # the checks read the same database, through the ORM
    import django

    django.setup()
    checked = verify(result)
    numbers = figures(result)
    print()
    print(table(numbers, checked))
    report = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "users": users,
        "duration_s": duration,
        "elapsed_s": round(result["elapsed_s"], 1),
        "seed": result["seed"],
        "marker": result["marker"],
        "machine": {
            **machine(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": os.getloadavg(),
        },
        "database": name,
        "figures": numbers,
        "checks": checked,
        "gunicorn_errors": errors[:20],
    }
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\nWritten {RESULTS.relative_to(ROOT)}.")
    if checked["problems"]:
        print(f"\nFAILED: {len(checked['problems'])} problems:", file=sys.stderr)
        for problem in checked["problems"][:30]:
            print(f"  - {problem}", file=sys.stderr)
        print(f"The server's logs are kept in {work}.", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("OK: no 5xx, every accepted write stored as sent, every conflict reported.")
    return 0


if __name__ == "__main__":
    command(main, "loadtest")
