"""CSV exports of the list pages (`?format=csv`): the rows the page's filters
select, in the page's order, with the page's columns; scoped like the page,
streamed, with a BOM, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime
import decimal
import html
import io
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from advisory.models import Band, BandOverride, Client, Disagreement, Engagement, LetGoCase
from advisory.transfer import exports
from advisory.transfer.exports import FORMULA_PREFIXES, csv_cell, csv_pieces
from advisory.views.common import PAGE_SIZE
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 3, 16, 10, tzinfo=ZoneInfo("Europe/London"))
TODAY = NOW.date()
DAY = datetime.timedelta(days=1)
BOM = b"\xef\xbb\xbf"
D = Disagreement


@dataclass(frozen=True)
class ListPage:
    url: str
    filename: str
    key: str  # the CSV column that names a row
    key_of: Callable  # the same, from the page's row object
    export: exports.ListExport
    # CSV columns the page shows inside another column (a second line, a badge).
    inside: tuple[str, ...] = ()
    # Page columns with no text to export (a chart).
    charts: tuple[str, ...] = ()


PAGES = {
    "clients": ListPage(
        reverse("client-list"),
        "clients",
        "Client",
        lambda c: c.name,
        exports.CLIENTS,
        inside=("Kind", "Band", "Archived"),
    ),
    "engagements": ListPage(
        reverse("engagement-list"),
        "engagements",
        "Engagement",
        lambda e: e.title,
        exports.ENGAGEMENTS,
        inside=("Archived",),
    ),
    "disagreements": ListPage(
        reverse("disagreement-list"),
        "disagreements",
        "Disagreement",
        lambda d: d.title,
        exports.DISAGREEMENTS,
        inside=("Engagement", "Logged by", "Open items", "Archived"),
    ),
    "health": ListPage(
        reverse("health-board"),
        "health",
        "Client",
        lambda c: c.name,
        exports.HEALTH_BOARD,
        inside=("Team", "Manager's band"),
        charts=("12 months",),
    ),
    "letgo": ListPage(
        reverse("letgo-list"),
        "let-go",
        "Client",
        lambda case: case.client.name,
        exports.LETGO_CASES,
    ),
}
TABLE_PAGES = ["clients", "engagements", "disagreements", "health"]


@pytest.fixture(autouse=True)
def _now(time_machine) -> None:
    time_machine.move_to(NOW)


@pytest.fixture
def frank(team):
    return UserFactory(username="frank", first_name="Frank", role=Role.ADVISOR, team=team)


def client_with_records(name, *, lead, team, score, band, trend, fee, severity) -> Client:
    """A scored client with one engagement, one disagreement and nothing else."""
    client_obj = ClientFactory(
        name=name,
        lead_advisor=lead,
        team=team,
        health_score=score,
        health_band=band,
        health_trend=trend,
    )
    engagement = EngagementFactory(client=client_obj, title=f"{name} audit", fee=fee)
    DisagreementFactory(engagement=engagement, title=f"{name} dispute", severity=severity)
    return client_obj


def case(client_obj, *, by, days_ago, status=LetGoCase.Status.PROPOSED, decided_by=None):
    decided = status in (LetGoCase.Status.APPROVED, LetGoCase.Status.DECLINED)
    return LetGoCase.objects.create(
        client=client_obj,
        proposed_by=by,
        proposed_at=NOW - days_ago * DAY,
        reason=LetGoCase.Reason.HOSTILE_CONDUCT,
        justification="Abuse on every call.",
        status=status,
        decided_by=decided_by if decided else None,
        decided_at=NOW - (days_ago - 1) * DAY if decided else None,
    )


@pytest.fixture
def cast(advisor, frank, other_advisor, manager, admin, team, other_team) -> dict[str, Client]:
    """Acme and Bolt led by `advisor`, Cobalt by frank (same team), Initech on
    the other team; each has an engagement, a disagreement and a let-go case."""
    clients = {
        "acme": client_with_records(
            "Acme Holdings",
            lead=advisor,
            team=team,
            score=85,
            band=Band.HEALTHY,
            trend=4,
            fee=decimal.Decimal("12500.00"),
            severity=D.Severity.LOW,
        ),
        "bolt": client_with_records(
            "Bolt Logistics",
            lead=advisor,
            team=team,
            score=30,
            band=Band.ADVERSARIAL,
            trend=-25,
            fee=decimal.Decimal("900.50"),
            severity=D.Severity.CRITICAL,
        ),
        "cobalt": client_with_records(
            "Cobalt Foods",
            lead=frank,
            team=team,
            score=55,
            band=Band.STRAINED,
            trend=0,
            fee=None,
            severity=D.Severity.HIGH,
        ),
        "initech": client_with_records(
            "Initech",
            lead=other_advisor,
            team=other_team,
            score=10,
            band=Band.ADVERSARIAL,
            trend=-40,
            fee=decimal.Decimal("40000.00"),
            severity=D.Severity.CRITICAL,
        ),
    }
    case(clients["acme"], by=advisor, days_ago=40, status=LetGoCase.Status.WITHDRAWN)
    case(clients["bolt"], by=advisor, days_ago=5)
    case(
        clients["cobalt"],
        by=manager,
        days_ago=20,
        status=LetGoCase.Status.DECLINED,
        decided_by=admin,
    )
    case(clients["initech"], by=other_advisor, days_ago=3)
    return clients


SCOPES = {
    "advisor": {"Acme Holdings", "Bolt Logistics"},
    "manager": {"Acme Holdings", "Bolt Logistics", "Cobalt Foods"},
    "admin": {"Acme Holdings", "Bolt Logistics", "Cobalt Foods", "Initech"},
    "other_advisor": {"Initech"},
}


def page(client, name: str, query: dict | None = None):
    response = client.get(PAGES[name].url, query or {})
    assert response.status_code == 200
    return response


def export(client, name: str, query: dict | None = None):
    response = client.get(PAGES[name].url, {**(query or {}), "format": "csv"})
    assert response.status_code == 200
    return response


def read(response) -> tuple[list[str], list[dict[str, str]]]:
    body = b"".join(response.streaming_content)
    assert body.startswith(BOM)
    [header, *rows] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return header, [dict(zip(header, row, strict=True)) for row in rows]


def keys(response, name: str) -> list[str]:
    return [row[PAGES[name].key] for row in read(response)[1]]


def page_keys(response, name: str) -> list[str]:
    """Every row of the page's list, over all its pages, in order."""
    rows = list(response.context["page_obj"].paginator.object_list)
    if name == "letgo":
        rows = list(response.context["open_cases"]) + rows
    return [PAGES[name].key_of(row) for row in rows]


