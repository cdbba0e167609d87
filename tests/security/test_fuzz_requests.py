"""Bad input, tried (continued): list filters in the query string, bodies
that aren't what a form sends, evidence files and CSV imports.

The forms themselves are in test_fuzz.py; the API in test_fuzz_api.py.
"""

# ruff: noqa: F811 (the fixtures imported below are parameters of the tests)
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from urllib.parse import quote_plus

import pytest
from django.db import transaction
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from advisory.models import Client, EvidenceFile
from advisory.views.imports import SESSION_KEY
from tests.security.fuzzing import BY_KIND, FUZZ, PAYLOADS, anything, row_counts, unsafe_markup

# The forms' table and its fixtures (pytest finds fixtures imported by name).
from tests.security.test_fuzz import FORMS, _media, browsers, cast, refused  # noqa: F401

pytestmark = pytest.mark.django_db


def assert_answers_safely(response, what) -> None:
    assert response.status_code < 500, f"{response.status_code} for {what!r}"
    if response.get("Content-Type", "").startswith("text/html"):
        assert not unsafe_markup(response.content.decode()), f"unescaped {what!r}"


# --- List filters and paging (GET) -----------------------------------------------

LISTS = {
    "client-list": ["q", "team", "lead_advisor", "status", "kind", "band", "archived", "o"],
    "engagement-list": ["q", "client", "lead_advisor", "team", "status", "archived", "o"],
    "disagreement-list": [
        "q",
        "client",
        "engagement",
        "advisor",
        "team",
        "topic",
        "severity",
        "tone",
        "decision",
        "verdict",
        "occurred_after",
        "occurred_before",
        "state",
        "archived",
        "o",
    ],
    "health-board": ["q", "team", "lead_advisor", "sector", "band", "o"],
    "letgo-list": [],
    "notification-list": [],
    "dashboard": [],
    "advisor-breakdown": [],
}
# Every list also takes a page number, and a CSV export of the same rows.
COMMON = ["page", "format"]


@pytest.mark.parametrize("name", LISTS)
def test_hostile_filters_and_pages(name, cast, browsers):
    browser = browsers["admin"]
    url = reverse(name)

    @given(params=st.dictionaries(st.sampled_from(LISTS[name] + COMMON), anything, max_size=4))
    @FUZZ
    def run(params) -> None:
        if params.get("format") != "csv":
            params.pop("format", None)
        assert_answers_safely(browser.get(url, params), params)

    run()


@pytest.mark.parametrize("page", [str(2**63), str(2**31), "9" * 30, "-1", "0", "1e9", "NaN"])
@pytest.mark.parametrize("name", ["client-list", "disagreement-list", "notification-list"])
def test_a_page_number_beyond_any_list_shows_the_last_page(name, page, cast, browsers):
    response = browsers["admin"].get(reverse(name), {"page": page})
    assert response.status_code == 200


def test_a_history_page_beyond_the_end_shows_the_last_page(cast, browsers):
    url = reverse("client-history", args=[cast.acme.pk])
    assert browsers["manager"].get(url, {"page": str(2**64)}).status_code == 200


# --- Bodies a form doesn't send ---------------------------------------------------

# Text a browser can't produce: bytes that aren't UTF-8 (a lone surrogate
# encoded, an overlong form, a stray continuation byte) and a raw NUL.
BAD_BYTES = [b"%ED%A0%80", b"%C0%AF", b"%FF%FE", b"%80", b"\xff\xfe", b"%00", b"\x00"]


def urlencoded(data: dict, spoil: list[str], raw: bytes) -> bytes:
    """`data` as a form posts it, with `raw` spliced into each field in `spoil`."""
    parts = []
    for key, value in data.items():
        for one in value if isinstance(value, list) else [value]:
            encoded = quote_plus(str(one)).encode()
            if key in spoil:
                encoded = b"x" + raw + b"y" + encoded
            parts.append(key.encode() + b"=" + encoded)
    return b"&".join(parts)


