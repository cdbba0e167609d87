"""Large CSV imports run in the background, with their progress on a page.

A confirmed import of more than BACKGROUND_ROWS changes is handed to the
`run_import` task (Django's tasks API; the huey worker runs it), so no request
waits for it and no web server timeout cuts it off. The importer is sent to
the job's page, which refreshes itself until the job is done and shows how far
it has got; the command line shows the same progress with its own bar.

The job checks the file again before storing it (the records may have changed
since the preview): the same plan, or nothing is stored. It stores all rows in
one transaction or none, exactly as the request would (imports.apply_plan).

What the page shows lives in the "jobs" cache (Redis when REDIS_URL is set,
otherwise files on this machine; config/settings.py), not in the database:
progress written inside the import's transaction would not be visible to the
page until the end. A job is kept for a day and is visible only to the person
who started it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from django.core.cache import caches
from django.core.files.storage import default_storage
from django.db import DatabaseError
from django.tasks import task

from accounts.models import User
from advisory.transfer import imports

logger = logging.getLogger(__name__)

BACKGROUND_ROWS = 500  # changes above which an import runs in the background
KEEP_FOR = 60 * 60 * 24  # seconds a finished job stays visible
REPORT_EVERY = 0.5  # seconds between progress writes

QUEUED, CHECKING, STORING, DONE, FAILED = "queued", "checking", "storing", "done", "failed"


@dataclass
class Job:
    id: str
    user_id: int
    kind: str
    filename: str
    path: str  # the pending file on the default storage
    sha256: str
    fingerprint: str  # of the plan the importer confirmed
    total: int  # rows in the file
    state: str = QUEUED
    done: int = 0  # rows checked, then rows stored
    message: str = ""  # the outcome, once finished
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


def _cache():
    return caches["jobs"]


def _key(job_id: str) -> str:
    return f"import-job:{job_id}"


def _save(job: Job) -> None:
    _cache().set(_key(job.id), dataclasses.asdict(job), KEEP_FOR)


def get(job_id: str, *, user: User) -> Job | None:
    """The job, if it exists and `user` started it."""
    data = _cache().get(_key(job_id))
    if not data or data["user_id"] != user.pk:
        return None
    return Job(**data)


def start(pending: dict, plan: imports.Plan, *, user: User) -> Job:
    """Queue the import of a checked plan; the worker stores it."""
    job = Job(
        id=secrets.token_urlsafe(16),
        user_id=user.pk,
        kind=pending["kind"],
        filename=pending["filename"],
        path=pending["path"],
        sha256=pending["sha256"],
        fingerprint=plan.fingerprint(),
        total=len(plan.rows),
    )
    _save(job)
    run_import.enqueue(job.id)
    return job


class _Progress:
    """Counts rows and writes the job at most every REPORT_EVERY seconds."""

    def __init__(self, job: Job, state: str) -> None:
        self.job, self.last = job, 0.0
        job.state, job.done = state, 0
        _save(job)

    def __call__(self, rows: int) -> None:
        self.job.done += rows
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY:
            self.last = now
            _save(self.job)


@task
def run_import(job_id: str) -> str:
    """Check the file again, then store it (all rows or none); the job says how it went."""
    data = _cache().get(_key(job_id))
    if data is None:
        logger.warning("Import job %s has expired before it ran", job_id)
        return FAILED
    job = Job(**data)
    try:
        job.state, job.message = _run(job)
    except DatabaseError:
        logger.exception("Import job %s failed in the database", job_id)
        job.state = FAILED
        job.message = "Nothing was imported: the database refused a change. Try again in a moment."
    _save(job)
    return job.state


def _run(job: Job) -> tuple[str, str]:
    user = User.objects.filter(pk=job.user_id, is_active=True).first()
    if user is None or not imports.can_import(user):
        return FAILED, "Nothing was imported: you may no longer import."
    try:
        with default_storage.open(job.path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return FAILED, "Nothing was imported: the uploaded file has expired. Upload it again."
    if hashlib.sha256(data).hexdigest() != job.sha256:
        return FAILED, "Nothing was imported: the uploaded file has changed. Upload it again."
    table = imports.read_table(data, job.kind)
    plan = imports.plan_import(table, user=user, progress=_Progress(job, CHECKING))
    if not plan.ok or plan.fingerprint() != job.fingerprint:
        return FAILED, (
            "Nothing was imported: the records changed since the preview you saw. "
            "Check the new preview and confirm again."
        )
    try:
        imports.apply_plan(plan, by=user, filename=job.filename, progress=_Progress(job, STORING))
    except imports.ImportFailed as exc:
        return FAILED, exc.message
    default_storage.delete(job.path)
    job.created, job.updated, job.unchanged = plan.to_create, plan.to_update, plan.unchanged
    return DONE, (
        f"Imported {job.filename}: {plan.to_create} created, {plan.to_update} updated, "
        f"{plan.unchanged} unchanged."
    )
