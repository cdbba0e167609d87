"""Evidence files on a disagreement: what may be uploaded, and attaching it.

The type of a file is decided from its content, never from the content type
the browser sends: the first bytes for binary formats, a decoded sample for
text. The file's extension must agree with what the content is, so a PNG
named report.pdf is refused rather than served later as a PDF.
"""

from __future__ import annotations

import codecs
import email.parser
import email.policy
import hashlib
import math
import os.path
import unicodedata
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import User
from accounts.permissions import can_view
from advisory.models import Disagreement, EvidenceFile
from advisory.records.versioning import lock_open_disagreement, refuse_if_closed

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_NAME_LENGTH = EvidenceFile._meta.get_field("original_name").max_length

ALLOWED_TYPES_MESSAGE = "PDF, PNG, JPEG, e-mail (.eml, .msg) or plain-text files only."
# For the file input's `accept` attribute: a hint to the browser, not a check.
ACCEPT = ".pdf,.png,.jpg,.jpeg,.eml,.msg,.txt"


@dataclass(frozen=True)
class Kind:
    content_type: str
    label: str
    extensions: tuple[str, ...]


PDF = Kind("application/pdf", "a PDF document", (".pdf",))
PNG = Kind("image/png", "a PNG image", (".png",))
JPEG = Kind("image/jpeg", "a JPEG image", (".jpg", ".jpeg"))
MSG = Kind("application/vnd.ms-outlook", "an Outlook message", (".msg",))
EML = Kind("message/rfc822", "an e-mail message", (".eml",))
TXT = Kind("text/plain", "plain text", (".txt",))

# Magic numbers of the binary formats, checked against the file's first bytes.
SIGNATURES = [
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    # An OLE2 compound file; Outlook's .msg is one (so are old .doc and .xls,
    # hence the extension must say .msg too).
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", MSG),
]
HEAD_BYTES = 16
# How much of an .eml is parsed for its headers.
EML_SAMPLE_BYTES = 64 * 1024
# Headers of which an e-mail message has at least one (compared lower-case).
EML_HEADERS = {"from", "to", "subject", "date", "received", "message-id"}


def evidence_content_type(upload: UploadedFile) -> str:
    """The canonical content type of an upload allowed as evidence.

    Raises ValidationError (with a message fit for the form field) when the
    file is empty, larger than MAX_EVIDENCE_BYTES, or not one of the allowed
    types with a matching extension.
    """
    size = upload.size or 0
    if size == 0:
        raise ValidationError("The file is empty.", code="empty")
    if size > MAX_EVIDENCE_BYTES:
        limit, actual = format_size(MAX_EVIDENCE_BYTES), format_size(size)
        if actual == limit:  # just over the limit: don't say "10 MB; this one is 10 MB"
            actual = format_size(size, round_up=True)
        raise ValidationError(
            f"Files can be at most {limit}; this one is {actual}.", code="too_big"
        )
    extension = os.path.splitext(clean_name(upload.name or ""))[1].lower()
    kind = _detect(upload, extension)
    if kind is None:
        raise ValidationError(ALLOWED_TYPES_MESSAGE, code="wrong_type")
    if extension not in kind.extensions:
        named = f"named {extension}" if extension else "has no extension"
        raise ValidationError(
            f"This file is {kind.label} but {named}. {ALLOWED_TYPES_MESSAGE}",
            code="wrong_extension",
        )
    return kind.content_type


def _detect(upload: UploadedFile, extension: str) -> Kind | None:
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    for signature, kind in SIGNATURES:
        if head.startswith(signature):
            return kind
    # Text has no signature: the extension says which text format to check for.
    if extension in EML.extensions and _is_email(upload):
        return EML
    if extension in TXT.extensions and _is_utf8_text(upload):
        return TXT
    return None


def _is_utf8_text(upload: UploadedFile) -> bool:
    """UTF-8 (with or without a byte-order mark) throughout, and no NUL bytes."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        for chunk in upload.chunks():
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        upload.seek(0)
    return True


def _is_email(upload: UploadedFile) -> bool:
    """Text that starts with RFC 822 headers naming at least one of EML_HEADERS.

    Only the sample holding the headers must be UTF-8 (in practice ASCII): a
    message body may legitimately be in another 8-bit charset. No part of the
    file may contain NUL bytes.
    """
    upload.seek(0)
    sample = upload.read(EML_SAMPLE_BYTES)
    upload.seek(0)
    try:
        # A multi-byte character cut at the end of the sample is not an error.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(sample)
    except UnicodeDecodeError:
        return False
    headers = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
    if not EML_HEADERS & {name.lower() for name in headers}:
        return False
    try:
        return all(b"\x00" not in chunk for chunk in upload.chunks())
    finally:
        upload.seek(0)


def clean_name(name: str) -> str:
    """The file name alone: no directories (either slash), no control
    characters, at most MAX_NAME_LENGTH characters with the extension kept."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > MAX_NAME_LENGTH:
        stem, extension = os.path.splitext(name)
        extension = extension[: MAX_NAME_LENGTH // 2]
        name = stem[: MAX_NAME_LENGTH - len(extension)] + extension
    return name


def format_size(size: int, *, round_up: bool = False) -> str:
    """12.3 MB, 10 MB, 200 KB, 512 bytes: one decimal at most, none when whole.

    `round_up` is for a size just over a limit, which must not print as the limit.
    """
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor:
            tenths = size * 10 / factor
            value = (math.ceil(tenths) if round_up else round(tenths)) / 10
            return f"{value:g} {unit}"
    return f"{size} bytes"


def evidence_attach(
    disagreement: Disagreement,
    *,
    by: User,
    upload: UploadedFile,
    description: str = "",
) -> EvidenceFile:
    """Check an upload, store it on the default storage and record it.

    Errors about the file are raised against the "file" field. Nothing is
    left behind on failure: when the database write fails, the stored file
    is deleted again.
    """
    if not by.has_perm("advisory.add_evidencefile") or not can_view(by, disagreement):
        raise PermissionDenied
    refuse_if_closed(disagreement)
    try:
        content_type = evidence_content_type(upload)
    except ValidationError as error:
        raise ValidationError({"file": error.error_list}) from error

    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
    upload.seek(0)

    evidence = EvidenceFile(
        disagreement=disagreement,
        original_name=clean_name(upload.name or ""),
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
        description=description.strip(),
        uploaded_by=by,
    )
    evidence.full_clean(exclude=["file"])
    # upload_to gives the stored file a random name; the original is kept above.
    evidence.file.save(evidence.original_name, upload, save=False)
    try:
        with transaction.atomic():
            # Archived or let go meanwhile (while the file was stored)?
            lock_open_disagreement(disagreement)
            evidence._history_user = by
            evidence.save()
    except BaseException:
        evidence.file.delete(save=False)
        raise
    return evidence