WRONG_BODIES = {
    "application/json": lambda data: json.dumps(data, default=str),
    "text/plain": lambda data: "name=Globex",
    "application/xml": lambda data: "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><a/>",
    "multipart/form-data; boundary=nothing": lambda data: "--nothing--",
    "multipart/form-data": lambda data: "no boundary",
}


@pytest.mark.parametrize("form", FORMS, ids=str)
def test_bodies_a_browser_would_not_send(form, cast, browsers):
    """Invalid UTF-8 in every text field (a lone surrogate, an overlong form,
    stray bytes, NUL): answered, escaped, and stored only as valid text. A
    body of the wrong kind (JSON, XML, multipart without parts): the form
    sees no fields, so it is refused (or does what an empty form does)."""
    browser = browsers[form.user]
    url = form.url(cast)
    texts = [name for name, kind in form.fields.items() if kind == "text"]
    bodies = [
        ("application/x-www-form-urlencoded", urlencoded(form.valid(cast), texts, raw))
        for raw in (BAD_BYTES if texts else [])
    ]
    bodies += [(kind, body(form.valid(cast))) for kind, body in WRONG_BODIES.items()]
    for content_type, body in bodies:
        before = row_counts()
        with transaction.atomic():
            response = browser.post(url, body, content_type=content_type)
            assert_answers_safely(response, body[:200])
            if refused(response, form):
                assert row_counts() == before, body[:200]
            transaction.set_rollback(True)


# --- Evidence files ---------------------------------------------------------------

BOUNDARY = "fuzz7331boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def multipart(fields: dict[str, str], name: str, content: bytes, declared: str) -> bytes:
    """A multipart body as a hostile client sends it: the file name as typed
    (the test client's own uploads keep only a cleaned base name)."""
    out = []
    for key, value in fields.items():
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n')
        out.append(value.encode("utf-8", "surrogatepass") + b"\r\n")
    out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="')
    out.append(name.encode("utf-8", "surrogatepass"))
    out.append(f'"\r\nContent-Type: {declared}\r\n\r\n')
    out.append(content + b"\r\n")
    out.append(f"--{BOUNDARY}--\r\n")
    return b"".join(part.encode() if isinstance(part, str) else part for part in out)


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\drivers\\etc\\hosts.pdf",
    "/etc/passwd.pdf",
    "....//....//x.pdf",
    "%2e%2e%2fx.pdf",
    "report.pdf\x00.exe",
    "report.pdf.exe",
    "report.PDF",
    "report",
    ".pdf",
    "",
    " ",
    "CON.pdf",
    "a" * 300 + ".pdf",
    "ε.pdf",
    "report\r\nX-Injected: 1.pdf",
    *[p + ".pdf" for p in PAYLOADS[:6]],
]
CONTENTS = [
    PDF,
    PNG,
    b"",
    b"<html><script>alert(7331)</script></html>",
    b"plain text\n",
    b"text with a NUL\x00",
    b"\xff\xfe\xfd not utf-8",
    b"From: a@example.com\nSubject: x\n\nbody",
    b"MZ\x90\x00",
]
DECLARED = ["application/pdf", "text/html", "image/svg+xml", "application/octet-stream", ""]


def test_hostile_evidence_files(cast, browsers, settings):
    browser = browsers["advisor"]
    url = reverse("evidence-upload", args=[cast.dispute.pk])
    detail = cast.dispute.get_absolute_url()
    media = Path(settings.MEDIA_ROOT).resolve()

    @given(
        name=st.one_of(st.sampled_from(NAMES), BY_KIND["text"]),
        content=st.sampled_from(CONTENTS),
        declared=st.sampled_from(DECLARED),
        description=BY_KIND["text"],
    )
    @FUZZ
    def run(name, content, declared, description) -> None:
        body = multipart({"description": description}, name, content, declared)
        before = row_counts()
        what = (name, content[:10], declared, description[:30])
        with transaction.atomic():
            response = browser.post(url, body, content_type=MULTIPART)
            assert_answers_safely(response, what)
            if response.status_code == 302:
                evidence = EvidenceFile.objects.latest("pk")
                assert "/" not in evidence.original_name and "\\" not in evidence.original_name
                assert "\x00" not in evidence.original_name
                stored = Path(evidence.file.path).resolve()
                assert stored.is_relative_to(media), stored
                assert evidence.content_type in {"application/pdf", "image/png", "text/plain"} | {
                    "message/rfc822"
                }
                assert_answers_safely(browser.get(detail), what)
                download = browser.get(reverse("evidence-download", args=[evidence.pk]))
                assert download["X-Content-Type-Options"] == "nosniff"
                assert "\n" not in download["Content-Disposition"]
            else:
                assert response.status_code == 400, what
                assert row_counts() == before, what
                html = response.content.decode()
                # Errors on the form, or (a body no browser sends) the site's 400 page.
                assert any(
                    marker in html
                    for marker in ("invalid-feedback", "alert-danger", "could not be read")
                ), (what, html[:300])
            transaction.set_rollback(True)

    run()


