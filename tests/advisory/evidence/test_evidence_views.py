"""Evidence files: upload on a disagreement, content checks, checked download."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.roles import Role
from advisory.evidence import files as evidence_module
from advisory.evidence.files import (
    ALLOWED_TYPES_MESSAGE,
    MAX_EVIDENCE_BYTES,
    clean_name,
    evidence_attach,
    evidence_content_type,
    format_size,
)
from advisory.forms import EvidenceForm
from advisory.models import Client, EvidenceFile

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (
    b"\x89PNG\r\n\x1a\n"
    b"\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
MSG = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
EML = (
    b"Received: from mail.client.example by mx.example.com; Mon, 2 Mar 2026 09:00:00 +0000\r\n"
    b"From: Pat Contact <pat@client.example>\r\n"
    b"To: Alice <alice@example.com>\r\n"
    b"Subject: Stock count\r\n"
    b"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
    b"Message-ID: <123@client.example>\r\n"
    b"\r\n"
    b"We will skip the stock count this year, whatever you say.\r\n"
)
TXT = "Call notes: the client insists on skipping the count. Café.\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64)
HTML = b"<!doctype html><html><script>alert(1)</script></html>"

ALLOWED = [
    ("engagement-letter.pdf", PDF, "application/pdf"),
    ("whiteboard.png", PNG, "image/png"),
    ("site-visit.jpg", JPEG, "image/jpeg"),
    ("site-visit.JPEG", JPEG, "image/jpeg"),
    ("reply.msg", MSG, "application/vnd.ms-outlook"),
    ("reply.eml", EML, "message/rfc822"),
    ("call-notes.txt", TXT, "text/plain"),
    ("call-notes-bom.txt", b"\xef\xbb\xbf" + TXT, "text/plain"),
]


def stored_files(media) -> list:
    return [path for path in media.rglob("*") if path.is_file()]


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def post(client, dispute, name: str, content: bytes, **data):
    url = reverse("evidence-upload", args=[dispute.pk])
    return client.post(url, {"file": upload(name, content), **data})


def attach(dispute, by, name: str = "notes.txt", content: bytes = TXT) -> EvidenceFile:
    return evidence_attach(dispute, by=by, upload=upload(name, content))


# --- Upload ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "content_type"), ALLOWED)
def test_it_attaches_each_allowed_type(
    client, advisor, dispute, media, name, content, content_type
):
    client.force_login(advisor)
    response = post(client, dispute, name, content, description="What the client said")

    assert response.status_code == 302
    assert response.url == reverse("disagreement-detail", args=[dispute.pk]) + "#evidence"
    evidence = EvidenceFile.objects.get()
    assert evidence.disagreement == dispute
    assert evidence.original_name == name
    assert evidence.content_type == content_type
    assert evidence.size == len(content)
    assert evidence.sha256 == hashlib.sha256(content).hexdigest()
    assert evidence.description == "What the client said"
    assert evidence.uploaded_by == advisor
    [stored] = stored_files(media)
    assert stored.read_bytes() == content
    assert name not in str(stored)  # stored under a random name
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Evidence file “{name}” attached."
    ]


def test_the_browser_sent_content_type_is_ignored(client, advisor, dispute, media):
    client.force_login(advisor)
    url = reverse("evidence-upload", args=[dispute.pk])
    client.post(url, {"file": upload("scan.png", PNG, content_type="text/html")})
    assert EvidenceFile.objects.get().content_type == "image/png"


def test_the_history_records_who_attached_it(advisor, dispute, media):
    evidence = attach(dispute, advisor)
    [entry] = evidence.history.all()
    assert entry.history_type == "+"
    assert entry.history_user == advisor


def test_a_manager_of_the_team_may_attach(client, manager, dispute, media):
    client.force_login(manager)
    assert post(client, dispute, "notes.txt", TXT).status_code == 302
    assert EvidenceFile.objects.get().uploaded_by == manager


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("setup.exe", EXE),
        ("invoice.pdf", EXE),
        ("invoice.pdf", HTML),
        ("page.html", HTML),
        ("notes.txt", HTML.replace(b"<html>", b"<html>\x00")),
        ("notes.txt", "Café".encode("latin-1")),
        ("letter.doc", MSG),
        ("reply.eml", b"Dear Alice,\r\n\r\nWe will skip the count.\r\n"),
        ("reply.eml", b"Subject: Stock\r\n\r\nBody\x00with a NUL\r\n"),
    ],
)
def test_it_refuses_a_wrong_type(client, advisor, dispute, media, name, content):
    client.force_login(advisor)
    response = post(client, dispute, name, content)

    assert response.status_code == 400
    assert ALLOWED_TYPES_MESSAGE in response.context["form"].errors["file"][0]
    assert ALLOWED_TYPES_MESSAGE in response.content.decode()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("name", "content", "detected"),
    [
        ("report.pdf", PNG, "a PNG image"),
        ("photo.png", PDF, "a PDF document"),
        ("notes.txt", JPEG, "a JPEG image"),
        ("report", PDF, "a PDF document"),
    ],
)
def test_it_refuses_a_name_that_disagrees_with_the_content(
    client, advisor, dispute, media, name, content, detected
):
    client.force_login(advisor)
    response = post(client, dispute, name, content)

    assert response.status_code == 400
    [error] = response.context["form"].errors["file"]
    assert f"This file is {detected} but" in error
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


def test_it_refuses_an_oversized_file(client, advisor, dispute, media, monkeypatch):
    monkeypatch.setattr(evidence_module, "MAX_EVIDENCE_BYTES", 1024)
    client.force_login(advisor)
    response = post(client, dispute, "notes.txt", b"x" * 2000)

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "Files can be at most 1 KB; this one is 2 KB."
    ]
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


def test_the_size_message_names_both_sizes():
    big = upload("scan.pdf", PDF)
    big.size = round(12.3 * 1024 * 1024)
    with pytest.raises(ValidationError) as error:
        evidence_content_type(big)
    assert error.value.messages == ["Files can be at most 10 MB; this one is 12.3 MB."]


def test_a_file_one_byte_over_the_limit_is_refused():
    just_over = upload("scan.pdf", PDF)
    just_over.size = MAX_EVIDENCE_BYTES + 1
    with pytest.raises(ValidationError) as error:
        evidence_content_type(just_over)
    assert error.value.messages == ["Files can be at most 10 MB; this one is 10.1 MB."]


def test_it_refuses_an_empty_file(client, advisor, dispute, media):
    client.force_login(advisor)
    response = post(client, dispute, "notes.txt", b"")

    assert response.status_code == 400
    assert response.context["form"].errors["file"] == ["The file is empty."]
    assert "The file is empty." in response.content.decode()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


def test_it_refuses_a_post_without_a_file(client, advisor, dispute, media):
    client.force_login(advisor)
    response = client.post(reverse("evidence-upload", args=[dispute.pk]), {"description": "x"})
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == ["This field is required."]


def test_the_error_page_keeps_the_multipart_form(client, advisor, dispute, media):
    client.force_login(advisor)
    page = post(client, dispute, "setup.exe", EXE).content.decode()

    assert f"Attach evidence to “{dispute.title}”" in page
    assert 'enctype="multipart/form-data"' in page
    assert f'action="{reverse("evidence-upload", args=[dispute.pk])}"' in page
    assert 'accept=".pdf,.png,.jpg,.jpeg,.eml,.msg,.txt"' in page
    assert "is-invalid" in page
    assert ">Upload</button>" in page


def test_it_refuses_evidence_for_a_let_go_client(client, advisor, acme, dispute, media):
    Client.objects.filter(pk=acme.pk).update(status=Client.Status.LET_GO)
    client.force_login(advisor)
    response = post(client, dispute, "notes.txt", TXT)

    assert response.status_code == 400
    assert "has been let go: its records are read-only" in response.content.decode()
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


def test_an_outsider_gets_404_on_upload(client, other_advisor, dispute, media):
    client.force_login(other_advisor)
    assert post(client, dispute, "notes.txt", TXT).status_code == 404
    assert not EvidenceFile.objects.exists()
    assert stored_files(media) == []


def test_a_user_without_the_permission_gets_403(client, advisor, dispute, media):
    permission = Permission.objects.get(codename="add_evidencefile")
    Group.objects.get(name=Role.ADVISOR).permissions.remove(permission)
    client.force_login(advisor)
    assert post(client, dispute, "notes.txt", TXT).status_code == 403
    assert not EvidenceFile.objects.exists()


def test_get_on_upload_is_not_allowed(client, advisor, dispute):
    client.force_login(advisor)
    assert client.get(reverse("evidence-upload", args=[dispute.pk])).status_code == 405


def test_anonymous_visitors_are_sent_to_log_in(client, dispute, media):
    response = post(client, dispute, "notes.txt", TXT)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert not EvidenceFile.objects.exists()


# --- The service ---------------------------------------------------------------


def test_the_service_stores_the_base_name_only(advisor, dispute, media):
    evidence = attach(dispute, advisor, name="C:\\Users\\alice\\Desktop\\notes.txt")
    assert evidence.original_name == "notes.txt"


def test_the_service_refuses_an_outsider(other_advisor, dispute, media):
    with pytest.raises(PermissionDenied):
        attach(dispute, other_advisor)
    assert stored_files(media) == []


def test_the_service_raises_file_errors_against_the_field(advisor, dispute, media):
    with pytest.raises(ValidationError) as error:
        attach(dispute, advisor, name="invoice.pdf", content=HTML)
    assert error.value.message_dict == {"file": [ALLOWED_TYPES_MESSAGE]}


def test_a_failed_database_write_leaves_no_file(advisor, dispute, media, monkeypatch):
    def fail(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(EvidenceFile, "save", fail)
    with pytest.raises(DatabaseError):
        attach(dispute, advisor)
    assert stored_files(media) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("a\\b\\c.pdf", "c.pdf"),
        ("bad\r\nname.txt", "badname.txt"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
    ],
)
def test_clean_name(name, expected):
    assert clean_name(name) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [(512, "512 bytes"), (2048, "2 KB"), (10 * 1024 * 1024, "10 MB"), (1_572_864, "1.5 MB")],
)
def test_format_size(size, expected):
    assert format_size(size) == expected


# --- Download ------------------------------------------------------------------


def test_the_download_returns_the_file_as_an_attachment(client, advisor, dispute, media):
    evidence = attach(dispute, advisor, name="reply.eml", content=EML)
    client.force_login(advisor)
    response = client.get(reverse("evidence-download", args=[evidence.pk]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == EML
    assert response["Content-Disposition"] == 'attachment; filename="reply.eml"'
    assert response["Content-Type"] == "message/rfc822"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_the_download_keeps_a_non_ascii_name(client, advisor, dispute, media):
    evidence = attach(dispute, advisor, name="Bestätigung.pdf", content=PDF)
    client.force_login(advisor)
    response = client.get(reverse("evidence-download", args=[evidence.pk]))
    assert response["Content-Disposition"] == ("attachment; filename*=utf-8''Best%C3%A4tigung.pdf")


def test_a_file_missing_from_storage_answers_410_with_a_page_and_a_log_line(
    client, advisor, dispute, media, caplog
):
    evidence = attach(dispute, advisor, name="reply.eml", content=EML)
    (media / evidence.file.name).unlink()
    client.force_login(advisor)
    client.raise_request_exception = False

    response = client.get(reverse("evidence-download", args=[evidence.pk]))

    assert response.status_code == 410
    page = response.content.decode()
    assert "This evidence file is missing" in page
    assert "reply.eml" in page
    assert dispute.get_absolute_url() in page
    assert (
        f"Evidence file {evidence.pk} (disagreement {dispute.pk}, stored as {evidence.file.name})"
        ": missing from storage." in caplog.text
    )
    assert EvidenceFile.objects.filter(pk=evidence.pk).exists()


def test_evidence_links_to_its_download(advisor, dispute, media):
    evidence = attach(dispute, advisor)
    assert evidence.get_absolute_url() == reverse("evidence-download", args=[evidence.pk])


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_of_the_team_and_admins_may_download(
    client, request, advisor, dispute, media, role
):
    evidence = attach(dispute, advisor)
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("evidence-download", args=[evidence.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == TXT


def test_an_outsider_gets_404_on_download(client, advisor, other_advisor, dispute, media):
    evidence = attach(dispute, advisor)
    client.force_login(other_advisor)
    assert client.get(reverse("evidence-download", args=[evidence.pk])).status_code == 404


def test_anonymous_visitors_cannot_download(client, advisor, dispute, media):
    evidence = attach(dispute, advisor)
    response = client.get(reverse("evidence-download", args=[evidence.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- The include on the disagreement page ---------------------------------------


def render_section(dispute, *, can_attach: bool) -> str:
    return render_to_string(
        "advisory/_evidence.html",
        {
            "disagreement": dispute,
            "evidence_files": dispute.evidence.select_related("uploaded_by"),
            "evidence_form": EvidenceForm(),
            "can_attach": can_attach,
        },
    )


def test_the_section_says_when_there_is_no_evidence(dispute):
    page = render_section(dispute, can_attach=True)
    assert 'id="evidence"' in page
    assert "No evidence attached yet." in page
    assert f'action="{reverse("evidence-upload", args=[dispute.pk])}"' in page
    assert 'enctype="multipart/form-data"' in page
    assert "Evidence file" in page
    assert ">Upload</button>" in page


def test_the_section_lists_the_files(advisor, dispute, media):
    evidence = attach(dispute, advisor, name="reply.eml", content=EML)
    page = render_section(dispute, can_attach=False)

    assert "No evidence attached yet." not in page
    assert f'href="{reverse("evidence-download", args=[evidence.pk])}"' in page
    assert ">reply.eml</a>" in page
    assert f"{len(EML)}\xa0bytes" in page
    assert "Alice" in page
    assert f'title="{evidence.sha256}"' in page
    assert "<form" not in page
