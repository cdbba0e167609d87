"""CSV exports: a streamed writer that is safe to open in a spreadsheet, and the
columns of each list page's export (`?format=csv` on the page).

`csv_response` streams: the rows are read from the database and sent a chunk at
a time, so an export of a million rows never holds them all in memory. The file
starts with a UTF-8 byte-order mark (spreadsheets then read accents correctly),
and text a spreadsheet would run as a formula gets a leading quote. The client's
evidence pack (dossier.py) writes its CSV cells with the same `csv_cell`.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import itertools
import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.functional import lazy

from advisory.models import Band

# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
# Rows read from the database at a time.
CHUNK_SIZE = 2000
# The response is sent in pieces of about this many characters.
PIECE_SIZE = 64 * 1024


def json_default(value: Any) -> Any:
    if isinstance(value, datetime.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def csv_cell(value: Any) -> str:
    """A CSV cell: ISO dates, true/false, lists joined by "; ", numbers as they
    are, and any text (names of people and records too) that a spreadsheet would
    run as a formula made inert with a leading quote."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)  # "-5" is a number, not a formula
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join("" if v is None else str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=json_default)
    else:
        value = str(value)
    if value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_value(cell: str) -> str:
    """What a cell that csv_cell wrote stood for: the leading quote it put
    before a would-be formula is dropped (an import reads back an export or
    the template as the values they hold)."""
    if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES):
        return cell[1:]
    return cell


class _Echo:
    """A file that hands back what is written to it, so csv.writer formats one
    row at a time without a buffer (the pattern in Django's docs)."""

    def write(self, text: str) -> str:
        return text


def csv_pieces(rows: Iterable[Sequence], *, header: Sequence[str]) -> Iterator[bytes]:
    """The CSV file as UTF-8 bytes: the BOM and the header, then the rows,
    joined into pieces of about PIECE_SIZE characters."""
    writer = csv.writer(_Echo())
    piece = [BOM, writer.writerow([csv_cell(label) for label in header])]
    size = 0
    for row in rows:
        line = writer.writerow([csv_cell(value) for value in row])
        piece.append(line)
        size += len(line)
        if size >= PIECE_SIZE:
            yield "".join(piece).encode("utf-8")
            piece, size = [], 0
    if piece:
        yield "".join(piece).encode("utf-8")


def csv_response(
    rows: Iterable[Sequence], *, header: Sequence[str], filename: str
) -> StreamingHttpResponse:
    """Stream `rows` as a CSV attachment; `rows` is read as the response is sent."""
    return StreamingHttpResponse(
        csv_pieces(rows, header=header),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# --- The list pages' exports ---------------------------------------------------


@dataclass(frozen=True)
class ListExport:
    """A list page as CSV: the columns the page shows, as plain text."""

    name: str  # in the file name: candor-<name>-<date>.csv
    columns: Sequence[tuple[str, Callable[[Any], Any]]]

    @property
    def header(self) -> list[str]:
        return [str(label) for label, _value in self.columns]

    def rows(self, *querysets: QuerySet) -> Iterator[list]:
        """The querysets' rows one after the other, read a chunk at a time.
        (Querysets must select_related what the columns read.)"""
        records = itertools.chain.from_iterable(
            queryset.iterator(chunk_size=CHUNK_SIZE) for queryset in querysets
        )
        for record in records:
            yield [value(record) for _label, value in self.columns]

    def response(self, *querysets: QuerySet) -> StreamingHttpResponse:
        filename = f"candor-{self.name}-{timezone.localdate().isoformat()}.csv"
        return csv_response(self.rows(*querysets), header=self.header, filename=filename)


def _display(field: str) -> Callable[[Any], str]:
    """The label of a choice field's value, as the page shows it."""
    return lambda record: getattr(record, f"get_{field}_display")()


def _band(client) -> str:
    # As the band badge says it.
    return client.get_health_band_display() if client.health_band else "Not scored"


# Read when the header is written, so that it follows settings.CANDOR_CURRENCY.
_fee_header = lazy(lambda: f"Fee ({settings.CANDOR_CURRENCY})", str)()


def _local_date(moment: datetime.datetime | None) -> datetime.date | None:
    return None if moment is None else timezone.localdate(moment)


def _open_items(disagreement) -> list[str]:
    # The open-item pills of {% status_pills %} (advisory/templatetags/candor.py).
    if disagreement.is_open and not disagreement.is_open_item:
        return ["Closed at let-go"]
    items = {
        "Awaiting decision": disagreement.awaiting_decision,
        "Awaiting acknowledgment": disagreement.awaiting_acknowledgment,
        "Awaiting outcome": disagreement.awaiting_outcome,
        "Follow-up due": disagreement.follow_up_due,
    }
    return [label for label, shown in items.items() if shown]


CLIENTS = ListExport(
    "clients",
    [
        ("Client", lambda c: c.name),
        ("Kind", _display("kind")),
        ("Sector", lambda c: c.sector),
        ("Lead advisor", lambda c: c.lead_advisor),
        ("Team", lambda c: c.team),
        ("Status", _display("status")),
        ("Health", lambda c: c.health_score),
        ("Band", _band),
        ("Archived", lambda c: c.is_archived),
    ],
)

ENGAGEMENTS = ListExport(
    "engagements",
    [
        ("Engagement", lambda e: e.title),
        ("Client", lambda e: e.client.name),
        ("Service line", lambda e: e.service_line),
        ("Lead advisor", lambda e: e.lead_advisor),
        ("Status", _display("status")),
        ("Start", lambda e: e.start_date),
        ("End", lambda e: e.end_date),
        # A plain number, its currency in the header: "Fee (GBP)".
        (_fee_header, lambda e: e.fee),
        ("Archived", lambda e: e.is_archived),
    ],
)

DISAGREEMENTS = ListExport(
    "disagreements",
    [
        ("Occurred", lambda d: d.occurred_on),
        ("Disagreement", lambda d: d.title),
        ("Engagement", lambda d: d.engagement.title),
        ("Logged by", lambda d: d.logged_by),
        ("Client", lambda d: d.client.name),
        ("Severity", _display("severity")),
        ("Tone", _display("tone")),
        ("Client's decision", _display("decision")),
        ("Verdict", _display("verdict")),
        ("Follow-up", lambda d: d.follow_up_on),
        ("Open items", _open_items),
        ("Archived", lambda d: d.is_archived),
    ],
)

# The board's 12-month sparkline is a chart; the export leaves it out.
HEALTH_BOARD = ListExport(
    "health",
    [
        ("Client", lambda c: c.name),
        ("Team", lambda c: c.team),
        ("Health", lambda c: c.health_score),
        ("Band", _band),
        ("Manager's band", lambda c: Band(c.override_band).label if c.override_band else None),
        ("Trend", lambda c: c.health_trend),
        ("Disagreements 90d", lambda c: c.disagreements_90d),
        ("Overridden advice", lambda c: c.overridden),
        ("Lead advisor", lambda c: c.lead_advisor),
    ],
)

LETGO_CASES = ListExport(
    "let-go",
    [
        ("Client", lambda case: case.client.name),
        ("Status", _display("status")),
        ("Reason", _display("reason")),
        ("Proposed by", lambda case: case.proposed_by),
        ("Proposed on", lambda case: _local_date(case.proposed_at)),
        ("Decided by", lambda case: case.decided_by),
        ("Decided on", lambda case: _local_date(case.decided_at)),
    ],
)