def test_evidence_post_without_a_file(cast, browsers):
    before = row_counts()
    url = reverse("evidence-upload", args=[cast.dispute.pk])
    response = browsers["advisor"].post(url, {"description": "No file"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert row_counts() == before


# --- CSV import -------------------------------------------------------------------


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding, errors="surrogateescape")


CLIENT_HEADER = ["name", "kind", "sector", "contact_email", "lead_advisor", "client_since", "notes"]
ENGAGEMENT_HEADER = ["client", "title", "lead_advisor", "members", "status", "start_date", "fee"]


def test_hostile_csv_imports(cast, browsers):
    """Upload, preview and confirm files whose cells are hostile: never a
    server error, the preview escapes every cell, and a confirmed import
    stores the text (no NUL bytes) or nothing at all."""
    browser = browsers["manager"]

    @given(
        kind=st.sampled_from(["clients", "engagements"]),
        cells=st.lists(BY_KIND["text"], min_size=7, max_size=7),
        spoil=st.sets(st.integers(0, 6), min_size=1, max_size=3),
        raw=st.sampled_from([None, b"\xff\xfe", b"\x00", b"\r", b'"']),
    )
    @FUZZ
    def run(kind, cells, spoil, raw) -> None:
        if kind == "clients":
            header = CLIENT_HEADER
            row = ["Fuzz Ltd", "organization", "Retail", "a@example.com", "alice", "2020-01-01", ""]
        else:
            header = ENGAGEMENT_HEADER
            row = ["Acme Holdings", "Fuzz job", "alice", "alice", "active", "2024-01-01", "100"]
        for i in spoil:
            row[i] = cells[i][:2000]
        data = csv_bytes([header, row])
        if raw is not None:
            data = data.replace(b"Fuzz", b"Fu" + raw + b"zz", 1)
        what = (kind, row, raw)
        before = row_counts()
        with transaction.atomic():
            body = multipart({"kind": kind}, "..\\..\\x.csv", data, "text/csv")
            response = browser.post(reverse("import-upload"), body, content_type=MULTIPART)
            assert_answers_safely(response, what)
            if response.status_code != 302:
                assert response.status_code == 400
                assert row_counts() == before
            else:
                assert browser.session[SESSION_KEY]["filename"] == "x.csv"
                assert_answers_safely(browser.get(reverse("import-preview")), what)
                confirmed = browser.post(reverse("import-confirm"))
                assert_answers_safely(confirmed, what)
                page = browser.get(confirmed["Location"])
                assert_answers_safely(page, what)
                names = Client.objects.values_list("name", flat=True)
                assert not any("\x00" in name for name in names)
            transaction.set_rollback(True)

    run()


@pytest.mark.parametrize(
    "name, kept",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\report.pdf", "report.pdf"),
        ("/etc/report.pdf", "report.pdf"),
        ("<b>bold</b>.pdf", "b>.pdf"),
    ],
)
def test_a_path_in_an_evidence_file_name_is_dropped(name, kept, cast, browsers, settings):
    url = reverse("evidence-upload", args=[cast.dispute.pk])
    body = multipart({"description": PAYLOADS[1]}, name, PDF, "text/html")
    response = browsers["advisor"].post(url, body, content_type=MULTIPART)
    assert response.status_code == 302
    evidence = EvidenceFile.objects.get()
    assert evidence.original_name == kept
    assert evidence.content_type == "application/pdf"  # from the content, not the header
    assert Path(evidence.file.path).resolve().is_relative_to(Path(settings.MEDIA_ROOT).resolve())
    assert_answers_safely(browsers["advisor"].get(cast.dispute.get_absolute_url()), name)


