"""CSV import of clients and engagements: reading files, planning and applying
them, scope, the command and background jobs (the pages: test_import_views.py)."""

from __future__ import annotations

import datetime
import io
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.roles import Role
from advisory.history import verification
from advisory.history.entries import history_entries
from advisory.models import NAME_TAKEN, Client, Engagement
from advisory.transfer import exports, imports
from tests.advisory.transfer.importing import (
    CLIENT_HEADER,
    ENGAGEMENT_HEADER,
    HistoricalClient,
    csv_bytes,
    new_client,
    plan,
    problems,
)
from tests.factories import ClientFactory, EngagementFactory, UserFactory

pytestmark = pytest.mark.django_db

# --- Updates -------------------------------------------------------------------------


def test_an_update_changes_only_the_fields_that_changed(manager, acme):
    acme.contact_phone = "+44 1632 960000"
    acme.save()
    data = csv_bytes([["acme holdings", "Aerospace"]], header=["name", "sector"])
    result = plan("clients", data, manager)
    imports.apply_plan(result, by=manager, filename="fix.csv")

    acme.refresh_from_db()
    assert (acme.name, acme.sector, acme.contact_phone) == (
        "acme holdings",
        "Aerospace",
        "+44 1632 960000",
    )
    entry = history_entries(acme)[0]
    assert entry.user == manager
    assert entry.reason == "Imported from fix.csv"
    assert {change.label for change in entry.changes} == {"Name", "Sector"}


def test_a_row_that_changes_nothing_is_left_alone(manager, acme):
    data = csv_bytes([["Acme Holdings", "Manufacturing"]], header=["name", "sector"])
    result = plan("clients", data, manager)
    assert result.unchanged == 1
    imports.apply_plan(result, by=manager, filename="same.csv")
    acme.refresh_from_db()
    assert acme.version == 1
    assert acme.history.count() == 1  # only the factory's "created"


# --- Problems, each with its line and column --------------------------------------


def test_each_kind_of_problem_is_reported_with_its_line_and_column(manager, advisor):
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    data = csv_bytes(
        [
            new_client(name="Unknown Lead", lead_advisor="zed"),  # line 2
            new_client(name="Bad Date", client_since="2024-13-01"),  # 3
            new_client(name="Future", client_since=future),  # 4
            new_client(name="Twin Peaks"),  # 5
            new_client(name="TWIN  peaks"),  # 6: same name ignoring case and spaces
            new_client(name=""),  # 7
            new_client(name="No Lead", lead_advisor=""),  # 8
            new_client(name="Bad Mail", contact_email="not-an-email"),  # 9
            new_client(name="Bad Kind", kind="partnership"),  # 10
            new_client(name="Long" * 60),  # 11
        ]
    )
    result = plan("clients", data, manager)
    found = {(p.line, p.column): p.message for p in result.problems}

    assert list(found) == [
        (2, "lead_advisor"),
        (3, "client_since"),
        (4, "client_since"),
        (6, "name"),
        (7, "name"),
        (8, "lead_advisor"),
        (9, "contact_email"),
        (10, "kind"),
        (11, "name"),
    ]
    assert "“2024-13-01” is not a date" in found[3, "client_since"]
    assert found[4, "client_since"] == "The date cannot be in the future."
    assert found[6, "name"] == "Same client as line 5 (names are compared ignoring case)."
    assert found[7, "name"] == found[8, "lead_advisor"] == imports.REQUIRED
    assert found[9, "contact_email"] == "Enter a valid email address."
    assert "organization, individual" in found[10, "kind"]
    assert "at most 200 characters" in found[11, "name"]
    assert result.to_create == 1  # Twin Peaks


