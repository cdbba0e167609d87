"""CSV import of clients and engagements: read, check, preview, then apply.

Three steps, used by the web pages (advisory/views/imports.py) and by
`manage.py import_csv`:

1. `read_table(data, kind)` decodes and splits the file. Anything wrong with
   the file as a whole (not UTF-8, binary, empty, a bad header, too many
   rows) raises `ImportFileError` with one message, and nothing else happens.
2. `plan_import(table, user=...)` works out, row by row, what would be created,
   updated or left unchanged, and every problem with its line and column. It
   reads what it needs from the database once (clients, people, teams), not
   per row, and checks each row with the model's own validation (`full_clean`),
   so the rules are the forms' rules. It writes nothing.
3. `apply_plan(plan, by=..., filename=...)` saves every row through the
   services in one transaction (`client_save` / `engagement_save`, new
   engagements in bulk through `engagements_create_prechecked`), so each change
   has a history entry (linked into the hash chain) attributed to the importer
   with the reason "Imported from <file>". If any row fails, nothing is stored.

What a file means:
- Line numbers count the header as line 1 and every row after it, as a
  spreadsheet numbers its rows (a quoted value spanning several lines is one).
- A row whose client name (or, for engagements, client and title) matches an
  existing record, ignoring case, updates it; otherwise it creates one.
- Speed: new engagements are written in bulk by
  `services.engagements_create_prechecked`, history and chain included. Every
  other row still goes through the services and gets its own history entry;
  what they would check with a query per row is checked for all rows at once,
  and the entries are linked into the chain in one go (`apply_plan`). Measured
  times: docs/performance.md, "Measured reasons in the code".
- An empty cell (or a column left out) means "the default" for a new record
  and "leave as it is" for an existing one, as most import tools do: an
  import never clears a field. (Clearing one is an edit on the record's page.)
- Importing is for managers (into the teams they manage, with people they can
  see) and admins.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from accounts.models import Team, User
from accounts.roles import Role
from accounts.scoping import role_of
from advisory.history import log
from advisory.models import NAME_TAKEN, Client, Engagement
from advisory.records import choices
from advisory.records.services import client_save, engagement_save, engagements_create_prechecked
from advisory.records.versioning import EditConflict
from advisory.transfer import exports

CLIENTS = "clients"
ENGAGEMENTS = "engagements"
KINDS = {CLIENTS: "Clients", ENGAGEMENTS: "Engagements"}

MAX_ROWS = 20_000
MAX_BYTES = 20 * 1024 * 1024
IN_BATCH = 500  # ids per IN (...) query, well under every database's limit

CREATE, UPDATE, UNCHANGED, PROBLEM = "create", "update", "unchanged", "problem"

type Progress = Callable[[int], object]


@dataclass(frozen=True)
class Column:
    name: str
    required: bool  # must be in the header
    help: str


COLUMNS: dict[str, list[Column]] = {
    CLIENTS: [
        Column("name", True, "The client's name; an existing client (ignoring case) is updated."),
        Column("kind", False, "organization or individual (default organization)."),
        Column("sector", False, ""),
        Column("contact_name", False, "The primary contact."),
        Column("contact_email", False, ""),
        Column("contact_phone", False, ""),
        Column("lead_advisor", False, "Username or e-mail. Required for a new client."),
        Column("team", False, "Team name; default: the lead advisor's team."),
        Column("client_since", False, "YYYY-MM-DD or DD/MM/YYYY."),
        Column("notes", False, ""),
    ],
    ENGAGEMENTS: [
        Column("client", True, "The client's name (ignoring case); the client must exist."),
        Column("title", True, "An existing engagement of the client with this title is updated."),
        Column("service_line", False, ""),
        Column("lead_advisor", False, "Username or e-mail. Required for a new engagement."),
        Column("members", False, "Usernames or e-mails separated by |."),
        Column("status", False, "proposed, active, on hold, completed or terminated."),
        Column("start_date", False, "YYYY-MM-DD or DD/MM/YYYY."),
        Column("end_date", False, "YYYY-MM-DD or DD/MM/YYYY; not before the start date."),
        Column("fee", False, "A number, with . or , as the decimal mark: 12500.00 or 12500,00."),
        Column("description", False, ""),
    ],
}

COLUMN_NAMES = {kind: [column.name for column in columns] for kind, columns in COLUMNS.items()}
REQUIRED = "This value is required."


class ImportFileError(Exception):
    """The file as a whole can't be imported; the message says why, in one sentence or two."""