def page_columns(response) -> list[str]:
    """The column headers of the page's list (its first table; charts come after)."""
    thead = re.search(r"<thead>(.*?)</thead>", response.content.decode(), re.S)[1]
    cells = re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", thead, re.S)
    return [html.unescape(re.sub(r"<[^>]+>|[▲▼]", "", cell)).strip() for cell in cells]


# --- The file --------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_it_is_a_streamed_csv_attachment_with_a_bom(client, admin, cast, name):
    client.force_login(admin)
    response = export(client, name)
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="candor-{PAGES[name].filename}-2026-03-16.csv"'
    )
    assert response["Cache-Control"] == "private, no-store"
    body = b"".join(response.streaming_content)
    assert body.startswith(BOM) and body.count(BOM) == 1
    assert body.decode("utf-8-sig").startswith(",".join(PAGES[name].export.header) + "\r\n")


def test_the_writer_sends_pieces_without_reading_every_row():
    endless = ([n, f"row {n}"] for n in itertools.count())
    pieces = csv_pieces(endless, header=["N", "Text"])
    first, second = next(pieces), next(pieces)
    assert first.startswith(BOM + b"N,Text\r\n0,row 0\r\n")
    assert exports.PIECE_SIZE <= len(second) < exports.PIECE_SIZE + 100


# --- Rows: scope, filters, sorting ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "who"),
    # Advisors have no let-go queue (see the 403 test).
    [(n, w) for n in PAGES for w in SCOPES if n != "letgo" or w in ("manager", "admin")],
)
def test_it_has_the_rows_the_page_shows_to_each_user(client, cast, request, name, who):
    client.force_login(request.getfixturevalue(who))
    rows = read(export(client, name))[1]
    assert {row["Client"] for row in rows} == SCOPES[who]
    assert [row[PAGES[name].key] for row in rows] == page_keys(page(client, name), name)


FILTERS = {
    "clients": {"band": Band.ADVERSARIAL},
    "engagements": {"q": "Cobalt"},
    "disagreements": {"severity": D.Severity.CRITICAL},
    "health": {"band": Band.ADVERSARIAL},
}


