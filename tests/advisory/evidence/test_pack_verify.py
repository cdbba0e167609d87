"""The evidence pack checks itself: downloaded through the page, unzipped, and
checked by its own verify.py in a separate Python with nothing but the standard
library (`python3 -I -S`) and the openssl command, as a recipient would."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from advisory.evidence.files import evidence_attach
from advisory.history import heads
from advisory.models import LogEntry, TreeHead
from advisory.records.comments import comment_add
from tests import tsa
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory

pytestmark = pytest.mark.django_db

NOTES = b"Call notes: the client insists on skipping the count.\n"


def download(client, user, acme) -> bytes:
    client.force_login(user)
    response = client.get(reverse("client-evidence-pack", args=[acme.pk]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def unzip(pack: bytes, folder: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        archive.extractall(folder)
    return folder


def verify(folder: Path) -> subprocess.CompletedProcess:
    """python3 verify.py in the folder: the system's Python, isolated, no site-packages."""
    return subprocess.run(
        ["python3", "-I", "-S", "verify.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def rewrite_manifest(folder: Path, *names: str) -> None:
    """Make MANIFEST.sha256 agree with changed files, as a forger would."""
    manifest = folder / "MANIFEST.sha256"
    lines = []
    for line in manifest.read_text().splitlines():
        digest, name = line.split("  ", 1)
        if name in names:
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        lines.append(f"{digest}  {name}")
    manifest.write_text("\n".join(lines) + "\n")


@pytest.fixture
def pack_folder(client, manager, advisor, acme, dispute, media, tmp_path):
    comment_add(dispute, by=advisor, body="Chased the client again.")
    upload = SimpleUploadedFile("call-notes.txt", NOTES, content_type="text/plain")
    evidence_attach(dispute, by=advisor, upload=upload)
    return unzip(download(client, manager, acme), tmp_path / "pack")


def test_a_pack_verifies_with_its_own_verify_py(pack_folder, acme):
    checked = verify(pack_folder)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    last = checked.stdout.strip().splitlines()[-1]
    head = TreeHead.objects.get()
    entries = [json.loads(line) for line in (pack_folder / "log/entries.jsonl").open()]
    assert re.fullmatch(
        rf"verified: {len(entries)} entries of {acme.name} are in the firm's log as of "
        r"\d+ \w+ \d{4} \d\d:\d\d UTC \(the tree head is not timestamped\)\.",
        last,
    )
    assert f"signed by the firm's key {head.key_id}" in checked.stdout
    # Everything about the client: the client, its engagement, the disagreement,
    # the comment and the evidence file.
    kinds = {json.loads(e["canonical"])["model"] for e in entries}
    assert kinds == {
        "advisory.historicalclient",
        "advisory.historicalengagement",
        "advisory.historicaldisagreement",
        "advisory.historicalcomment",
        "advisory.historicalevidencefile",
    }
    assert (pack_folder / "README.txt").read_text().startswith(f"Evidence pack: {acme.name}")
    assert "python3 verify.py" in (pack_folder / "README.txt").read_text()
    assert (pack_folder / "verify.py").read_bytes() == Path(
        "advisory/history/verifier.py"
    ).read_bytes()


def test_other_clients_records_are_not_in_the_pack(
    client, manager, advisor, acme, dispute, media, tmp_path, team
):
    other = ClientFactory(name="Globex Secret Holdings", lead_advisor=advisor, team=team)
    engagement = EngagementFactory(client=other, lead_advisor=advisor, title="Globex audit")
    DisagreementFactory(engagement=engagement, logged_by=advisor, title="Globex private matter")

    folder = unzip(download(client, manager, acme), tmp_path / "pack")

    everything = b"".join(path.read_bytes() for path in folder.rglob("*") if path.is_file())
    assert b"Globex" not in everything
    assert verify(folder).returncode == 0


def test_one_byte_changed_in_a_record_is_named(pack_folder, dispute):
    entries = pack_folder / "log/entries.jsonl"
    text = entries.read_text()
    assert "Stock count skipped" in text
    entries.write_text(text.replace("Stock count skipped", "Stock count skippeD", 1))

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert "FAILED: log/entries.jsonl was changed after the pack was made" in checked.stdout
    assert f"(Disagreement #{dispute.pk} “Stock count skippeD”, history entry " in checked.stdout
    assert "its content no longer matches its digest" in checked.stdout


def test_a_record_changed_in_client_json_is_named(pack_folder, dispute):
    records = pack_folder / "client.json"
    text = records.read_text()
    records.write_text(text.replace('"decision": "pending"', '"decision": "accepted"', 1))
    rewrite_manifest(pack_folder, "client.json")

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert (
        f"FAILED: client.json: Disagreement #{dispute.pk} “Stock count skipped” says other than "
        "its latest log entry" in checked.stdout
    )
    assert "for decision: the record was changed without being logged." in checked.stdout


def test_a_record_changed_behind_candors_back_shows_in_the_pack(
    client, manager, acme, dispute, tmp_path
):
    """An UPDATE in the database before the pack is made: the pack says so."""
    type(dispute).objects.filter(pk=dispute.pk).update(client_request="We agreed all along.")

    folder = unzip(download(client, manager, acme), tmp_path / "pack")

    checked = verify(folder)
    assert checked.returncode == 1
    assert f"Disagreement #{dispute.pk} “Stock count skipped” says other than" in checked.stdout
    assert "for client_request: the record was changed without being logged." in checked.stdout


def test_a_forger_who_rewrites_the_manifest_is_caught_by_its_signature(pack_folder, dispute):
    entries = pack_folder / "log/entries.jsonl"
    entries.write_text(entries.read_text().replace("Stock count skipped", "Stock count done", 1))
    rewrite_manifest(pack_folder, "log/entries.jsonl")

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert "MANIFEST.sha256 is not the list of files the firm signed" in checked.stdout
    assert f"Disagreement #{dispute.pk} “Stock count done”" in checked.stdout


def test_an_entry_with_a_recomputed_digest_has_no_proof(pack_folder, dispute):
    """Digest recomputed from the changed content: only the Merkle proof can tell."""
    path = pack_folder / "log/entries.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        if "Stock count skipped" in line["canonical"]:
            line["canonical"] = line["canonical"].replace("Stock count skipped", "All agreed")
            salt = bytes.fromhex(line["salt"])
            line["digest"] = hashlib.sha256(salt + line["canonical"].encode()).hexdigest()
            break
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert f"(Disagreement #{dispute.pk} “All agreed”, history entry" in checked.stdout
    assert "it is not in the firm's log as of the tree head" in checked.stdout


def test_a_swapped_evidence_file_is_named(pack_folder):
    (stored,) = (pack_folder / "evidence").iterdir()
    stored.write_bytes(b"Call notes: the client agreed to the count.\n")

    checked = verify(pack_folder)

    assert checked.returncode == 1
    name = stored.relative_to(pack_folder).as_posix()
    assert f"FAILED: {name} is not the file that was logged: its SHA-256 is " in checked.stdout
    assert f"the log says {hashlib.sha256(NOTES).hexdigest()}." in checked.stdout


def test_a_changed_tree_head_fails_its_signature(pack_folder):
    head = pack_folder / "log/head.txt"
    head.write_text(re.sub(r"size (\d+)", lambda m: f"size {int(m[1]) + 1}", head.read_text()))

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert "The tree head's signature does not verify with the firm's public key" in (
        checked.stdout
    )


@pytest.mark.parametrize("change", ["added", "missing"])
def test_files_added_or_missing_are_named(pack_folder, change):
    if change == "added":
        (pack_folder / "evidence" / "extra.pdf").write_bytes(b"%PDF-1.4 planted")
        expected = "FAILED: evidence/extra.pdf was added to the pack after it was made"
    else:
        (pack_folder / "dossier.html").unlink()
        expected = "FAILED: dossier.html is listed in MANIFEST.sha256 but missing from the pack."

    checked = verify(pack_folder)

    assert checked.returncode == 1
    assert expected in checked.stdout


def test_a_pack_with_a_timestamped_head(
    client, manager, acme, dispute, settings, tmp_path_factory, tmp_path
):
    folder = tmp_path_factory.mktemp("tsa")
    tsa.make_authority(folder)
    with tsa.running(tsa.Authority(folder)) as authority:
        settings.CANDOR_TSA_URL = authority.url
        settings.CANDOR_TSA_CA_FILE = str(authority.ca_file)
        pack = unzip(download(client, manager, acme), tmp_path / "pack")

    assert (pack / "log/head.tsr").is_file()
    assert (pack / "log/tsa-ca.pem").read_bytes() == authority.ca_file.read_bytes()
    checked = verify(pack)
    assert checked.returncode == 0, checked.stdout
    assert f"timestamped by {authority.url} at " in checked.stdout

    token = bytearray((pack / "log/head.tsr").read_bytes())
    token[-10] ^= 0xFF
    (pack / "log/head.tsr").write_bytes(bytes(token))
    rewrite_manifest(pack, "log/head.tsr")
    checked = verify(pack)
    assert checked.returncode == 1
    assert "The timestamp (log/head.tsr) is not a valid timestamp of log/head.txt" in (
        checked.stdout
    )


def test_entries_after_the_head_are_left_out_and_said_so(
    client, manager, advisor, acme, dispute, settings, tmp_path
):
    heads.tree_head_sign()
    comment_add(dispute, by=advisor, body="After the last head.")
    settings.CANDOR_LOG_SIGNING_KEY_FILE = tmp_path / "key-gone.pem"

    folder = unzip(download(client, manager, acme), tmp_path / "pack")

    checked = verify(folder)
    assert "1 more entry was logged after the tree head and cannot be proven" in checked.stdout
    assert "Note: No new tree head could be signed" in (folder / "README.txt").read_text()
    # Without the key, the manifest is not signed: said plainly, not passed over.
    assert checked.returncode == 1
    assert "MANIFEST.sha256.sig is missing" in checked.stdout


def test_the_pack_costs_no_query_per_entry(
    client, manager, advisor, acme, dispute, media, django_assert_max_num_queries
):
    for number in range(30):
        comment_add(dispute, by=advisor, body=f"Note {number}.")
    client.force_login(manager)
    with django_assert_max_num_queries(80):
        response = client.get(reverse("client-evidence-pack", args=[acme.pk]))
        b"".join(response.streaming_content)


def test_a_pack_from_a_damaged_log_says_so_and_does_not_verify(
    client, manager, advisor, acme, dispute, tmp_path
):
    heads.tree_head_sign()
    LogEntry.objects.order_by("index")[1].delete()  # the engagement's entry, say

    folder = unzip(download(client, manager, acme), tmp_path / "pack")

    assert "No new tree head could be signed: The log should hold" in (
        (folder / "README.txt").read_text()
    )
    checked = verify(folder)
    assert checked.returncode == 1
    assert "it is not in the firm's log as of the tree head" in checked.stdout