class ImportFailed(Exception):
    """A row failed while being saved; nothing was stored."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"Line {problem.line}: {problem.message}")
        self.problem = problem

    @property
    def message(self) -> str:
        """What the importer is told: "Nothing was imported: line 3, name: …"."""
        where = f"line {self.problem.line}"
        if self.problem.column:
            where += f", {self.problem.column}"
        return f"Nothing was imported: {where}: {self.problem.message}"


@dataclass(frozen=True)
class Problem:
    line: int
    column: str  # "" when it concerns the whole row
    message: str


@dataclass(frozen=True)
class Change:
    column: str
    old: str
    new: str


@dataclass
class RowPlan:
    line: int
    action: str  # CREATE, UPDATE, UNCHANGED or PROBLEM
    label: str
    changes: list[Change] = field(default_factory=list)
    record: Client | Engagement | None = None
    members: list[User] | None = None  # engagements: the members to set, when given
    version: int | None = None  # the version the plan was made from (updates)


@dataclass
class Table:
    kind: str
    columns: list[str]
    rows: list[tuple[int, list[str]]]  # (line, cells)
    delimiter: str


@dataclass
class Plan:
    kind: str
    columns: list[str]
    rows: list[RowPlan]
    problems: list[Problem]

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def to_create(self) -> int:
        return self.count(CREATE)

    @property
    def to_update(self) -> int:
        return self.count(UPDATE)

    @property
    def unchanged(self) -> int:
        return self.count(UNCHANGED)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fingerprint(self) -> str:
        """A digest of what the plan would do, to tell whether it changed since a preview."""
        digest = hashlib.sha256(self.kind.encode())
        for row in self.rows:
            digest.update(f"\x1e{row.line}\x1f{row.action}\x1f{row.version}".encode())
            for change in row.changes:
                digest.update(f"\x1f{change.column}\x1d{change.old}\x1d{change.new}".encode())
        return digest.hexdigest()


def can_import(user: User) -> bool:
    """Managers and admins import (into the teams they manage); advisors don't."""
    return role_of(user) in (Role.MANAGER, Role.ADMIN) and user.has_perms(
        [
            "advisory.add_client",
            "advisory.change_client",
            "advisory.add_engagement",
            "advisory.change_engagement",
        ]
    )


# --- Reading the file --------------------------------------------------------------

BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF",
    b"PK\x03\x04": "a ZIP archive or an Excel workbook (.xlsx)",
    b"\xd0\xcf\x11\xe0": "an old Excel or Word file (.xls, .doc)",
}
SAVE_AS = "Save it from your spreadsheet as “CSV UTF-8” and upload that."


def read_table(data: bytes, kind: str) -> Table:
    """Decode and split an uploaded file, or raise ImportFileError saying what's wrong.

    UTF-8 with or without a byte-order mark; comma or semicolon between
    values (whichever the header line uses); any line endings.
    """
    if kind not in COLUMNS:
        raise ImportFileError(f"Unknown kind of import “{kind}”: use clients or engagements.")
    if len(data) > MAX_BYTES:
        raise ImportFileError(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it into smaller files."
        )
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise ImportFileError("The file is empty.")
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        header = next(reader, [])
        columns = _check_header(header, kind)
        for line, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines, and rows of empty cells spreadsheets leave at the end
            if len(rows) == MAX_ROWS:
                raise ImportFileError(
                    f"The file has more than {MAX_ROWS:,} rows: split it into smaller files."
                )
            rows.append((line, cells))
    except csv.Error as exc:
        raise ImportFileError(
            f"The file is not valid CSV (near line {reader.line_num}: {exc}). "
            'Check for a quote (") that is opened and never closed.'
        ) from exc
    if not rows:
        raise ImportFileError("The file has a header but no rows to import.")
    return Table(kind=kind, columns=columns, rows=rows, delimiter=delimiter)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(f"The file is UTF-16 text, not UTF-8. {SAVE_AS}")
    for signature, what in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise ImportFileError(f"This is not a CSV file: it looks like {what}. {SAVE_AS}")
    if b"\x00" in data:
        raise ImportFileError(f"This is not a CSV file: it contains binary data. {SAVE_AS}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportFileError(
            f"The file is not UTF-8 text: line {line} has a character in another encoding "
            f"(such as Latin-1 or Windows-1252). {SAVE_AS}"
        ) from exc


