"""CSV import pages: upload, preview, confirm; and the template to start from.

A confirmed import of more than transfer.jobs.BACKGROUND_ROWS changes runs in
the background; the importer follows it on its page (`import_job`). The file
waits for its confirmation in the upload store (advisory/transfer/uploads.py);
the session holds what the store handed back.
"""

from __future__ import annotations

import csv
import logging
import time
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from advisory.forms import ImportForm
from advisory.transfer import imports, uploads
from advisory.transfer import jobs as import_jobs

logger = logging.getLogger(__name__)

SESSION_KEY = "candor_import"
SHOWN_ROWS = 200
SHOWN_PROBLEMS = 1000
LIST_PAGES = {imports.CLIENTS: "client-list", imports.ENGAGEMENTS: "engagement-list"}


def importer_required(view):
    """Managers and admins; anyone else signed in gets 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not imports.can_import(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@importer_required
def import_upload(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        _discard(request)
        request.session[SESSION_KEY] = uploads.upload_store(
            form.cleaned_data["data"],
            kind=form.cleaned_data["kind"],
            filename=form.cleaned_data["file"].name,
        )
        return redirect("import-preview")
    context = {"form": form, "columns": imports.COLUMNS, "max_rows": f"{imports.MAX_ROWS:,}"}
    return render(
        request,
        "advisory/import_upload.html",
        context,
        status=400 if request.method == "POST" else 200,
    )


@importer_required
def import_preview(request: HttpRequest) -> HttpResponse:
    pending, data = _pending(request)
    if pending is None:
        return redirect("import-upload")
    started = time.monotonic()
    plan = _plan(request, pending, data)
    if plan is None:
        return redirect("import-upload")
    pending["fingerprint"] = plan.fingerprint()
    request.session[SESSION_KEY] = pending
    context = {
        "pending": pending,
        "kind_label": imports.KINDS[pending["kind"]],
        "plan": plan,
        "rows": plan.rows[:SHOWN_ROWS],
        "problems": plan.problems[:SHOWN_PROBLEMS],
        "hidden_problems": max(0, len(plan.problems) - SHOWN_PROBLEMS),
        "hidden_rows": max(0, len(plan.rows) - SHOWN_ROWS),
        "seconds": time.monotonic() - started,
    }
    return render(request, "advisory/import_preview.html", context)


@require_POST
@importer_required
def import_confirm(request: HttpRequest) -> HttpResponse:
    pending, data = _pending(request)
    if pending is None:
        return redirect("import-upload")
    plan = _plan(request, pending, data)
    if plan is None:
        return redirect("import-upload")
    if not plan.ok:
        messages.error(request, "Nothing was imported: the file has problems to fix first.")
        return redirect("import-preview")
    if plan.fingerprint() != pending.get("fingerprint"):
        messages.warning(
            request,
            "Nothing was imported yet: the records changed since the preview you saw. "
            "Check this preview and confirm again.",
        )
        return redirect("import-preview")
    if plan.to_create + plan.to_update > import_jobs.BACKGROUND_ROWS:
        try:
            job = import_jobs.start(pending, plan, user=request.user)
        except Exception:  # whatever the queue's backend raises when it is unreachable
            logger.exception("Could not queue the import of %s", pending["filename"])
            messages.error(
                request,
                "Nothing was imported: the background worker's queue can't be reached. "
                "Try again in a moment.",
            )
            return redirect("import-preview")
        return redirect("import-job", job.id)
    try:
        imports.apply_plan(plan, by=request.user, filename=pending["filename"])
    except imports.ImportFailed as exc:
        messages.error(request, exc.message)
        return redirect("import-preview")
    except DatabaseError:
        messages.error(
            request,
            "Nothing was imported: the database refused a change. Try again in a moment.",
        )
        return redirect("import-preview")
    _discard(request)
    messages.success(
        request,
        f"Imported {pending['filename']}: {plan.to_create} created, {plan.to_update} updated, "
        f"{plan.unchanged} unchanged.",
    )
    return redirect(LIST_PAGES[plan.kind])


@importer_required
def import_job(request: HttpRequest, job_id: str) -> HttpResponse:
    """A background import's progress; the page polls itself until the job is finished."""
    job = import_jobs.get(job_id, user=request.user)
    if job is None:
        raise Http404("No such import.")
    pending = request.session.get(SESSION_KEY) or {}
    if job.state == import_jobs.DONE and pending.get("path") == job.path:
        request.session.pop(SESSION_KEY)  # the job has stored the file and deleted it
    context = {"job": job, "kind_label": imports.KINDS[job.kind], "list_page": LIST_PAGES[job.kind]}
    return render(request, "advisory/import_job.html", context)


@importer_required
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in imports.KINDS:
        raise Http404
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="candor-{kind}-template.csv"'
    # A byte-order mark, so Excel opens the file as UTF-8.
    response.write("\ufeff")
    csv.writer(response, lineterminator="\r\n").writerows(
        imports.template_rows(kind, user=request.user)
    )
    return response


# --- The pending file ----------------------------------------------------------------


def _pending(request: HttpRequest) -> tuple[dict | None, bytes]:
    """The import in progress and its file, checked against the SHA-256 taken at upload."""
    pending = request.session.get(SESSION_KEY)
    if not pending:
        messages.info(request, "There is no import in progress: upload a file to start one.")
        return None, b""
    try:
        data = uploads.upload_read(pending)
    except uploads.UploadGone:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, "The uploaded file has expired: upload it again.")
        return None, b""
    except uploads.UploadChanged:
        _discard(request)
        messages.error(request, "The uploaded file has changed on the server: upload it again.")
        return None, b""
    return dict(pending), data


def _plan(request: HttpRequest, pending: dict, data: bytes) -> imports.Plan | None:
    try:
        table = imports.read_table(data, pending["kind"])
    except imports.ImportFileError as exc:  # checked at upload; only if the rules changed
        _discard(request)
        messages.error(request, str(exc))
        return None
    return imports.plan_import(table, user=request.user)


def _discard(request: HttpRequest) -> None:
    uploads.upload_discard(request.session.pop(SESSION_KEY, None))