@pytest.mark.parametrize("name", FILTERS)
def test_it_has_only_the_rows_the_filters_select(client, admin, cast, name):
    client.force_login(admin)
    everything = keys(export(client, name), name)
    filtered = keys(export(client, name, FILTERS[name]), name)
    assert filtered == page_keys(page(client, name, FILTERS[name]), name)
    assert 0 < len(filtered) < len(everything)


def test_it_includes_archived_rows_only_when_the_filter_asks(client, admin, cast):
    Client.objects.filter(pk=cast["cobalt"].pk).update(is_archived=True)
    client.force_login(admin)
    assert "Cobalt Foods" not in keys(export(client, "clients"), "clients")
    [row] = read(export(client, "clients", {"archived": "only"}))[1]
    assert (row["Client"], row["Archived"]) == ("Cobalt Foods", "true")


SORTS = {
    "clients": "-health",
    "engagements": "-fee",
    "disagreements": "severity",
    "health": "-trend",
}


@pytest.mark.parametrize("name", SORTS)
def test_it_keeps_the_pages_sort_order(client, admin, cast, name):
    client.force_login(admin)
    unsorted = keys(export(client, name), name)
    query = {"o": SORTS[name]}
    sorted_keys = keys(export(client, name, query), name)
    assert sorted_keys == page_keys(page(client, name, query), name)
    assert sorted_keys != unsorted and sorted(sorted_keys) == sorted(unsorted)


def test_it_has_every_page_of_rows(client, admin, team):
    for n in range(PAGE_SIZE + 5):
        ClientFactory(name=f"Client {n:02d}", lead_advisor=admin, team=team)
    client.force_login(admin)
    shown = []
    for number in (1, 2):
        response = page(client, "clients", {"page": number, "o": "-name"})
        shown += [c.name for c in response.context["page_obj"]]
    assert len(shown) == PAGE_SIZE + 5
    # ?page= is ignored by the export: it has every page.
    assert keys(export(client, "clients", {"page": 2, "o": "-name"}), "clients") == shown


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("clients", {"status": "bogus"}),
        ("engagements", {"client": "999999"}),
        ("disagreements", {"occurred_after": "not a date"}),
    ],
)
def test_bad_filter_input_exports_no_rows_as_the_page_shows_none(client, admin, cast, name, query):
    client.force_login(admin)
    response = page(client, name, query)
    assert response.context["filter"].errors
    assert page_keys(response, name) == []
    header, rows = read(export(client, name, query))
    assert header == PAGES[name].export.header
    assert rows == []


def test_bad_board_filters_export_every_row_as_the_board_shows_them(client, admin, cast):
    client.force_login(admin)
    response = export(client, "health", {"band": "bogus"})
    assert set(keys(response, "health")) == SCOPES["admin"]
    # The notice belongs to the page; the export queues none for the next page.
    assert list(get_messages(response.wsgi_request)) == []


# --- Columns -------------------------------------------------------------------


@pytest.mark.parametrize("name", TABLE_PAGES)
def test_the_header_is_the_pages_columns(client, admin, cast, name):
    client.force_login(admin)
    # The page writes "£12,500.00" under "Fee"; the export's plain number names
    # its currency in the header: "Fee (GBP)".
    header = [label.removesuffix(" (GBP)") for label in read(export(client, name))[0]]
    shown = [label for label in page_columns(page(client, name)) if label not in PAGES[name].charts]
    assert [label for label in header if label not in PAGES[name].inside] == shown


def test_the_let_go_header_names_the_case_columns(client, admin, cast):
    client.force_login(admin)
    assert read(export(client, "letgo"))[0] == [
        "Client",
        "Status",
        "Reason",
        "Proposed by",
        "Proposed on",
        "Decided by",
        "Decided on",
    ]


def row_of(client, name: str, key: str) -> dict[str, str]:
    [row] = [row for row in read(export(client, name))[1] if row[PAGES[name].key] == key]
    return row


def test_a_client_row_is_plain_text(client, admin, cast):
    client.force_login(admin)
    assert row_of(client, "clients", "Bolt Logistics") == {
        "Client": "Bolt Logistics",
        "Kind": "Organization",
        "Sector": "Manufacturing",
        "Lead advisor": "Alice Tester",
        "Team": "Corporate Advisory",
        "Status": "Active",
        "Health": "30",
        "Band": "Adversarial",
        "Archived": "false",
    }


def test_an_unscored_client_says_so(client, admin, cast):
    ClientFactory(name="Fresh Start", lead_advisor=admin)
    client.force_login(admin)
    row = row_of(client, "clients", "Fresh Start")
    assert (row["Health"], row["Band"]) == ("", "Not scored")


