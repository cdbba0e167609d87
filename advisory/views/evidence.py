"""Evidence files: attach on the disagreement page, download through a
checked view (there is no public media URL)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import get_visible_or_404
from advisory.evidence import files
from advisory.forms import EvidenceForm
from advisory.models import Disagreement, EvidenceFile

logger = logging.getLogger(__name__)


@require_POST
@login_required
def evidence_upload(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = get_visible_or_404(Disagreement, request.user, pk=pk)
    if not request.user.has_perm("advisory.add_evidencefile"):
        raise PermissionDenied
    form = EvidenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            evidence = files.evidence_attach(
                disagreement,
                by=request.user,
                upload=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Evidence file “{evidence.original_name}” attached.")
            return redirect(f"{disagreement.get_absolute_url()}#evidence")
    return render(
        request,
        "advisory/evidence_upload.html",
        {"disagreement": disagreement, "form": form},
        status=400,
    )


@require_safe
@login_required
def evidence_download(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = get_object_or_404(
        EvidenceFile.objects.select_related("disagreement"),
        disagreement__in=Disagreement.objects.visible_to(request.user),
        pk=pk,
    )
    try:
        stored = evidence.file.open("rb")
    except FileNotFoundError:
        # The record stays (the log keeps its size and SHA-256); the bytes are
        # gone from the storage: say so, and tell the administrators.
        logger.error(
            "Evidence file %s (disagreement %s) is missing from storage: %s",
            evidence.pk,
            evidence.disagreement_id,
            evidence.file.name,
        )
        return render(request, "advisory/evidence_missing.html", {"evidence": evidence}, status=410)
    response = FileResponse(
        stored,
        as_attachment=True,
        filename=evidence.original_name,
        content_type=evidence.content_type,
    )
    # The browser must not second-guess the type (a file that sniffs as HTML
    # would run on our origin), nor keep a copy in a shared cache.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
