"""Evidence files: attach on the disagreement page, download through a
checked view (there is no public media URL)."""

from __future__ import annotations

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import get_visible_or_404
from advisory.evidence import files, integrity
from advisory.forms import EvidenceForm
from advisory.models import Disagreement, EvidenceFile

# Put before the name of a download whose bytes no longer match their SHA-256.
CHANGED_PREFIX = "CHANGED SINCE UPLOAD - "


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
    stored = integrity.open_stored(evidence)
    if stored is None:
        # The record stays (the log keeps its size and SHA-256); the bytes are
        # gone from the storage: say so, and tell the administrators.
        integrity.evidence_check_record(evidence, None)
        return render(request, "advisory/evidence_missing.html", {"evidence": evidence}, status=410)
    # Hashed before sending (at most MAX_EVIDENCE_BYTES), so a file that is no
    # longer what was uploaded can say so in its name and headers.
    found = integrity.sha256_of(stored)
    check = integrity.evidence_check_record(evidence, found)
    filename = evidence.original_name
    if check.failed:
        filename = f"{CHANGED_PREFIX}{filename}"
    response = FileResponse(
        stored,
        as_attachment=True,
        filename=filename,
        content_type=evidence.content_type,
    )
    # RFC 9530: the SHA-256 of what is sent, and whether it is what was uploaded.
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(found)).decode()}:"
    response["X-Evidence-Integrity"] = (
        "changed-since-upload; recorded-sha256=" + evidence.sha256 if check.failed else "intact"
    )
    # The browser must not second-guess the type (a file that sniffs as HTML
    # would run on our origin), nor keep a copy in a shared cache.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