def normalise_header(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _check_header(header: list[str], kind: str) -> list[str]:
    expected = [column.name for column in COLUMNS[kind]]
    columns = [normalise_header(name) for name in header]
    while columns and not columns[-1]:
        columns.pop()  # trailing empty cells some spreadsheets add
    if not columns:
        raise ImportFileError(
            "The first line must be the header naming the columns: "
            f"{', '.join(expected)}. Download the template to start from."
        )
    faults = []
    if "" in columns:
        faults.append(f"column {columns.index('') + 1} of the header has no name")
    unknown = [name for name in columns if name and name not in expected]
    if unknown:
        faults.append("unknown column" + ("s " if len(unknown) > 1 else " ") + _quoted(unknown))
    repeated = sorted({name for name in columns if name and columns.count(name) > 1})
    if repeated:
        faults.append("repeated column" + ("s " if len(repeated) > 1 else " ") + _quoted(repeated))
    missing = [c.name for c in COLUMNS[kind] if c.required and c.name not in columns]
    if missing:
        faults.append(
            "missing required column" + ("s " if len(missing) > 1 else " ") + _quoted(missing)
        )
    if faults:
        raise ImportFileError(
            f"The header line doesn't fit a {kind} import: {'; '.join(faults)}. "
            f"The columns are: {', '.join(expected)}."
        )
    return columns


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f"“{name}”" for name in names)


# --- Values ------------------------------------------------------------------------


class CellError(Exception):
    pass


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def parse_date(value: str) -> datetime.date | None:
    if not value:
        return None
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CellError(f"“{value}” is not a date: write it as YYYY-MM-DD or DD/MM/YYYY.")


def parse_fee(value: str) -> Decimal | None:
    if not value:
        return None
    number = value.replace(" ", "").replace("\u00a0", "")
    if ("," in number and "." in number) or number.count(",") > 1 or number.count(".") > 1:
        raise CellError(
            f"“{value}” is not an amount: write it without thousands separators, "
            "as 12500.00 or 12500,00."
        )
    try:
        fee = Decimal(number.replace(",", "."))
    except InvalidOperation:
        fee = None
    if fee is None or not fee.is_finite():
        raise CellError(f"“{value}” is not an amount: write it as 12500.00 or 12500,00.")
    return fee


def parse_choice(value: str, choices: Any, *, aliases: dict[str, str] | None = None) -> str:
    key = value.strip().lower()
    for choice_value, label in choices.choices:
        if key in (choice_value, str(label).lower(), choice_value.replace("_", " ")):
            return choice_value
    if aliases and key in aliases:
        return aliases[key]
    allowed = ", ".join(str(label).lower() for _, label in choices.choices)
    raise CellError(f"“{value}” is not one of: {allowed}.")


def person(user: User | None) -> str:
    if user is None:
        return ""
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def display(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, User):
        return person(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(display(v) for v in value)) or "—"
    return str(value)


# --- Planning ----------------------------------------------------------------------


class People:
    """Who the importer may name: active people they can see, by username or e-mail."""

    def __init__(self, users: Iterable[User]) -> None:
        self.by_username: dict[str, User] = {}
        self.by_email: dict[str, list[User]] = defaultdict(list)
        for user in users:
            self.by_username[user.username.lower()] = user
            if user.email:
                self.by_email[user.email.lower()].append(user)

    def find(self, value: str, *, allowed: Iterable[User] = ()) -> User:
        """The person `value` names; `allowed` are accepted even if not visible
        (the record's current lead or members, as the edit forms allow)."""
        key = value.strip().lower()
        for user in allowed:
            if key in (user.username.lower(), (user.email or "").lower()):
                return user
        if key in self.by_username:
            return self.by_username[key]
        matches = self.by_email.get(key, [])
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise CellError(f"Several people have the e-mail “{value}”: give the username.")
        raise CellError(f"No active colleague you can see has the username or e-mail “{value}”.")