# --- Regressions: what these tests found ------------------------------------------


@pytest.mark.parametrize("target", ["dashboard", "client-list", "foo", "/ok\n", "javascript:x"])
def test_a_next_that_is_no_path_goes_back_to_the_list(target, browsers):
    """redirect() took a bare word for a view's name: NoReverseMatch, a 500."""
    response = browsers["advisor"].post(reverse("notification-read-all"), {"next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("notification-list")


def test_an_id_no_column_holds_is_an_invalid_choice(cast, browsers):
    """Django's __in lookup passed 2**63 to SQLite (OverflowError, a 500)."""
    before = row_counts()
    data = {"reason": "other", "justification": "Enough.", "evidence": [str(2**63)]}
    response = browsers["manager"].post(reverse("letgo-propose", args=[cast.acme.pk]), data)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert row_counts() == before


def test_a_garbled_version_is_reported_on_the_form(cast, browsers):
    """An error on the hidden version field used to show nowhere: a silent 400."""
    data = {"version": "<b>x</b>", "verdict": "mixed", "outcome": "o"}
    response = browsers["advisor"].post(
        reverse("disagreement-outcome", args=[cast.reviewed.pk]), data
    )
    assert response.status_code == 400
    assert "reload the page and try again" in response.content.decode()


# Digits str.isdigit() accepts and int() refuses, and ids no column holds.
ODD_IDS = ["²", "٣", "9" * 5000, str(2**63), "-" + "9" * 25]


@pytest.mark.parametrize("value", ODD_IDS)
@pytest.mark.parametrize(
    "name, key",
    [
        ("disagreement-list", "client"),
        ("disagreement-list", "engagement"),
        ("disagreement-create", "client"),
        ("disagreement-create", "engagement"),
        ("engagement-create", "client"),
    ],
)
def test_an_odd_id_in_a_query_string_is_ignored_or_refused(name, key, value, cast, browsers):
    response = browsers["admin"].get(reverse(name), {key: value})
    assert response.status_code in (200, 400, 404)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_version_in_a_post_is_a_conflict_not_a_crash(value, cast, browsers):
    before = row_counts()
    review = browsers["manager"].post(
        reverse("disagreement-review", args=[cast.dispute.pk]), {"version": value}
    )
    complete = browsers["admin"].post(
        reverse("letgo-complete", args=[cast.approved.pk]), {"version": value}
    )
    assert review.status_code == complete.status_code == 302
    assert row_counts() == before


@pytest.mark.parametrize("member", ["-" + str(2**63 + 1), "+" + str(2**63), "9" * 5000])
def test_a_member_id_no_column_holds_is_an_invalid_choice(member, cast, browsers):
    engagement = cast.engagement
    data = {
        "client": engagement.client_id,
        "title": engagement.title,
        "service_line": engagement.service_line,
        "lead_advisor": engagement.lead_advisor_id,
        "status": engagement.status,
        "members": [member],
        "version": engagement.version,
    }
    before = row_counts()
    response = browsers["manager"].post(reverse("engagement-edit", args=[engagement.pk]), data)
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert row_counts() == before


@pytest.mark.parametrize("value", [*ODD_IDS, "-1", str(2**64)])
@pytest.mark.parametrize("key", ["client", "engagement", "advisor", "team"])
def test_an_odd_id_in_a_filter_is_an_invalid_choice(key, value, cast, browsers):
    """ModelChoiceFilter asked the database for any number (SQLite: OverflowError)."""
    page = browsers["admin"].get(reverse("disagreement-list"), {key: value})
    api = browsers["admin"].get("/api/disagreements/", {key: value})
    assert page.status_code == 200
    assert "Select a valid choice" in page.content.decode()
    assert api.status_code == 400