def test_engagement_problems_use_the_model_rules(manager, acme):
    data = csv_bytes(
        [
            ["Acme Holdings", "Negative", "", "alice", "", "", "", "", "-5", ""],  # 2
            ["Acme Holdings", "Backwards", "", "alice", "", "", "2026-05-01", "2026-04-01", "", ""],
            ["Acme Holdings", "Bad fee", "", "alice", "", "", "", "", "12,500.00", ""],  # 4
            ["Acme Holdings", "Bad status", "", "alice", "", "paused", "", "", "", ""],  # 5
            ["Acme Holdings", "Bad member", "", "alice", "alice|ghost", "", "", "", "", ""],
            ["Nobody Ltd", "Unknown client", "", "alice", "", "", "", "", "", ""],  # 7
            ["Acme Holdings", "negative", "", "alice", "", "", "", "", "", ""],  # 8
            ["Acme Holdings", "", "", "alice", "", "", "", "", "", ""],  # 9
        ],
        header=ENGAGEMENT_HEADER,
    )
    result = plan("engagements", data, manager)
    found = {(p.line, p.column): p.message for p in result.problems}

    assert found == {
        (2, "fee"): "The fee cannot be negative.",
        (3, "end_date"): "The end date cannot be before the start date.",
        (4, "fee"): (
            "“12,500.00” is not an amount: write it without thousands separators, "
            "as 12500.00 or 12500,00."
        ),
        (5, "status"): "“paused” is not one of: proposed, active, on hold, completed, terminated.",
        (6, "members"): "No active colleague you can see has the username or e-mail “ghost”.",
        (7, "client"): "No client called “Nobody Ltd” in your teams.",
        (8, "title"): "Same engagement as line 2 (titles are compared ignoring case).",
        (9, "title"): imports.REQUIRED,
    }


def test_a_line_with_the_wrong_number_of_values_is_a_problem(manager):
    data = b"name,sector,lead_advisor\nOne,Food,alice,extra\nTwo,Food\n"
    result = plan("clients", data, manager)
    assert [(p.line, p.column, p.message) for p in result.problems] == [
        (2, "", "This line has 4 values but the header has 3 columns."),
        (3, "", "This line has 2 values but the header has 3 columns."),
    ]


def test_line_numbers_count_rows_as_a_spreadsheet_does(manager, advisor):
    # A quoted value spanning lines is one row; blank lines still count.
    data = b'name,notes,lead_advisor\nOne,"two\nlines",alice\n\nTwo,,zed\n'
    result = plan("clients", data, manager)
    assert problems(result) == [(4, "lead_advisor")]


def test_a_new_client_needs_a_lead_advisor_column(manager):
    result = plan("clients", b"name\nNew Co\n", manager)
    assert problems(result) == [(2, "lead_advisor")]


def test_several_people_with_one_email_must_be_named_by_username(manager, team, advisor):
    for username in ("pat1", "pat2"):
        UserFactory(username=username, email="pat@firm.example", team=team)
    result = plan("clients", csv_bytes([new_client(lead_advisor="pat@firm.example")]), manager)
    assert result.problems[0].message == (
        "Several people have the e-mail “pat@firm.example”: give the username."
    )
    ok = plan("clients", csv_bytes([new_client(lead_advisor="ALICE@example.com")]), manager)
    assert ok.ok and ok.rows[0].record.lead_advisor.username == "alice"


# --- All or nothing ------------------------------------------------------------------


def test_2000_rows_preview_and_import_quickly_with_queries_not_per_row(
    manager, advisor, django_assert_max_num_queries
):
    rows = [new_client(name=f"Client {n:05d}", client_since="2020-01-31") for n in range(2000)]
    data = csv_bytes(rows)
    started = time.monotonic()
    with django_assert_max_num_queries(10):
        result = plan("clients", data, manager)
    checked = time.monotonic() - started
    assert result.ok and result.to_create == 2000
    imports.apply_plan(result, by=manager, filename="big.csv")
    applied = time.monotonic() - started - checked

    assert Client.objects.count() == 2000
    assert HistoricalClient.objects.filter(history_user=manager).count() == 2000
    assert verification.verify().ok
    # Generous bounds for slow CI machines; docs/performance.md ("Measured
    # reasons in the code") has the timing measured for 10,000 rows.
    assert checked < 10
    assert applied < 60


def test_checking_engagements_queries_the_same_whatever_the_rows(
    manager, acme, advisor, django_assert_max_num_queries
):
    EngagementFactory(client=acme, title="Existing").members.add(advisor)
    rows = [["Acme Holdings", f"Job {n}", "alice", "alice|charlie"] for n in range(300)]
    rows.append(["Acme Holdings", "Existing", "alice", "alice"])
    data = csv_bytes(rows, header=["client", "title", "lead_advisor", "members"])
    with django_assert_max_num_queries(12):
        result = plan("engagements", data, manager)
    assert (result.to_create, result.unchanged) == (300, 1)