@dataclass
class Context:
    """Everything the rows are checked against, read from the database once."""

    user: User
    people: People
    managed_teams: dict[str, Team]  # lower(name) -> a team the importer may import into
    managed_team_ids: set[int]
    teams_of: dict[int, list[Team]]  # user id -> their managed teams, by name
    clients: dict[str, Client]  # choices.name_key(name) -> a client the importer can see
    outside: set[str]  # choices.name_key(name) of the clients the importer can't see
    engagements: dict[tuple[int, str], Engagement] = field(default_factory=dict)
    members_of: dict[int, list[User]] = field(default_factory=dict)
    seen: dict[Any, int] = field(default_factory=dict)  # row key -> first line


def _context(user: User, kind: str) -> Context:
    managed = list(Team.objects.managed_by(user).order_by("name"))
    managed_ids = {team.pk for team in managed}
    teams_by_id = {team.pk: team for team in managed}
    teams_of: dict[int, list[Team]] = defaultdict(list)
    for user_id, team_id in Team.members.through.objects.filter(
        team_id__in=managed_ids
    ).values_list("user_id", "team_id"):
        teams_of[user_id].append(teams_by_id[team_id])
    for teams in teams_of.values():
        teams.sort(key=lambda team: team.name.lower())
    visible_clients = Client.objects.visible_to(user)
    clients = {
        choices.name_key(client.name): client
        for client in visible_clients.select_related("lead_advisor", "team")
    }
    outside = {
        choices.name_key(name)
        for name in Client.objects.exclude(pk__in=visible_clients.values("pk")).values_list(
            "name", flat=True
        )
    }
    context = Context(
        user=user,
        people=People(choices.colleagues(user)),
        managed_teams={team.name.lower(): team for team in managed},
        managed_team_ids=managed_ids,
        teams_of=teams_of,
        clients=clients,
        outside=outside,
    )
    if kind == ENGAGEMENTS:
        engagements = Engagement.objects.filter(client__in=visible_clients.values("pk"))
        for engagement in engagements.select_related("lead_advisor"):
            context.engagements[(engagement.client_id, engagement.title.lower())] = engagement
        through = Engagement.members.through.objects.filter(
            engagement_id__in=engagements.values("pk")
        )
        for row in through.select_related("user"):
            context.members_of.setdefault(row.engagement_id, []).append(row.user)
    return context


def plan_import(table: Table, *, user: User, progress: Progress | None = None) -> Plan:
    """What importing `table` as `user` would do, and every problem, without writing."""
    context = _context(user, table.kind)
    plan_row = _plan_client if table.kind == CLIENTS else _plan_engagement
    width = len(table.columns)
    rows: list[RowPlan] = []
    problems: list[Problem] = []
    for line, cells in table.rows:
        extra = cells[width:]
        if len(cells) < width or any(cell.strip() for cell in extra):
            row = RowPlan(line=line, action=PROBLEM, label=cells[0].strip() if cells else "")
            found = [
                Problem(
                    line,
                    "",
                    f"This line has {len(cells)} values but the header has {width} columns.",
                )
            ]
        else:
            # Empty cells are left out: a new record takes the default, an
            # existing one keeps its value.
            values = {
                column: exports.csv_value(cell.strip())
                for column, cell in zip(table.columns, cells, strict=False)
                if cell.strip()
            }
            row, found = plan_row(context, line, values)
        rows.append(row)
        problems.extend(found)
        if progress:
            progress(1)
    return Plan(kind=table.kind, columns=table.columns, rows=rows, problems=problems)


class RowChecker:
    """Collects one row's problems and changes while its record is filled in."""

    def __init__(self, line: int, record: Client | Engagement, *, new: bool) -> None:
        self.line = line
        self.record = record
        self.new = new
        self.problems: list[Problem] = []
        self.changes: list[Change] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def set(self, column: str, value: Any) -> None:
        """Give the record a new value, noting the change."""
        if self.new:
            if value not in (None, ""):
                self.changes.append(Change(column, display(None), display(value)))
        else:
            old = getattr(self.record, column)
            if old != value:
                self.changes.append(Change(column, display(old), display(value)))
        setattr(self.record, column, value)

    def parse(self, column: str, parser: Callable[[], Any]) -> Any:
        try:
            return parser()
        except CellError as exc:
            self.problem(column, str(exc))
            return _INVALID

    def validate(self, *, exclude: list[str]) -> None:
        """The model's own field rules and clean(); foreign keys and uniqueness
        are checked against what was read once, not per row."""
        try:
            self.record.full_clean(
                exclude=exclude, validate_unique=False, validate_constraints=False
            )
        except ValidationError as exc:
            columns = COLUMN_NAMES[CLIENTS if isinstance(self.record, Client) else ENGAGEMENTS]
            for name, errors in exc.error_dict.items():
                column = name if name in columns else ""
                for message in ValidationError(errors).messages:
                    if name != NON_FIELD_ERRORS and column == "":
                        message = f"{name.replace('_', ' ')}: {message}"
                    self.problem(column, message)