def test_an_engagement_row_has_iso_dates_and_the_fee_as_a_number(client, admin, cast):
    Engagement.objects.filter(pk=cast["acme"].engagements.get().pk).update(
        end_date=datetime.date(2026, 12, 31)
    )
    client.force_login(admin)
    assert row_of(client, "engagements", "Acme Holdings audit") == {
        "Engagement": "Acme Holdings audit",
        "Client": "Acme Holdings",
        "Service line": "Audit",
        "Lead advisor": "Alice Tester",
        "Status": "Active",
        "Start": "2025-01-06",
        "End": "2026-12-31",
        "Fee (GBP)": "12500.00",
        "Archived": "false",
    }
    assert row_of(client, "engagements", "Cobalt Foods audit")["Fee (GBP)"] == ""


def test_the_fee_column_names_the_firms_currency(client, admin, cast, settings):
    settings.CANDOR_CURRENCY = "EUR"
    client.force_login(admin)
    assert row_of(client, "engagements", "Acme Holdings audit")["Fee (EUR)"] == "12500.00"


def test_a_disagreement_row_has_labels_not_codes(client, admin, cast):
    Disagreement.objects.filter(title="Bolt Logistics dispute").update(
        tone=D.Tone.HOSTILE, follow_up_on=TODAY - DAY
    )
    client.force_login(admin)
    assert row_of(client, "disagreements", "Bolt Logistics dispute") == {
        "Occurred": "2026-03-06",
        "Disagreement": "Bolt Logistics dispute",
        "Engagement": "Bolt Logistics audit",
        "Logged by": "Alice Tester",
        "Client": "Bolt Logistics",
        "Severity": "Critical",
        "Tone": "Hostile",
        "Client's decision": "Pending",
        "Verdict": "Pending",
        "Follow-up": "2026-03-15",
        "Open items": "Awaiting decision; Follow-up due",
        "Archived": "false",
    }


def test_a_board_row_has_score_band_trend_and_counts(client, admin, manager, cast):
    BandOverride.objects.create(
        client=cast["bolt"],
        band=Band.STRAINED,
        reason="New finance director, calmer.",
        expires_on=TODAY + 30 * DAY,
        set_by=manager,
    )
    DisagreementFactory(engagement=cast["bolt"].engagements.get(), decision=D.Decision.PROCEEDED)
    client.force_login(admin)
    assert row_of(client, "health", "Bolt Logistics") == {
        "Client": "Bolt Logistics",
        "Team": "Corporate Advisory",
        "Health": "30",
        "Band": "Adversarial",
        "Manager's band": "Strained",
        "Trend": "-25",
        "Disagreements 90d": "2",
        "Overridden advice": "1",
        "Lead advisor": "Alice Tester",
    }
    assert row_of(client, "health", "Cobalt Foods")["Manager's band"] == ""


def test_a_let_go_row_names_who_proposed_and_decided(client, admin, cast):
    client.force_login(admin)
    assert row_of(client, "letgo", "Cobalt Foods") == {
        "Client": "Cobalt Foods",
        "Status": "Declined",
        "Reason": "Hostile conduct",
        "Proposed by": "Charlie Tester",
        "Proposed on": "2026-02-24",
        "Decided by": "Dana Tester",
        "Decided on": "2026-02-25",
    }
    bolt = row_of(client, "letgo", "Bolt Logistics")
    assert (bolt["Status"], bolt["Decided by"], bolt["Decided on"]) == ("Proposed", "", "")


def test_let_go_cases_come_open_first_as_on_the_page(client, admin, cast):
    client.force_login(admin)
    # Initech and Bolt are open (newest first), then the closed ones.
    expected = ["Initech", "Bolt Logistics", "Cobalt Foods", "Acme Holdings"]
    assert keys(export(client, "letgo"), "letgo") == expected
    assert page_keys(page(client, "letgo"), "letgo") == expected


# --- Spreadsheet safety ------------------------------------------------------------


def test_cells_that_would_run_as_formulas_are_neutralised(client, admin, team):
    names = {
        prefix: f'{prefix}HYPERLINK("http://evil.example","{n}")'
        for n, prefix in enumerate(FORMULA_PREFIXES)
    }
    lead = UserFactory(username="mallory", first_name="=cmd|' /C calc'!A0", last_name="", team=team)
    for prefix, name in names.items():
        ClientFactory(name=name, sector=f"{prefix}1+1", lead_advisor=lead, team=team)
    client.force_login(admin)
    rows = {row["Sector"]: row for row in read(export(client, "clients"))[1]}
    for prefix, name in names.items():
        row = rows[f"'{prefix}1+1"]
        assert row["Client"] == f"'{name}"
        assert row["Lead advisor"] == "'=cmd|' /C calc'!A0"
    assert len(rows) == len(FORMULA_PREFIXES)


