"""The relationship dossier (a printable page) and the evidence pack (a ZIP)."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from advisory.evidence.dossier import FORMULA_PREFIXES, _cell, evidence_pack_path
from advisory.evidence.files import evidence_attach
from advisory.health.selectors import client_health
from advisory.models import Amendment, Client, Comment, Disagreement, HealthSnapshot, LetGoCase
from tests.factories import DisagreementFactory, UserFactory

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
CSV_FILES = [
    "client.csv",
    "engagements.csv",
    "disagreements.csv",
    "amendments.csv",
    "comments.csv",
    "evidence.csv",
    "health.csv",
    "band_overrides.csv",
    "letgo_cases.csv",
]
DAYS = datetime.timedelta(days=1)


@pytest.fixture
def overridden(acme_engagement, manager) -> Disagreement:
    """Reviewed, amended, proceeded against advice with a signed acknowledgment,
    and the advice vindicated: every part of the story filled in."""
    today = timezone.localdate()
    d = DisagreementFactory(
        engagement=acme_engagement,
        title="Year-end stock count skipped",
        occurred_on=today - 40 * DAYS,
        client_request="Skip the count, we trust the warehouse.",
        recommendation="Count the stock; the auditors need it.",
        severity=Disagreement.Severity.HIGH,
        decision=Disagreement.Decision.PROCEEDED,
        decided_on=today - 38 * DAYS,
        risk_acknowledged=True,
        acknowledged_on=today - 37 * DAYS,
        acknowledgment_method=Disagreement.AcknowledgmentMethod.SIGNED_LETTER,
        client_words="We understand the accounts may be qualified and accept it.",
        outcome="The accounts were qualified on stock.",
        verdict=Disagreement.Verdict.ADVICE_VINDICATED,
        outcome_recorded_on=today - 5 * DAYS,
        reviewed_at=timezone.now() - 30 * DAYS,
        reviewed_by=manager,
    )
    Amendment.objects.create(
        disagreement=d,
        field="client_request",
        old_value="Skip the count.",
        new_value=d.client_request,
        reason="The client's words were cut short.",
        amended_by=manager,
    )
    Comment.objects.create(disagreement=d, author=manager, body="Escalate if it recurs.")
    return d


@pytest.fixture
def letgo(acme, overridden, manager) -> LetGoCase:
    case = LetGoCase.objects.create(
        client=acme,
        proposed_by=manager,
        reason=LetGoCase.Reason.OVERRIDDEN_ADVICE,
        justification="They override every audit recommendation.",
        letter="Dear Acme, we will cease to act for you.",
        check_conflicts=True,
    )
    case.evidence.add(overridden)
    return case


def dossier(client, acme):
    return client.get(reverse("client-dossier", args=[acme.pk]))


def download(client, acme) -> zipfile.ZipFile:
    response = client.get(reverse("client-evidence-pack", args=[acme.pk]))
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def read_csv(pack: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    raw = pack.read(name)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for spreadsheets
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


# --- Who may see it -------------------------------------------------------------


@pytest.mark.parametrize("who", ["advisor", "manager", "admin"])
def test_the_lead_advisor_the_teams_manager_and_an_admin_see_the_dossier(
    client, request, acme, dispute, who
):
    client.force_login(request.getfixturevalue(who))
    response = dossier(client, acme)
    assert response.status_code == 200
    assert "advisory/dossier.html" in [t.name for t in response.templates]
    assert response.context["client"] == acme


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_an_outsider_gets_404(client, other_advisor, acme, dispute, name):
    client.force_login(other_advisor)
    assert client.get(reverse(name, args=[acme.pk])).status_code == 404


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_an_unknown_client_is_404(client, admin, name):
    client.force_login(admin)
    assert client.get(reverse(name, args=[999_999])).status_code == 404


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_anonymous_users_are_sent_to_log_in(client, acme, name):
    response = client.get(reverse(name, args=[acme.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_a_user_without_a_role_gets_403(client, acme, name):
    client.force_login(UserFactory(username="nobody", role=""))
    assert client.get(reverse(name, args=[acme.pk])).status_code == 403


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_post_is_not_allowed(client, advisor, acme, name):
    client.force_login(advisor)
    assert client.post(reverse(name, args=[acme.pk])).status_code == 405


# --- The dossier ----------------------------------------------------------------


def test_it_tells_each_disagreement_in_full(client, advisor, acme, overridden, letgo):
    client.force_login(advisor)
    html = dossier(client, acme).content.decode()

    assert "Skip the count, we trust the warehouse." in html  # request
    assert "Count the stock; the auditors need it." in html  # recommendation
    assert "Without it the accounts may be qualified." in html  # rationale
    assert "Proceeded against advice" in html
    assert "by signed letter" in html
    assert "We understand the accounts may be qualified and accept it." in html  # own words
    assert "The accounts were qualified on stock." in html  # outcome
    assert "Advice vindicated" in html  # verdict
    assert "Skip the count." in html  # the amendment's original, beside the current text
    assert "The client&#x27;s words were cut short." in html
    assert "Escalate if it recurs." in html  # comment
    assert "They override every audit recommendation." in html  # let-go justification
    assert "Dear Acme, we will cease to act for you." in html  # letter
    assert "✓ Done: Duty-to-report and conflict obligations consulted" in html  # checklist
    assert "✗ Not done: Another firm suggested" in html
    assert f'href="#d-{overridden.pk}"' in html  # the case links its evidence


def test_disagreements_run_oldest_first(client, advisor, acme, acme_engagement):
    today = timezone.localdate()
    DisagreementFactory(engagement=acme_engagement, title="Newest", occurred_on=today)
    DisagreementFactory(engagement=acme_engagement, title="Oldest", occurred_on=today - 90 * DAYS)
    DisagreementFactory(engagement=acme_engagement, title="Middle", occurred_on=today - 9 * DAYS)
    client.force_login(advisor)
    response = dossier(client, acme)
    titles = [e.disagreement.title for e in response.context["entries"]]
    assert titles == ["Oldest", "Middle", "Newest"]
    html = response.content.decode()
    story = html[html.index('id="disagreements"') :]
    assert (
        story.index("1. <a") < story.index("Oldest") < story.index("Middle") < story.index("Newest")
    )


def test_it_shows_the_health_history_and_the_score_chart(client, advisor, acme, dispute):
    HealthSnapshot.objects.create(
        client=acme, date=datetime.date(2025, 3, 1), score=81, band="healthy"
    )
    HealthSnapshot.objects.create(
        client=acme, date=datetime.date(2025, 9, 1), score=55, band="strained"
    )
    client.force_login(advisor)
    response = dossier(client, acme)
    html = response.content.decode()

    assert "1 Mar 2025" in html and "81" in html and "Healthy" in html
    assert "1 Sep 2025" in html and "55" in html and "Strained" in html
    assert 'data-chart="score"' in html
    assert '<script id="score-chart" type="application/json">' in html
    assert "js/charts.js" in html
    assert "Why this score" in html
    assert [s.score for s in response.context["snapshots"]] == [81, 55]


def test_text_is_escaped(client, advisor, acme, acme_engagement):
    DisagreementFactory(
        engagement=acme_engagement,
        title="<script>alert('title')</script>",
        client_request="<script>alert('request')</script>",
    )
    client.force_login(advisor)
    html = dossier(client, acme).content.decode()
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;request&#x27;)&lt;/script&gt;" in html


def test_the_buttons_are_left_out_of_print(client, advisor, acme, dispute):
    client.force_login(advisor)
    html = dossier(client, acme).content.decode()
    pack_url = reverse("client-evidence-pack", args=[acme.pk])
    assert "Download evidence pack (ZIP)" in html
    toolbar = html[html.index('<div class="d-print-none') : html.index('<article class="dossier"')]
    assert pack_url in toolbar
    assert "Print" in toolbar


def test_the_print_stylesheet_hides_navigation(client):
    from django.contrib.staticfiles import finders

    css = Path(finders.find("css/print.css")).read_text(encoding="utf-8")
    for selector in ("nav", "footer", ".btn", "form", ".d-print-none", ".dossier-item"):
        assert selector in css
    assert "</" not in css


def test_a_client_let_go_keeps_its_dossier_and_pack(client, advisor, acme, overridden, media):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    client.force_login(advisor)
    response = dossier(client, acme)
    assert response.status_code == 200
    assert "This client has been let go" in response.content.decode()
    pack = download(client, acme)
    records = json.loads(pack.read("client.json"))
    assert records["client"]["status"] == "let_go"
    assert [d["id"] for d in records["disagreements"]] == [overridden.pk]


def make_disagreements(engagement, by, count: int) -> None:
    today = timezone.localdate()
    for i in range(count):
        d = DisagreementFactory(engagement=engagement, occurred_on=today - (i % 300) * DAYS)
        Amendment.objects.create(
            disagreement=d,
            field="recommendation",
            old_value="Before",
            new_value=d.recommendation,
            reason="Typo",
            amended_by=by,
        )
        Comment.objects.create(disagreement=d, author=by, body=f"Note {i}")
        evidence_attach(d, by=by, upload=SimpleUploadedFile(f"letter-{i}.pdf", PDF))


@pytest.mark.parametrize("name", ["client-dossier", "client-dossier-pdf", "client-evidence-pack"])
def test_the_query_count_does_not_grow_with_the_log(
    client, admin, acme, acme_engagement, letgo, media, name
):
    client.force_login(admin)
    url = reverse(name, args=[acme.pk])
    make_disagreements(acme_engagement, admin, 3)
    client.get(url)  # warm up (session, permissions, content types)
    # A pack signs a tree head when the log has grown since the last one:
    # make each measured pack sign one.
    Comment.objects.create(
        disagreement=acme_engagement.disagreements.first(), author=admin, body="1"
    )
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
        if name == "client-evidence-pack":
            b"".join(response.streaming_content)
    make_disagreements(acme_engagement, admin, 27)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
        if name == "client-evidence-pack":
            b"".join(response.streaming_content)
    assert response.status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- The evidence pack -----------------------------------------------------------


@pytest.fixture
def pack(client, advisor, acme, acme_engagement, overridden, letgo, media):
    acme_engagement.fee = Decimal("1500.00")
    acme_engagement.save()
    acme_engagement.members.add(advisor)
    formula = DisagreementFactory(
        engagement=acme_engagement,
        title='=HYPERLINK("http://evil.example","click")',
        client_request="+1 more thing",
        occurred_on=timezone.localdate() - 2 * DAYS,
    )
    evidence = evidence_attach(
        overridden, by=advisor, upload=SimpleUploadedFile("signed letter.pdf", PDF)
    )
    HealthSnapshot.objects.create(
        client=acme, date=datetime.date(2025, 9, 1), score=55, band="strained"
    )
    client.force_login(advisor)
    return {"zip": download(client, acme), "evidence": evidence, "formula": formula}


def test_the_pack_is_a_zip_download(client, advisor, acme, dispute, media):
    client.force_login(advisor)
    response = client.get(reverse("client-evidence-pack", args=[acme.pk]))
    day = timezone.localdate().isoformat()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        f'attachment; filename="candor-acme-holdings-{day}.zip"'
    )
    assert response["Cache-Control"] == "private, no-store"
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    assert zipfile.ZipFile(io.BytesIO(body)).testzip() is None


def test_the_pack_holds_records_dossier_evidence_and_manifest(pack):
    names = pack["zip"].namelist()
    evidence = pack["evidence"]
    assert set(names) == {
        "client.json",
        *CSV_FILES,
        "dossier.html",
        "dossier.pdf",
        f"evidence/{evidence.pk}-signed letter.pdf",
        # The client's part of the log and how to check it (test_pack_verify.py).
        "log/entries.jsonl",
        "log/head.txt",
        "log/head.sig",
        "log/firm-public-key.pem",
        "log/pack.json",
        "verify.py",
        "README.txt",
        "MANIFEST.sha256",
        "MANIFEST.sha256.sig",
    }
    assert names[-2:] == ["MANIFEST.sha256", "MANIFEST.sha256.sig"]


def test_client_json_has_every_record(pack, acme, overridden, letgo):
    records = json.loads(pack["zip"].read("client.json"))

    assert records["client"]["name"] == "Acme Holdings"
    assert records["client"]["lead_advisor"] == str(acme.lead_advisor)
    assert records["client"]["team"] == "Corporate Advisory"
    [engagement] = records["engagements"]
    assert engagement["fee"] == "1500.00"  # Decimal as text
    assert engagement["start_date"] == "2025-01-06"  # ISO dates
    assert engagement["members"] == [str(acme.lead_advisor)]
    story = next(d for d in records["disagreements"] if d["id"] == overridden.pk)
    assert story["client_request"] == "Skip the count, we trust the warehouse."
    assert story["recommendation"] == "Count the stock; the auditors need it."
    assert story["decision"] == "proceeded"
    assert story["risk_acknowledged"] is True
    assert story["acknowledgment_method"] == "signed_letter"
    assert story["client_words"] == "We understand the accounts may be qualified and accept it."
    assert story["acknowledged_on"] == overridden.acknowledged_on.isoformat()
    assert story["outcome"] == "The accounts were qualified on stock."
    assert story["verdict"] == "advice_vindicated"
    assert datetime.datetime.fromisoformat(story["reviewed_at"]) == overridden.reviewed_at
    [amendment] = records["amendments"]
    assert amendment["old_value"] == "Skip the count."
    assert amendment["reason"] == "The client's words were cut short."
    assert [c["body"] for c in records["comments"]] == ["Escalate if it recurs."]
    [evidence] = records["evidence_files"]
    assert evidence["original_name"] == "signed letter.pdf"
    assert evidence["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert evidence["pack_path"] == evidence_pack_path(pack["evidence"])
    assert evidence["pack_status"] == "included"
    assert [s["score"] for s in records["health_snapshots"]][:1] == [55]
    [case] = records["letgo_cases"]
    assert case["id"] == letgo.pk
    assert case["evidence_ids"] == [overridden.pk]
    assert case["letter"] == "Dear Acme, we will cease to act for you."
    assert case["check_conflicts"] is True
    now, _then = client_health(acme)
    assert records["health_now"]["score"] == now.score
    assert overridden.pk in [c["disagreement_id"] for c in records["health_now"]["contributors"]]


def test_the_csvs_have_a_bom_and_inert_formulas(pack):
    rows = read_csv(pack["zip"], "disagreements.csv")
    formula = next(r for r in rows if r["id"] == str(pack["formula"].pk))
    assert formula["title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert formula["client_request"] == "'+1 more thing"
    for name in CSV_FILES:
        rows = read_csv(pack["zip"], name)
        for row in rows:
            for value in row.values():
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (name, value)
    [client_row] = read_csv(pack["zip"], "client.csv")
    assert client_row["name"] == "Acme Holdings"
    [case] = read_csv(pack["zip"], "letgo_cases.csv")
    assert case["check_conflicts"] == "true"


def test_cells_are_neutralised_but_numbers_are_not():
    for prefix in FORMULA_PREFIXES:
        assert _cell(f"{prefix}1+1") == f"'{prefix}1+1"
    assert _cell(-5) == "-5"
    assert _cell(None) == ""
    assert _cell(["=a", "b"]) == "'=a; b"
    assert _cell(datetime.date(2026, 1, 2)) == "2026-01-02"


def test_the_evidence_files_are_the_bytes_uploaded(pack):
    assert pack["zip"].read(evidence_pack_path(pack["evidence"])) == PDF


def test_the_dossier_in_the_pack_is_self_contained(pack):
    html = pack["zip"].read("dossier.html").decode()
    assert html.startswith("<!doctype html>")
    assert "<style>" in html and ".dossier-item" in html  # print.css inlined
    assert "<script" not in html
    assert "/static/" not in html
    assert "<nav" not in html
    assert "Skip the count, we trust the warehouse." in html
    assert "We understand the accounts may be qualified and accept it." in html
    assert "&lt;" not in html.split("</style>")[0]  # the stylesheet is not escaped


def test_the_manifest_lists_every_other_member(pack):
    archive = pack["zip"]
    lines = archive.read("MANIFEST.sha256").decode().splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(archive.namelist()) - {"MANIFEST.sha256", "MANIFEST.sha256.sig"}
    assert len(lines) == len(listed)
    for name, digest in listed.items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_sha256sum_checks_the_unzipped_pack(pack, tmp_path):
    target = tmp_path / "unzipped"
    pack["zip"].extractall(target)
    result = subprocess.run(
        ["sha256sum", "-c", "MANIFEST.sha256"], cwd=target, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (target / "client.json").write_text("{}")
    tampered = subprocess.run(
        ["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=target, capture_output=True
    )
    assert tampered.returncode != 0


def test_a_missing_evidence_file_is_reported_not_fatal(client, advisor, acme, overridden, media):
    evidence = evidence_attach(overridden, by=advisor, upload=SimpleUploadedFile("letter.pdf", PDF))
    evidence.file.storage.delete(evidence.file.name)
    client.force_login(advisor)
    archive = download(client, acme)
    [row] = json.loads(archive.read("client.json"))["evidence_files"]
    assert row["pack_path"] is None
    assert row["pack_status"] == "missing from storage"
    assert not [n for n in archive.namelist() if n.startswith("evidence/")]
