"""The CSV import pages: upload, preview, confirm, the template and a large
import's progress page (the module itself: test_imports.py)."""

from __future__ import annotations

import csv
import html
import io
import os
import time
from types import SimpleNamespace

import pytest
from django.db import DatabaseError
from django.urls import reverse

from accounts.roles import Role
from advisory.history import verification
from advisory.models import Client, Engagement
from advisory.records.services import client_save
from advisory.transfer import exports, imports
from advisory.transfer import jobs as import_jobs
from advisory.views import imports as views
from tests.advisory.transfer.importing import (
    RUN_IMPORT,
    big_file,
    csv_bytes,
    import_files,
    new_client,
    plan,
    problems,
    upload,
)
from tests.factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db

# --- The web journey ------------------------------------------------------------


def test_the_preview_counts_what_would_be_created_updated_and_left(
    logged_in_manager, manager, acme, advisor
):
    data = csv_bytes(
        [
            new_client(),
            {"name": "ACME HOLDINGS", "sector": "Aerospace", "lead_advisor": "alice"},
        ]
    )
    response = upload(logged_in_manager, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("import-preview")

    response = logged_in_manager.get(reverse("import-preview"))

    assert response.status_code == 200
    result = response.context["plan"]
    assert (result.to_create, result.to_update, result.unchanged) == (1, 1, 0)
    update = result.rows[1]
    assert update.action == imports.UPDATE
    assert {(c.column, c.old, c.new) for c in update.changes} >= {
        ("name", "Acme Holdings", "ACME HOLDINGS"),
        ("sector", "Manufacturing", "Aerospace"),
    }
    assert b'<button type="submit" class="btn btn-primary">Confirm import' in response.content
    # Nothing stored by the preview.
    assert not Client.objects.filter(name="Bluebird Bakeries").exists()
    acme.refresh_from_db()
    assert acme.sector == "Manufacturing"


def test_confirming_stores_every_row_with_history_by_the_importer(
    logged_in_manager, manager, acme, team, media
):
    data = csv_bytes([new_client(), {"name": "Acme Holdings", "sector": "Aerospace"}])
    upload(logged_in_manager, data, name="March clients.csv")
    logged_in_manager.get(reverse("import-preview"))

    response = logged_in_manager.post(reverse("import-confirm"))

    assert response.status_code == 302
    assert response["Location"] == reverse("client-list")
    bluebird = Client.objects.get(name="Bluebird Bakeries")
    assert bluebird.team == team  # the lead advisor's team
    assert bluebird.lead_advisor.username == "alice"
    created = bluebird.history.get()
    assert created.history_user == manager
    assert created.history_change_reason == "Imported from March clients.csv"
    acme.refresh_from_db()
    assert acme.sector == "Aerospace"
    assert acme.version == 2
    assert acme.history.latest().history_change_reason == "Imported from March clients.csv"
    assert verification.verify().ok
    # The stored file and the session's note of it are gone.
    assert import_files(media) == []
    assert views.SESSION_KEY not in logged_in_manager.session
    follow = logged_in_manager.get(response["Location"])
    assert "1 created, 1 updated, 0 unchanged" in follow.content.decode()


def test_the_preview_lists_every_problem_and_disables_confirm(logged_in_manager, manager):
    data = csv_bytes([new_client(lead_advisor="nobody"), new_client(name="")])
    upload(logged_in_manager, data)

    response = logged_in_manager.get(reverse("import-preview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "No active colleague you can see has the username or e-mail “nobody”." in html
    assert "<td>2</td><td><code>lead_advisor</code></td>" in html
    assert "<td>3</td><td><code>name</code></td>" in html
    assert 'class="btn btn-primary" disabled' in html

    response = logged_in_manager.post(reverse("import-confirm"))
    assert response["Location"] == reverse("import-preview")
    assert not Client.objects.exists()


# --- All or nothing ------------------------------------------------------------------


def test_an_error_on_the_last_of_2000_rows_stores_nothing(logged_in_manager, advisor):
    rows = [new_client(name=f"Client {n:05d}") for n in range(1999)]
    rows.append(new_client(name="Last One", client_since="yesterday"))
    upload(logged_in_manager, csv_bytes(rows))

    response = logged_in_manager.get(reverse("import-preview"))
    result = response.context["plan"]
    assert (result.to_create, len(result.problems)) == (1999, 1)
    assert problems(result) == [(2001, "client_since")]
    assert len(response.context["rows"]) == views.SHOWN_ROWS

    logged_in_manager.post(reverse("import-confirm"))
    assert not Client.objects.exists()


def test_a_database_failure_mid_import_rolls_everything_back(
    logged_in_manager, manager, acme, monkeypatch
):
    rows = [new_client(name=f"Client {n}") for n in range(10)]
    rows.append({"name": "Acme Holdings", "sector": "Aerospace", "lead_advisor": "alice"})
    upload(logged_in_manager, csv_bytes(rows))
    logged_in_manager.get(reverse("import-preview"))
    saved = []

    def failing_save(client, **kwargs):
        if len(saved) == 5:
            raise DatabaseError("disk full")
        saved.append(client_save(client, **kwargs))
        return saved[-1]

    monkeypatch.setattr(imports, "client_save", failing_save)
    response = logged_in_manager.post(reverse("import-confirm"))

    assert response["Location"] == reverse("import-preview")
    assert len(saved) == 5
    assert list(Client.objects.values_list("name", flat=True)) == ["Acme Holdings"]
    acme.refresh_from_db()
    assert acme.sector == "Manufacturing"
    follow = logged_in_manager.get(response["Location"])
    assert "Nothing was imported: the database refused a change." in follow.content.decode()
    # The file is still there to try again.
    assert views.SESSION_KEY in logged_in_manager.session


def test_confirm_refuses_when_the_records_changed_since_the_preview(
    logged_in_manager, manager, acme
):
    upload(logged_in_manager, csv_bytes([{"name": "Acme Holdings", "sector": "Aerospace"}]))
    logged_in_manager.get(reverse("import-preview"))
    acme.sector = "Retail"
    client_save(acme, by=manager, reason="Changed meanwhile")

    response = logged_in_manager.post(reverse("import-confirm"))

    assert response["Location"] == reverse("import-preview")
    acme.refresh_from_db()
    assert acme.sector == "Retail"
    # After looking at the new preview, confirming works.
    logged_in_manager.get(reverse("import-preview"))
    logged_in_manager.post(reverse("import-confirm"))
    acme.refresh_from_db()
    assert acme.sector == "Aerospace"


# --- What files are accepted ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ("name,sector\nCafé,Food\n".encode("latin-1"), "latin.csv", "is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "it looks like a PNG image"),
        (b"", "empty.csv", "The file is empty."),
    ],
)
def test_a_bad_upload_shows_one_message_and_stores_nothing(
    logged_in_manager, media, data, name, message
):
    response = upload(logged_in_manager, data, name=name)

    assert response.status_code == 400
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1
    assert message in errors[0]
    assert import_files(media) == []
    assert views.SESSION_KEY not in logged_in_manager.session


# --- Scope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", reverse("import-upload")),
        ("get", reverse("import-preview")),
        ("post", reverse("import-confirm")),
        ("get", reverse("import-template", args=["clients"])),
    ],
)
def test_an_advisor_gets_403(client, advisor, method, url):
    client.force_login(advisor)
    assert getattr(client, method)(url).status_code == 403