def test_numbers_are_not_mangled(client, admin, cast):
    client.force_login(admin)
    initech = row_of(client, "health", "Initech")
    assert (initech["Health"], initech["Trend"]) == ("10", "-40")
    assert row_of(client, "engagements", "Bolt Logistics audit")["Fee (GBP)"] == "900.50"


def test_the_cell_rules():
    for prefix in FORMULA_PREFIXES:
        assert csv_cell(f"{prefix}1") == f"'{prefix}1"
    assert csv_cell(-5) == "-5"
    assert csv_cell(decimal.Decimal("-0.50")) == "-0.50"
    assert csv_cell(None) == ""
    assert csv_cell(False) == "false"
    assert csv_cell(datetime.date(2026, 1, 2)) == "2026-01-02"
    assert csv_cell(["=a", "b"]) == "'=a; b"
    # Anything else is written as its text, and that text is checked too.
    assert csv_cell(Band.HEALTHY) == "healthy"
    assert csv_cell(type("Evil", (), {"__str__": lambda self: "@SUM(A1)"})()) == "'@SUM(A1)"
    assert csv_cell("Ada Lovelace") == "Ada Lovelace"


# --- Queries and permissions ----------------------------------------------------------


def add_rows(count: int, *, lead, team, by) -> None:
    for n in range(count):
        client_obj = client_with_records(
            f"Bulk {n:03d} {lead.pk}",
            lead=lead,
            team=team,
            score=50,
            band=Band.STRAINED,
            trend=-1,
            fee=decimal.Decimal("100.00"),
            severity=D.Severity.HIGH,
        )
        case(client_obj, by=by, days_ago=n + 1, status=LetGoCase.Status.DECLINED, decided_by=by)


def export_queries(client) -> dict[str, int]:
    counts = {}
    for name in PAGES:
        with CaptureQueriesContext(connection) as queries:
            rows = read(export(client, name))[1]
        counts[name] = (len(queries), len(rows))
    return counts


def test_the_query_count_does_not_grow_with_the_rows(client, admin, team):
    client.force_login(admin)
    add_rows(5, lead=admin, team=team, by=admin)
    few = export_queries(client)
    add_rows(55, lead=UserFactory(), team=team, by=admin)
    many = export_queries(client)
    for name in PAGES:
        assert (few[name][1], many[name][1]) == (5, 60), name
        assert many[name][0] == few[name][0], name


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_users_go_to_the_login_page_as_for_the_page(client, name):
    login = urlsplit(client.get(PAGES[name].url)["Location"]).path
    response = client.get(PAGES[name].url, {"format": "csv"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == login
    assert parse_qs(location.query) == {"next": [f"{PAGES[name].url}?format=csv"]}


def test_advisors_get_403_for_the_let_go_export_as_for_the_page(client, advisor, cast):
    client.force_login(advisor)
    assert client.get(PAGES["letgo"].url).status_code == 403
    assert client.get(PAGES["letgo"].url, {"format": "csv"}).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_users_without_a_role_get_403(client, db, name):
    client.force_login(UserFactory(role=""))
    assert client.get(PAGES[name].url, {"format": "csv"}).status_code == 403


# --- The link ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("clients", {"band": Band.ADVERSARIAL, "o": "-health", "page": "1"}),
        ("engagements", {"q": "audit", "o": "fee", "page": "1"}),
        ("disagreements", {"severity": D.Severity.CRITICAL, "o": "title", "page": "1"}),
        ("health", {"band": Band.ADVERSARIAL, "o": "-trend", "page": "1"}),
        ("letgo", {"page": "1"}),
    ],
)
def test_the_export_link_keeps_the_filters_and_sort(client, admin, cast, name, query):
    client.force_login(admin)
    response = page(client, name, query)
    [href] = re.findall(r'href="([^"]*)"[^>]*>Export CSV</a>', response.content.decode())
    link = urlsplit(html.unescape(href))
    expected = {key: [value] for key, value in query.items() if key != "page"}
    assert parse_qs(link.query) == {**expected, "format": ["csv"]}
    linked = client.get(f"{PAGES[name].url}?{link.query}")
    assert linked.streaming is True
    assert keys(linked, name) == page_keys(response, name)
