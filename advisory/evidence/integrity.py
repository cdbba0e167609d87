"""Do the stored evidence files still hold the bytes that were uploaded?

Each file's SHA-256 is recorded when it is attached (and is part of its
history entry). Reading the file back and hashing it again shows whether the
storage still holds those bytes. Every such reading leaves an `EvidenceCheck`
(the latest result per file), so pages can warn without reading files:
downloads and evidence packs check the file they read anyway; `verify_log`
checks them all.

A changed file is still served — it may be all there is — but marked, and
reported to the administrators' log.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from itertools import batched
from typing import IO

from django.core.files import File
from django.utils import timezone

from advisory.models import EvidenceCheck, EvidenceFile

logger = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1024 * 1024
BATCH = 200


def open_stored(evidence: EvidenceFile) -> File | None:
    """The stored file opened for reading, or None when the storage no longer has it."""
    try:
        return evidence.file.open("rb")
    except (FileNotFoundError, ValueError):  # ValueError: the record names no file
        return None


def sha256_of(stream: IO[bytes]) -> str:
    """The SHA-256 (hex) of what is left to read in `stream`, which is then rewound."""
    start = stream.tell()
    digest = hashlib.sha256()
    while chunk := stream.read(READ_CHUNK_BYTES):
        digest.update(chunk)
    stream.seek(start)
    return digest.hexdigest()


def evidence_check_record(evidence: EvidenceFile, found_sha256: str | None) -> EvidenceCheck:
    """Record what was found for `evidence`: these bytes' SHA-256, or None for no file."""
    return evidence_checks_record([(evidence, found_sha256)])[0]


def evidence_checks_record(found: list[tuple[EvidenceFile, str | None]]) -> list[EvidenceCheck]:
    """Record what was found for each file, in two queries whatever their number.

    A file that is missing or changed is also reported in the log, once per
    finding: a later check finding the same is not logged again.
    """
    now = timezone.now()
    checks = [
        EvidenceCheck(
            evidence=evidence,
            result=_result(evidence, found_sha256),
            found_sha256=found_sha256 or "",
            checked_at=now,
        )
        for evidence, found_sha256 in found
    ]
    rows = EvidenceCheck.objects.filter(evidence__in=[check.evidence_id for check in checks])
    previous = {
        pk: (result, sha)
        for pk, result, sha in rows.values_list("evidence_id", "result", "found_sha256")
    }
    for check in checks:
        if check.failed and previous.get(check.evidence_id) != (check.result, check.found_sha256):
            _report(check)
    EvidenceCheck.objects.bulk_create(
        checks,
        update_conflicts=True,
        unique_fields=["evidence"],
        update_fields=["result", "found_sha256", "checked_at"],
    )
    return checks


def _result(evidence: EvidenceFile, found_sha256: str | None) -> str:
    if found_sha256 is None:
        return EvidenceCheck.Result.MISSING
    if found_sha256 == evidence.sha256:
        return EvidenceCheck.Result.MATCH
    return EvidenceCheck.Result.CHANGED


def _report(check: EvidenceCheck) -> None:
    evidence = check.evidence
    logger.error(
        "Evidence file %s (disagreement %s, stored as %s): %s. Recorded at upload: "
        "SHA-256 %s; found: %s.",
        evidence.pk,
        evidence.disagreement_id,
        evidence.file.name,
        check.get_result_display().lower(),
        evidence.sha256,
        check.found_sha256 or "no file",
    )


def evidence_check(evidence: EvidenceFile) -> EvidenceCheck:
    """Read the stored file, hash it and record the result."""
    return evidence_checks_record([(evidence, _stored_sha256(evidence))])[0]


def evidence_check_all(*, progress: Callable[[int], object] | None = None) -> list[EvidenceCheck]:
    """Check every evidence file of the firm, oldest first; the ones that failed."""
    failed = []
    files = EvidenceFile.objects.select_related("disagreement").order_by("pk")
    for batch in batched(files.iterator(chunk_size=BATCH), BATCH):
        checks = evidence_checks_record([(e, _stored_sha256(e)) for e in batch])
        failed.extend(check for check in checks if check.failed)
        if progress is not None:
            progress(len(batch))
    return failed


def _stored_sha256(evidence: EvidenceFile) -> str | None:
    stored = open_stored(evidence)
    if stored is None:
        return None
    with stored:
        return sha256_of(stored)


def failed_checks():
    """The latest check of each file whose bytes were missing or changed, oldest upload first."""
    return (
        EvidenceCheck.objects.exclude(result=EvidenceCheck.Result.MATCH)
        .select_related("evidence__disagreement")
        .order_by("evidence__uploaded_at", "evidence__pk")
    )