def test_a_row_the_service_refuses_names_its_line_and_stores_nothing(manager, acme, monkeypatch):
    result = plan("clients", csv_bytes([new_client(), new_client(name="Second")]), manager)
    # Someone creates "Second" between the check and the import.
    ClientFactory(name="SECOND", lead_advisor=acme.lead_advisor)

    with pytest.raises(imports.ImportFailed) as failure:
        imports.apply_plan(result, by=manager, filename="late.csv")

    assert failure.value.problem.line == 3
    assert failure.value.problem.message == f"{NAME_TAKEN} (It was added after the check.)"
    assert not Client.objects.filter(name="Bluebird Bakeries").exists()


# --- What files are accepted ---------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("bom", [False, True])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_commas_or_semicolons_with_or_without_bom_and_any_line_endings(
    manager, advisor, delimiter, bom, newline
):
    data = csv_bytes(
        [new_client(name="Crème Brûlée SA", notes="Line one\nline two")],
        delimiter=delimiter,
        bom=bom,
        newline=newline,
    )
    table = imports.read_table(data, "clients")
    assert table.delimiter == delimiter
    assert table.columns == CLIENT_HEADER
    result = imports.plan_import(table, user=manager)
    assert result.ok
    record = result.rows[0].record
    assert record.name == "Crème Brûlée SA"


def test_a_fee_takes_a_comma_or_a_point_and_dates_either_format(manager, acme, advisor):
    data = csv_bytes(
        [
            [
                "Acme Holdings",
                "Tax 2026",
                "Tax",
                "alice",
                "",
                "On hold",
                "05/01/2026",
                "",
                "1250,5",
                "",
            ],
            ["Acme Holdings", "VAT", "Tax", "alice", "", "", "2026-01-05", "", "99.99", ""],
        ],
        header=ENGAGEMENT_HEADER,
        delimiter=";",
    )
    result = plan("engagements", data, manager)
    assert result.ok
    first, second = (row.record for row in result.rows)
    assert (first.fee, first.start_date, first.status) == (
        Decimal("1250.5"),
        datetime.date(2026, 1, 5),
        "on_hold",
    )
    assert (second.fee, second.status) == (Decimal("99.99"), "active")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Name,Sector\nCafé,Food\n".encode("latin-1"), "The file is not UTF-8 text: line 2"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "it looks like a PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00", "an Excel workbook (.xlsx)"),
        (b"name\x00,sector\n", "it contains binary data"),
        ("name,sector\n".encode("utf-16"), "UTF-16"),
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf\r\n  \r\n", "The file is empty."),
        (b"name,sector\n", "The file has a header but no rows to import."),
        (b"\nname\nAcme\n", "The first line must be the header"),
        (b"nom,secteur\nAcme,Food\n", "unknown columns “nom”, “secteur”"),
        (b"sector\nFood\n", "missing required column “name”"),
        (b"name,name\nA,B\n", "repeated column “name”"),
        (b'name,sector\n"Acme,Food\n', "The file is not valid CSV"),
        (b"Hello,\nthis is a letter, not a list.\n", "unknown column"),
    ],
)
def test_a_file_that_is_not_a_usable_csv_gets_one_message(data, message):
    with pytest.raises(imports.ImportFileError) as error:
        imports.read_table(data, "clients")
    assert message in str(error.value)


def test_more_rows_than_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    with pytest.raises(imports.ImportFileError, match="more than 3 rows"):
        imports.read_table(b"name\nA\nB\nC\nD\n", "clients")
    assert len(imports.read_table(b"name\nA\nB\nC\n", "clients").rows) == 3


# --- Scope ---------------------------------------------------------------------------


def test_a_manager_imports_only_into_teams_they_manage(manager, advisor, other_team, other_advisor):
    data = csv_bytes(
        [
            new_client(name="Elsewhere", team="Private Clients"),  # 2
            new_client(name="Their Lead", lead_advisor="bob"),  # 3
            new_client(name="Made Up Team", team="Nowhere"),  # 4
        ]
    )
    result = plan("clients", data, manager)
    assert [(p.line, p.column, p.message) for p in result.problems] == [
        (2, "team", "No team you manage is called “Private Clients”."),
        (3, "lead_advisor", "No active colleague you can see has the username or e-mail “bob”."),
        (4, "team", "No team you manage is called “Nowhere”."),
    ]


def test_a_name_taken_outside_the_importers_teams_reveals_nothing(manager, other_advisor):
    ClientFactory(
        name="Secret Holdings", lead_advisor=other_advisor, contact_name="Very Private Person"
    )
    data = csv_bytes([new_client(name="secret holdings")])
    result = plan("clients", data, manager)
    assert [(p.line, p.column, p.message) for p in result.problems] == [(2, "name", NAME_TAKEN)]
    row = result.rows[0]
    assert row.changes == [] and row.record is None
    # An engagement for it reads as if the client didn't exist.
    engagements = plan(
        "engagements",
        csv_bytes([["Secret Holdings", "Audit"]], header=["client", "title"]),
        manager,
    )
    assert engagements.problems[0].message == "No client called “Secret Holdings” in your teams."