_INVALID = object()


def _plan_client(context: Context, line: int, values: dict[str, str]) -> tuple[RowPlan, list]:
    name = choices.normalise_name(values.get("name", ""))
    if not name:
        return RowPlan(line, PROBLEM, ""), [Problem(line, "name", REQUIRED)]
    key = choices.name_key(name)
    if key in context.seen:
        return RowPlan(line, PROBLEM, name), [
            Problem(
                line,
                "name",
                f"Same client as line {context.seen[key]} (names are compared ignoring case).",
            )
        ]
    context.seen[key] = line
    existing = context.clients.get(key)
    if existing is None and key in context.outside:
        return RowPlan(line, PROBLEM, name), [Problem(line, "name", NAME_TAKEN)]
    if existing is not None:
        refusal = _read_only(existing)
        if refusal:
            return RowPlan(line, PROBLEM, name), [Problem(line, "name", refusal)]
    new = existing is None
    record = Client() if new else existing
    row = RowChecker(line, record, new=new)
    row.set("name", name)
    if "kind" in values:
        kind = row.parse(
            "kind",
            lambda: parse_choice(
                values["kind"], Client.Kind, aliases={"organisation": "organization"}
            ),
        )
        if kind is not _INVALID:
            row.set("kind", kind)
    elif new:
        row.set("kind", Client.Kind.ORGANIZATION)
    for column in ("sector", "contact_name", "contact_email", "contact_phone", "notes"):
        if column in values:
            row.set(column, values[column])
    lead = _lead_advisor(context, row, values, current=None if new else existing.lead_advisor)
    if "team" in values:
        team = context.managed_teams.get(values["team"].lower())
        if team is None:
            row.problem("team", f"No team you manage is called “{values['team']}”.")
        else:
            row.set("team", team)
    elif new and lead is not None:
        teams = context.teams_of.get(lead.pk)
        if teams:
            row.set("team", teams[0])
        else:
            row.problem("team", f"{person(lead)} is on no team you manage: give the team.")
    if not new and record.team_id not in context.managed_team_ids:
        row.problem("team", "This client is on a team you don't manage.")
    if "client_since" in values:
        since = row.parse("client_since", lambda: parse_date(values["client_since"]))
        if since is not _INVALID:
            row.set("client_since", since)
    row.validate(exclude=["lead_advisor", "team"])
    return _finish(row, name, version=None if new else existing.version)


def _lead_advisor(
    context: Context, row: RowChecker, values: dict[str, str], *, current: User | None
) -> User | None:
    if "lead_advisor" not in values:
        if current is None:
            row.problem("lead_advisor", REQUIRED)
        return current
    allowed = [current] if current else []
    lead = row.parse(
        "lead_advisor", lambda: context.people.find(values["lead_advisor"], allowed=allowed)
    )
    if lead is _INVALID:
        return None
    row.set("lead_advisor", lead)
    return lead


def _read_only(record: Client | Engagement) -> str:
    noun = record._meta.verbose_name
    if isinstance(record, Client) and record.status == Client.Status.LET_GO:
        return f"This {noun} has been let go: its records are read-only."
    if record.is_archived:
        return f"This {noun} is archived: restore it before importing changes."
    return ""


def _finish(row: RowChecker, label: str, *, version: int | None, members=None) -> tuple:
    if row.problems:
        action = PROBLEM
    elif row.new:
        action = CREATE
    else:
        action = UPDATE if row.changes else UNCHANGED
    plan = RowPlan(
        line=row.line,
        action=action,
        label=label,
        changes=row.changes,
        record=None if row.problems else row.record,
        members=members,
        version=version,
    )
    return plan, row.problems


