"""Stored evidence bytes against the SHA-256 recorded at upload: downloads,
the disagreement page, the evidence pack, `verify_log` and its page."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advisory.evidence import integrity
from advisory.evidence.files import evidence_attach
from advisory.models import EvidenceCheck, EvidenceFile
from advisory.views.evidence import CHANGED_PREFIX

pytestmark = pytest.mark.django_db

ORIGINAL = b"Call notes: the client insists on skipping the count.\n"
ALTERED = b"Call notes: the client agreed to the count.\n"


def attach(dispute, by, name: str = "call-notes.txt", content: bytes = ORIGINAL) -> EvidenceFile:
    upload = SimpleUploadedFile(name, content, content_type="text/plain")
    return evidence_attach(dispute, by=by, upload=upload)


def alter(media, evidence: EvidenceFile, content: bytes = ALTERED) -> None:
    """Change the stored bytes behind the application's back."""
    (media / evidence.file.name).write_bytes(content)


def remove(media, evidence: EvidenceFile) -> None:
    (media / evidence.file.name).unlink()


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- Downloads ------------------------------------------------------------------


def test_an_intact_download_says_so_and_carries_its_digest(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    client.force_login(advisor)

    response = client.get(reverse("evidence-download", args=[evidence.pk]))

    assert b"".join(response.streaming_content) == ORIGINAL
    assert response["Content-Disposition"] == 'attachment; filename="call-notes.txt"'
    assert response["X-Evidence-Integrity"] == "intact"
    digest = base64.b64encode(hashlib.sha256(ORIGINAL).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"
    assert EvidenceCheck.objects.get(evidence=evidence).result == EvidenceCheck.Result.MATCH


def test_a_changed_file_is_still_served_but_marked(client, advisor, dispute, media, caplog):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    client.force_login(advisor)

    response = client.get(reverse("evidence-download", args=[evidence.pk]))

    assert response.status_code == 200
    # What is stored is served, all of it: it may be all there is.
    assert b"".join(response.streaming_content) == ALTERED
    assert response["Content-Disposition"] == (
        f'attachment; filename="{CHANGED_PREFIX}call-notes.txt"'
    )
    assert response["X-Evidence-Integrity"] == (
        f"changed-since-upload; recorded-sha256={sha256(ORIGINAL)}"
    )
    digest = base64.b64encode(hashlib.sha256(ALTERED).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"
    check = EvidenceCheck.objects.get(evidence=evidence)
    assert (check.result, check.found_sha256) == (EvidenceCheck.Result.CHANGED, sha256(ALTERED))
    assert f"Evidence file {evidence.pk} (disagreement {dispute.pk}" in caplog.text
    assert f"changed since upload. Recorded at upload: SHA-256 {sha256(ORIGINAL)}" in caplog.text


def test_a_finding_is_logged_once_not_on_every_download(client, advisor, dispute, media, caplog):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    client.force_login(advisor)
    url = reverse("evidence-download", args=[evidence.pk])

    client.get(url)
    client.get(url)
    assert caplog.text.count(f"Evidence file {evidence.pk} ") == 1

    alter(media, evidence, b"Changed once more.\n")  # a new finding is logged again
    client.get(url)
    assert caplog.text.count(f"Evidence file {evidence.pk} ") == 2


def test_a_file_restored_from_backup_is_intact_again(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    client.force_login(advisor)
    client.get(reverse("evidence-download", args=[evidence.pk]))

    alter(media, evidence, ORIGINAL)
    response = client.get(reverse("evidence-download", args=[evidence.pk]))

    assert response["X-Evidence-Integrity"] == "intact"
    assert EvidenceCheck.objects.get(evidence=evidence).result == EvidenceCheck.Result.MATCH
    page = client.get(dispute.get_absolute_url()).content.decode()
    assert "Changed since upload" not in page


def test_the_history_entry_of_a_checked_file_is_untouched(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    client.force_login(advisor)

    client.get(reverse("evidence-download", args=[evidence.pk]))

    assert evidence.history.count() == 1
    call = io.StringIO()
    with pytest.raises(CommandError, match="not as uploaded"):
        call_command("verify_log", stdout=call)
    assert "Log intact" in call.getvalue()


# --- The disagreement page ----------------------------------------------------------


def test_the_page_warns_of_a_file_found_changed(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    intact = attach(dispute, advisor, name="letter.txt", content=b"Our letter.\n")
    alter(media, evidence)
    client.force_login(advisor)
    client.get(reverse("evidence-download", args=[evidence.pk]))
    client.get(reverse("evidence-download", args=[intact.pk]))

    page = client.get(dispute.get_absolute_url()).content.decode()

    assert page.count('role="alert"') == 1
    assert "Changed since upload." in page
    assert "The stored bytes no longer match the SHA-256 recorded at upload" in page


def test_the_page_warns_of_a_file_found_missing(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    remove(media, evidence)
    client.force_login(advisor)
    client.raise_request_exception = False
    assert client.get(reverse("evidence-download", args=[evidence.pk])).status_code == 410

    page = client.get(dispute.get_absolute_url()).content.decode()

    assert "Missing from storage." in page
    assert "The stored copy could not be found" in page


def test_the_warning_costs_no_query(client, advisor, dispute, media, django_assert_num_queries):
    attach(dispute, advisor)
    client.force_login(advisor)
    client.get(dispute.get_absolute_url())  # warm the session and the caches
    with CaptureQueriesContext(connection) as before:
        client.get(dispute.get_absolute_url())
    for number in range(3):
        evidence = attach(dispute, advisor, name=f"more-{number}.txt")
        alter(media, evidence)
        integrity.evidence_check(evidence)

    with django_assert_num_queries(len(before.captured_queries)):
        page = client.get(dispute.get_absolute_url()).content.decode()
    assert page.count("Changed since upload.") == 3


# --- The evidence pack --------------------------------------------------------------


def test_the_pack_records_what_it_found(client, manager, advisor, acme, dispute, media):
    changed = attach(dispute, advisor)
    missing = attach(dispute, advisor, name="gone.txt", content=b"Gone.\n")
    intact = attach(dispute, advisor, name="kept.txt", content=b"Kept.\n")
    alter(media, changed)
    remove(media, missing)
    client.force_login(manager)

    response = client.get(reverse("client-evidence-pack", args=[acme.pk]))

    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "evidence.csv" in archive.namelist()
    results = dict(EvidenceCheck.objects.values_list("evidence_id", "result"))
    assert results == {
        changed.pk: EvidenceCheck.Result.CHANGED,
        missing.pk: EvidenceCheck.Result.MISSING,
        intact.pk: EvidenceCheck.Result.MATCH,
    }


# --- verify_log -------------------------------------------------------------------


def run_verify_log() -> str:
    out = io.StringIO()
    call_command("verify_log", stdout=out)
    return out.getvalue()


def test_verify_log_says_every_file_matches(advisor, dispute, media):
    attach(dispute, advisor)

    output = run_verify_log()

    assert "Log intact" in output
    assert "Evidence files: every stored file matches its SHA-256." in output


def test_verify_log_names_each_file_not_as_uploaded(advisor, dispute, media):
    changed = attach(dispute, advisor)
    missing = attach(dispute, advisor, name="gone.txt", content=b"Gone.\n")
    attach(dispute, advisor, name="kept.txt", content=b"Kept.\n")
    alter(media, changed)
    remove(media, missing)

    with pytest.raises(CommandError) as error:
        run_verify_log()

    message = str(error.value)
    assert error.value.returncode == 1
    assert "2 evidence files are not as uploaded:" in message
    assert (
        f"Evidence file #{changed.pk} “call-notes.txt” (disagreement #{dispute.pk}, "
        f"stored as {changed.file.name}): changed since upload." in message
    )
    assert f"SHA-256 recorded at upload: {sha256(ORIGINAL)}" in message
    assert f"SHA-256 of the stored bytes: {sha256(ALTERED)}" in message
    assert f"Evidence file #{missing.pk} “gone.txt”" in message
    assert "missing from storage." in message
    assert "kept.txt" not in message
    assert "Broken" not in message  # the chain itself is fine


def test_verify_log_reports_a_broken_chain_and_changed_files_together(advisor, dispute, media):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    type(dispute).history.model.objects.filter(id=dispute.pk).update(client_request="tampered")

    with pytest.raises(CommandError) as error:
        run_verify_log()

    message = str(error.value)
    # The history entry, and the record that no longer equals it.
    assert "The log does not verify: 2 problems." in message
    assert "1 evidence file is not as uploaded:" in message


def test_the_admin_page_lists_files_found_not_as_uploaded(client, admin, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    integrity.evidence_check_all()
    client.force_login(admin)

    page = client.get(reverse("verify-log")).content.decode()

    assert "1 evidence file not as uploaded" in page
    assert "“call-notes.txt”" in page
    assert "changed since upload" in page
    assert dispute.get_absolute_url() in page


def test_the_admin_page_reads_no_file(client, admin, advisor, dispute, media):
    """Reading every stored file is for verify_log: the page shows the last findings."""
    evidence = attach(dispute, advisor)
    alter(media, evidence)
    client.force_login(admin)

    page = client.get(reverse("verify-log")).content.decode()

    assert "No stored file was found missing or changed when last read." in page
    assert not EvidenceCheck.objects.exists()