def test_a_client_the_manager_sees_on_another_team_is_not_changed(manager, other_team):
    theirs = ClientFactory(name="Shared Work", team=other_team, lead_advisor=manager)
    result = plan(
        "clients", csv_bytes([["Shared Work", "Retail"]], header=["name", "sector"]), manager
    )
    assert [(p.column, p.message) for p in result.problems] == [
        ("team", "This client is on a team you don't manage.")
    ]
    assert theirs.sector == "Manufacturing"


def test_an_admin_imports_into_any_team(admin, other_team, other_advisor):
    data = csv_bytes([new_client(lead_advisor="bob", team="private clients")])
    result = plan("clients", data, admin)
    assert result.ok
    imports.apply_plan(result, by=admin, filename="a.csv")
    assert Client.objects.get(name="Bluebird Bakeries").team == other_team


def test_archived_and_let_go_clients_are_not_changed(manager, acme, team, advisor):
    ClientFactory(name="Gone Ltd", lead_advisor=advisor, status=Client.Status.LET_GO)
    acme.is_archived = True
    acme.save()
    data = csv_bytes([["Acme Holdings", "X"], ["Gone Ltd", "Y"]], header=["name", "sector"])
    result = plan("clients", data, manager)
    assert [p.message for p in result.problems] == [
        "This client is archived: restore it before importing changes.",
        "This client has been let go: its records are read-only.",
    ]


# --- Engagements -------------------------------------------------------------------


def test_engagements_are_created_and_updated_with_members(manager, acme, advisor, team):
    colleague = UserFactory(username="erin", email="erin@firm.example", team=team)
    existing = EngagementFactory(client=acme, title="Annual audit 2026", lead_advisor=advisor)
    existing.members.add(advisor)
    entries_before = len(history_entries(existing))
    data = csv_bytes(
        [
            [
                "acme holdings",
                "annual audit 2026",
                "Audit",
                "alice",
                "erin@firm.example|alice",
                "completed",
                "2025-01-06",
                "2025-12-31",
                "9000",
                "",
            ],
            ["Acme Holdings", "Tax 2026", "Tax", "erin", "", "", "", "", "", "New work"],
        ],
        header=ENGAGEMENT_HEADER,
    )
    result = plan("engagements", data, manager)
    assert result.ok, result.problems
    assert (result.to_create, result.to_update) == (1, 1)
    imports.apply_plan(result, by=manager, filename="engagements.csv")

    existing.refresh_from_db()
    assert existing.title == "annual audit 2026"
    assert existing.status == "completed"
    assert set(existing.members.all()) == {advisor, colleague}
    entries = history_entries(existing)
    assert len(entries) == entries_before + 1  # one entry for fields and members together
    assert entries[0].reason == "Imported from engagements.csv"
    assert entries[0].user == manager
    created = Engagement.objects.get(title="Tax 2026")
    assert (created.lead_advisor, created.status, created.description) == (
        colleague,
        "active",
        "New work",
    )
    assert list(created.members.all()) == []
    assert verification.verify().ok


# --- The template ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["+1+1 Holdings", "=SUM(A1)", "-5 Ltd", "@home", "'quoted", "A"])
def test_an_import_reads_an_exported_cell_back_as_the_value(value):
    assert exports.csv_value(exports.csv_cell(value)) == value


# --- The command -------------------------------------------------------------------


def test_the_command_dry_run_reports_and_stores_nothing(clients_file, manager):
    out = io.StringIO()
    call_command(
        "import_csv", "clients", str(clients_file), "--as", "charlie", "--dry-run", stdout=out
    )
    assert "Dry run of clients.csv: 1 to create, 1 to update, 0 unchanged." in out.getvalue()
    assert not Client.objects.filter(name="Bluebird Bakeries").exists()


def test_the_command_imports_as_the_named_user(clients_file, manager, acme):
    out = io.StringIO()
    call_command("import_csv", "clients", str(clients_file), "--as", "charlie", stdout=out)
    assert "Imported clients.csv: 1 created, 1 updated, 0 unchanged." in out.getvalue()
    created = Client.objects.get(name="Bluebird Bakeries").history.get()
    assert (created.history_user, created.history_change_reason) == (
        manager,
        "Imported from clients.csv",
    )
    acme.refresh_from_db()
    assert acme.sector == "Aerospace"


