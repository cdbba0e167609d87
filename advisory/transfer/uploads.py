"""The file an import is previewing, kept until it is confirmed.

Between the preview and the confirmation the uploaded file is kept on the
default storage under `imports/<random>.csv` (MEDIA_ROOT/imports/ on the
file system), not in the cache, which may be process-local; what the
importer's session holds is the `Pending` record: the file's name on the
storage, its SHA-256 and the name it was uploaded with. The file is deleted
when the import is confirmed or replaced by another upload, and any file
older than a day is deleted at the next upload by anyone (an abandoned
preview leaves nothing behind for longer).
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

FOLDER = "imports"
KEEP_FOR = datetime.timedelta(days=1)

type Pending = dict  # {"kind", "path", "sha256", "filename"} and, after a preview, "fingerprint"


class UploadGone(Exception):
    """The pending file is no longer there (expired, or never was)."""


class UploadChanged(Exception):
    """The pending file's bytes are not the ones uploaded."""


def upload_store(data: bytes, *, kind: str, filename: str) -> Pending:
    """Keep an uploaded file for its preview; clears out abandoned ones first."""
    _remove_stale()
    path = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}.csv", ContentFile(data))
    return {
        "kind": kind,
        "path": path,
        "sha256": hashlib.sha256(data).hexdigest(),
        "filename": _filename(filename),
    }


def upload_read(pending: Pending) -> bytes:
    """The pending file's bytes, checked against the SHA-256 taken at upload."""
    path = pending.get("path", "")
    try:
        if not _ours(path):
            raise FileNotFoundError(path)
        with default_storage.open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError as exc:
        raise UploadGone(path) from exc
    if hashlib.sha256(data).hexdigest() != pending.get("sha256"):
        raise UploadChanged(path)
    return data


def upload_discard(pending: Pending | None) -> None:
    path = (pending or {}).get("path", "")
    if path and _ours(path):
        default_storage.delete(path)


def _ours(path: str) -> bool:
    """Only files in the imports folder are read or deleted, whatever a session says."""
    return PurePath(path).parent == PurePath(FOLDER)


def _remove_stale() -> None:
    cutoff = timezone.now() - KEEP_FOR
    try:
        _dirs, files = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return
    for name in files:
        path = f"{FOLDER}/{name}"
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except FileNotFoundError:
            continue  # removed meanwhile by another request


def _filename(name: str) -> str:
    """The uploaded file's own name, for the history reason: no folders, at most 100 characters."""
    base = PurePath(name.replace("\\", "/")).name.strip() or "upload.csv"
    return base[-100:]