def _plan_engagement(context: Context, line: int, values: dict[str, str]) -> tuple[RowPlan, list]:
    client_name = choices.normalise_name(values.get("client", ""))
    title = values.get("title", "")
    label = f"{client_name} · {title}"
    problems = []
    if not client_name:
        problems.append(Problem(line, "client", REQUIRED))
    if not title:
        problems.append(Problem(line, "title", REQUIRED))
    if problems:
        return RowPlan(line, PROBLEM, label), problems
    client = context.clients.get(choices.name_key(client_name))
    if client is None:
        # The same answer whether it exists outside the importer's teams or not at all.
        message = f"No client called “{client_name}” in your teams."
        return RowPlan(line, PROBLEM, label), [Problem(line, "client", message)]
    refusal = _read_only(client)
    if not refusal and client.team_id not in context.managed_team_ids:
        refusal = "This client is on a team you don't manage."
    if refusal:
        return RowPlan(line, PROBLEM, label), [Problem(line, "client", refusal)]
    key = (client.pk, title.lower())
    if key in context.seen:
        return RowPlan(line, PROBLEM, label), [
            Problem(
                line,
                "title",
                f"Same engagement as line {context.seen[key]} (titles are compared ignoring case).",
            )
        ]
    context.seen[key] = line
    existing = context.engagements.get(key)
    if existing is not None and existing.is_archived:
        return RowPlan(line, PROBLEM, label), [Problem(line, "title", _read_only(existing))]
    new = existing is None
    record = Engagement(client=client) if new else existing
    row = RowChecker(line, record, new=new)
    if new:
        row.changes.append(Change("client", "—", client.name))
    row.set("title", title)
    if "service_line" in values:
        row.set("service_line", values["service_line"])
    if "description" in values:
        row.set("description", values["description"])
    _lead_advisor(context, row, values, current=None if new else existing.lead_advisor)
    if "status" in values:
        status = row.parse("status", lambda: parse_choice(values["status"], Engagement.Status))
        if status is not _INVALID:
            row.set("status", status)
    elif new:
        row.set("status", Engagement.Status.ACTIVE)
    for column in ("start_date", "end_date"):
        if column in values:
            value = row.parse(column, lambda column=column: parse_date(values[column]))
            if value is not _INVALID:
                row.set(column, value)
    if "fee" in values:
        fee = row.parse("fee", lambda: parse_fee(values["fee"]))
        if fee is not _INVALID:
            row.set("fee", fee)
    members = None
    if "members" in values:
        current = [] if new else context.members_of.get(existing.pk, [])
        members = []
        for name in filter(None, (part.strip() for part in values["members"].split("|"))):
            member = row.parse(
                "members", lambda name=name: context.people.find(name, allowed=current)
            )
            if member is not _INVALID and member not in members:
                members.append(member)
        before, after = {u.pk for u in current}, {u.pk for u in members}
        if before != after:
            row.changes.append(Change("members", display(current), display(members)))
    row.validate(exclude=["client", "lead_advisor", "members"])
    return _finish(row, label, version=None if new else existing.version, members=members)


# --- Applying ----------------------------------------------------------------------


def import_reason(filename: str) -> str:
    return f"Imported from {filename}"


def apply_plan(plan: Plan, *, by: User, filename: str, progress: Progress | None = None) -> Plan:
    """Save every row of a plan without problems, all in one transaction or none.

    Each row goes through `client_save` / `engagement_save` (new engagements
    through `engagements_create_prechecked`, in bulk), so it is validated
    again, versioned, and written to history (and the hash chain) as `by`,
    with the reason "Imported from <filename>". A row that fails raises
    ImportFailed naming its line, and the transaction is rolled back.

    What the services would query per row is checked here for all rows at
    once, inside the transaction (`prechecked`): that no new client's name
    has been taken since the plan was made, and that no client of the
    engagements has been let go (those clients are locked until the end).
    The history entries are linked into the chain in one go at the end.
    """
    if plan.problems:
        raise ValueError("A plan with problems can't be applied.")
    reason = import_reason(filename)
    with transaction.atomic(), log.logged_at_end():
        _recheck(plan)
        new_engagements = []
        for row in plan.rows:
            if plan.kind == ENGAGEMENTS and row.action == CREATE:
                # Validated here, written in bulk below.
                with _failing_at(row):
                    row.record.full_clean(
                        exclude=["client", "lead_advisor", "members"], validate_constraints=False
                    )
                new_engagements.append((row.record, row.members or []))
                continue
            if row.action in (CREATE, UPDATE):
                _save(plan.kind, row, by=by, reason=reason)
            if progress:
                progress(1)
        for batch in itertools.batched(new_engagements, IN_BATCH):
            engagements_create_prechecked(list(batch), by=by, reason=reason)
            if progress:
                progress(len(batch))
    return plan