def test_signed_out_users_are_sent_to_log_in(client):
    response = client.get(reverse("import-upload"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_confirm_is_post_only(logged_in_manager):
    assert logged_in_manager.get(reverse("import-confirm")).status_code == 405


def test_the_preview_without_an_upload_goes_back_to_the_upload(logged_in_manager):
    response = logged_in_manager.get(reverse("import-preview"))
    assert response["Location"] == reverse("import-upload")


def test_a_stored_file_that_changed_is_refused(logged_in_manager, media):
    upload(logged_in_manager, csv_bytes([new_client()]))
    (stored,) = import_files(media)
    stored.write_bytes(stored.read_bytes() + b"Injected,,,,,,alice,,,\n")

    response = logged_in_manager.get(reverse("import-preview"))

    assert response["Location"] == reverse("import-upload")
    assert import_files(media) == []
    assert views.SESSION_KEY not in logged_in_manager.session


def test_files_older_than_a_day_are_removed_at_the_next_upload(logged_in_manager, media):
    folder = media / "imports"
    folder.mkdir()
    old, recent = folder / "old.csv", folder / "recent.csv"
    for file in (old, recent):
        file.write_bytes(b"name\nx\n")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))

    upload(logged_in_manager, csv_bytes([new_client()]))

    names = {file.name for file in import_files(media)}
    assert "old.csv" not in names
    assert "recent.csv" in names
    assert len(names) == 2