def test_the_command_lists_problems_and_exits_1(tmp_path, manager, advisor):
    file = tmp_path / "bad.csv"
    file.write_bytes(csv_bytes([new_client(), new_client(name="Two", lead_advisor="zed")]))
    stderr = io.StringIO()

    # call_command rather than execute_from_command_line: the latter closes
    # every database connection afterwards, the test's own included.
    with pytest.raises(CommandError) as error:
        call_command("import_csv", "clients", str(file), "--as", "charlie", stderr=stderr)

    assert error.value.returncode == 1  # what manage.py exits with
    assert "1 problem in bad.csv: nothing was imported." in str(error.value)
    assert "line 3, lead_advisor: No active colleague" in stderr.getvalue()
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as", "alice"], "alice can't import: only managers and admins can."),
        (["--as", "nobody"], "No user with the username “nobody”."),
    ],
)
def test_the_command_refuses_who_may_not_import(clients_file, advisor, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_csv", "clients", str(clients_file), *args)


def test_the_command_refuses_a_bad_file(tmp_path, manager):
    file = tmp_path / "image.csv"
    file.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(CommandError, match="looks like a PNG image"):
        call_command("import_csv", "clients", str(file), "--as", "charlie")
    with pytest.raises(CommandError, match="Can't read"):
        call_command("import_csv", "clients", str(tmp_path / "missing.csv"), "--as", "charlie")


def test_a_manager_role_is_needed_not_just_a_team(team):
    # Managing a team without the manager role doesn't make an importer.
    user = UserFactory(username="frank", role=Role.ADVISOR, team=team)
    team.managers.add(user)
    assert not imports.can_import(user)
    assert imports.can_import(UserFactory(username="gina", role=Role.MANAGER))
    assert not imports.can_import(UserFactory(username="hal", role=""))


def test_an_engagement_for_a_client_let_go_after_the_check_stores_nothing(manager, acme):
    data = csv_bytes(
        [["Acme Holdings", "Tax 2026", "Tax", "alice", "", "", "", "", "", ""]],
        header=ENGAGEMENT_HEADER,
    )
    result = plan("engagements", data, manager)
    assert result.ok, result.problems
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)

    with pytest.raises(imports.ImportFailed) as failure:
        imports.apply_plan(result, by=manager, filename="late.csv")

    assert (failure.value.problem.line, failure.value.problem.column) == (2, "client")
    assert "let go" in failure.value.problem.message
    assert not Engagement.objects.filter(title="Tax 2026").exists()


def test_storing_queries_a_fixed_number_per_row(manager, advisor, django_assert_max_num_queries):
    """What the services check per row is checked once for the whole file."""
    rows = [new_client(name=f"Client {n}") for n in range(40)]
    result = plan("clients", csv_bytes(rows), manager)
    assert result.ok, result.problems

    # Per row: the client and its history entry; once: the name check, the
    # chain's last hash and its insert.
    with django_assert_max_num_queries(2 * 40 + 6):
        imports.apply_plan(result, by=manager, filename="many.csv")

    assert Client.objects.filter(name__startswith="Client ").count() == 40
    assert verification.verify().ok


# --- Large files: in the background, with progress ----------------------------------


def test_new_engagements_are_stored_in_bulk_with_their_history(
    manager, acme, advisor, django_assert_max_num_queries
):
    rows = [
        ["Acme Holdings", f"Job {n:02d}", "Audit", "alice", "alice|charlie", "", "", "", "", ""]
        for n in range(40)
    ]
    result = plan("engagements", csv_bytes(rows, header=ENGAGEMENT_HEADER), manager)
    assert result.ok, result.problems

    # The same few inserts for 40 engagements as for 4: no query per row.
    with django_assert_max_num_queries(12):
        imports.apply_plan(result, by=manager, filename="jobs.csv")

    job = Engagement.objects.get(title="Job 07")
    assert {m.username for m in job.members.all()} == {"alice", "charlie"}
    [entry] = history_entries(job)
    assert (entry.user, entry.reason) == (manager, "Imported from jobs.csv")
    snapshot = job.history.get()
    assert sorted(snapshot.members.values_list("user_id", flat=True)) == sorted(
        [advisor.pk, manager.pk]
    )
    assert verification.verify().ok