def _recheck(plan: Plan) -> None:
    """The per-row checks that `prechecked` skips, for every row at once."""
    rows = [row for row in plan.rows if row.action in (CREATE, UPDATE)]
    if plan.kind == CLIENTS:
        new = {choices.name_key(row.record.name): row for row in rows if row.record.pk is None}
        for keys in itertools.batched(new, IN_BATCH):
            taken = (
                Client.objects.annotate(key=Lower("name"))
                .filter(key__in=keys)
                .values_list("key", flat=True)
                .first()
            )
            if taken is not None:
                line = new[taken].line if taken in new else 0
                raise ImportFailed(
                    Problem(
                        line,
                        "name",
                        f"{NAME_TAKEN} (It was added after the check.)",
                    )
                )
        return
    # The first row of each client, to name in the message.
    first_rows = {row.record.client_id: row for row in reversed(rows)}
    for ids in itertools.batched(first_rows, IN_BATCH):
        # Locked until the import commits, so none is let go halfway.
        status = dict(
            Client.objects.select_for_update().filter(pk__in=ids).values_list("pk", "status")
        )
        for pk in ids:
            if status.get(pk) == Client.Status.LET_GO:
                raise ImportFailed(
                    Problem(first_rows[pk].line, "client", "This client has been let go meanwhile.")
                )


def _save(kind: str, row: RowPlan, *, by: User, reason: str) -> None:
    with _failing_at(row):
        if kind == CLIENTS:
            client_save(
                row.record, by=by, reason=reason, expected_version=row.version, prechecked=True
            )
        else:
            engagement_save(
                row.record,
                by=by,
                members=row.members,
                reason=reason,
                expected_version=row.version,
                prechecked=True,
            )


@contextmanager
def _failing_at(row: RowPlan) -> Iterator[None]:
    """A service's refusal as ImportFailed naming the row's line (and column)."""
    try:
        yield
    except EditConflict as exc:
        raise ImportFailed(
            Problem(row.line, "", "Someone changed this record during the import.")
        ) from exc
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            column, errors = next(iter(exc.error_dict.items()))
            message = ValidationError(errors).messages[0]
            column = "" if column == NON_FIELD_ERRORS else column
        else:
            column, message = "", exc.messages[0]
        raise ImportFailed(Problem(row.line, column, message)) from exc


# --- The template ------------------------------------------------------------------


def template_rows(kind: str, *, user: User) -> list[list[str]]:
    """The header and one example row that imports cleanly for `user`, as CSV
    cells: a value a spreadsheet would run as a formula (a client named
    "+1+1 Ltd") starts with a quote, as in the exports, and reads back as it was."""
    header = [column.name for column in COLUMNS[kind]]
    lead, team = _template_lead(user)
    if kind == CLIENTS:
        example = [
            "Example Client Ltd",
            "organization",
            "Manufacturing",
            "Pat Example",
            "pat@example.com",
            "+44 20 7946 0000",
            lead.username,
            team.name if team else "",
            "2024-01-15",
            "Imported from the template.",
        ]
    else:
        client = (
            choices.clients_open_for_work(user)
            .filter(team__in=Team.objects.managed_by(user))
            .order_by("name")
            .first()
        )
        example = [
            client.name if client else "Example Client Ltd",
            "Example engagement",
            "Audit",
            lead.username,
            lead.username,
            "active",
            "2026-01-05",
            "2026-12-31",
            "12500.00",
            "Imported from the template.",
        ]
    return [header, [exports.csv_cell(value) for value in example]]


def _template_lead(user: User) -> tuple[User, Team | None]:
    """The user and a team of theirs they manage; else a colleague on a team they manage."""
    managed = Team.objects.managed_by(user).order_by("name")
    own = managed.filter(members=user).first()
    if own is not None:
        return user, own
    for team in managed.filter(members__is_active=True).distinct():
        return team.members.filter(is_active=True).order_by("username").first(), team
    return user, None