def test_a_second_upload_replaces_the_first(logged_in_manager, media):
    upload(logged_in_manager, csv_bytes([new_client()]))
    upload(logged_in_manager, csv_bytes([new_client(name="Other")]))
    assert len(import_files(media)) == 1


# --- Engagements -------------------------------------------------------------------


def test_engagement_lines_in_the_preview(logged_in_manager, acme):
    data = csv_bytes(
        [["Acme Holdings", "Audit", "alice"]], header=["client", "title", "lead_advisor"]
    )
    upload(logged_in_manager, data, kind="engagements", name="e.csv")
    response = logged_in_manager.get(reverse("import-preview"))
    assert response.context["plan"].to_create == 1
    logged_in_manager.post(reverse("import-confirm"))
    assert Engagement.objects.filter(client=acme, title="Audit").exists()


# --- The template ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["clients", "engagements"])
def test_the_template_downloads_and_imports_cleanly(logged_in_manager, acme, kind):
    response = logged_in_manager.get(reverse("import-template", args=[kind]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="candor-{kind}-template.csv"' in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [c.name for c in imports.COLUMNS[kind]]
    assert len(rows) == 2

    upload(logged_in_manager, response.content, kind=kind, name=f"{kind}.csv")
    preview = logged_in_manager.get(reverse("import-preview"))
    assert preview.context["plan"].ok, preview.context["plan"].problems
    assert preview.context["plan"].to_create == 1
    logged_in_manager.post(reverse("import-confirm"))
    if kind == "clients":
        assert Client.objects.filter(name="Example Client Ltd").exists()
    else:
        assert acme.engagements.filter(title="Example engagement").exists()


def test_the_template_never_starts_a_cell_with_a_formula_and_still_imports_cleanly(
    logged_in_manager, advisor
):
    formula = ClientFactory(name="+1+1 Holdings", lead_advisor=advisor)
    response = logged_in_manager.get(reverse("import-template", args=["engagements"]))

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][0] == "'+1+1 Holdings"
    assert not any(cell.startswith(exports.FORMULA_PREFIXES) for row in rows for cell in row)

    upload(logged_in_manager, response.content, kind="engagements", name="engagements.csv")
    preview = logged_in_manager.get(reverse("import-preview"))
    assert preview.context["plan"].ok, preview.context["plan"].problems
    logged_in_manager.post(reverse("import-confirm"))
    assert formula.engagements.filter(title="Example engagement").exists()


def test_the_template_for_an_admin_on_no_team_names_a_colleague(client, admin, advisor, team):
    client.force_login(admin)
    content = client.get(reverse("import-template", args=["clients"])).content
    table = imports.read_table(content, "clients")
    assert table.rows[0][1][6:8] == ["alice", "Corporate Advisory"]
    assert plan("clients", content, admin).ok


def test_an_unknown_template_is_404(logged_in_manager):
    assert logged_in_manager.get(reverse("import-template", args=["invoices"])).status_code == 404


# --- Large files: in the background, with progress ----------------------------------


def test_a_large_import_runs_in_the_background_and_its_page_shows_the_outcome(
    logged_in_manager, manager, advisor, media, small_background
):
    upload(logged_in_manager, big_file(), name="big.csv")
    logged_in_manager.get(reverse("import-preview"))

    # Tasks run at once in the tests (tests/conftest.py).
    response = logged_in_manager.post(reverse("import-confirm"))

    job_url = response["Location"]
    assert job_url.startswith("/imports/jobs/")
    assert Client.objects.filter(name__startswith="Client ").count() == 3
    entry = Client.objects.get(name="Client 0").history.get()
    assert (entry.history_user, entry.history_change_reason) == (manager, "Imported from big.csv")
    assert verification.verify().ok
    page = logged_in_manager.get(job_url).content.decode()
    assert "Imported big.csv: 3 created, 0 updated, 0 unchanged." in page
    assert 'hx-trigger="every 1s"' not in page  # finished: no more polling
    assert import_files(media) == []
    assert views.SESSION_KEY not in logged_in_manager.session


def test_the_job_page_shows_progress_while_it_runs(
    logged_in_manager, manager, advisor, small_background, held_jobs
):
    upload(logged_in_manager, big_file())
    logged_in_manager.get(reverse("import-preview"))
    job_url = logged_in_manager.post(reverse("import-confirm"))["Location"]
    [job_id] = held_jobs

    page = logged_in_manager.get(job_url).content.decode()
    assert "Waiting for the background worker" in page
    assert 'hx-trigger="every 1s"' in page

    job = import_jobs.get(job_id, user=manager)
    progress = import_jobs._Progress(job, import_jobs.STORING)
    progress(2)
    page = logged_in_manager.get(job_url).content.decode()
    assert "Storing: 2 of 3 rows." in page
    assert '<progress class="w-100" max="3" value="2"' in page


def test_a_job_is_checked_again_and_stores_nothing_if_the_records_changed(
    logged_in_manager, manager, advisor, small_background, held_jobs
):
    upload(logged_in_manager, big_file())
    logged_in_manager.get(reverse("import-preview"))
    job_url = logged_in_manager.post(reverse("import-confirm"))["Location"]
    ClientFactory(name="CLIENT 1", lead_advisor=advisor)  # meanwhile

    assert RUN_IMPORT.call(held_jobs[0]) == import_jobs.FAILED

    assert not Client.objects.filter(name="Client 0").exists()
    page = logged_in_manager.get(job_url).content.decode()
    assert "the records changed since the preview you saw" in page
    assert reverse("import-preview") in page
    assert views.SESSION_KEY in logged_in_manager.session  # the file is kept to try again


def test_only_the_importer_sees_their_job(
    client, logged_in_manager, team, advisor, small_background
):
    upload(logged_in_manager, big_file())
    logged_in_manager.get(reverse("import-preview"))
    job_url = logged_in_manager.post(reverse("import-confirm"))["Location"]

    other_manager = UserFactory(role=Role.MANAGER, team=team)
    client.force_login(other_manager)
    assert client.get(job_url).status_code == 404
    client.force_login(other_manager)
    assert client.get(reverse("import-job", args=["no-such-job"])).status_code == 404


def test_a_queue_that_cannot_be_reached_stores_nothing_and_says_so(
    logged_in_manager, advisor, small_background, monkeypatch, caplog
):
    def unreachable(job_id):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(import_jobs, "run_import", SimpleNamespace(enqueue=unreachable))
    upload(logged_in_manager, big_file())
    logged_in_manager.get(reverse("import-preview"))

    response = logged_in_manager.post(reverse("import-confirm"), follow=True)

    assert "the background worker's queue can't be reached" in html.unescape(
        response.content.decode()
    )
    assert not Client.objects.filter(name__startswith="Client ").exists()
    assert "Could not queue the import" in caplog.text
    assert views.SESSION_KEY in logged_in_manager.session  # try again later
