"""The log's check and its tree heads, for administrators (also `manage.py verify_log`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.permissions import permission_required
from advisory.evidence import integrity
from advisory.history import heads, signing, verification


@permission_required("advisory.view_chainlink")
def verify_log(request: HttpRequest) -> HttpResponse:
    """Check the whole log now: entries, history, heads, timestamps, the old chain."""
    report = verification.verify()
    key_problem = signing.key_problem()
    # Reading every stored file is verify_log's job, not a page's: the page
    # shows what the last readings found.
    failed_files = integrity.failed_checks()
    return render(
        request,
        "advisory/verify_log.html",
        {
            "report": report,
            "key_problem": key_problem,
            "failed_files": failed_files,
            "can_sign": request.user.has_perm("advisory.sign_treehead"),
        },
    )


@require_POST
@permission_required("advisory.sign_treehead")
def tree_head_sign(request: HttpRequest) -> HttpResponse:
    before = heads.latest_head()
    try:
        head = heads.tree_head_sign()
    except (signing.SigningKeyError, heads.LogDamaged) as error:
        messages.error(request, f"No tree head was signed. {error}")
        return redirect("verify-log")
    if before is not None and head.pk == before.pk:
        messages.info(
            request, f"The log has not grown since tree head #{head.pk}: no new head is needed."
        )
        return redirect("verify-log")
    text = f"Tree head #{head.pk} signed: it covers {head.size} entries."
    if head.timestamp_token is not None:
        text += f" Timestamped by {head.timestamp_authority}."
    elif head.timestamp_error:
        text += f" Not timestamped yet ({head.timestamp_error}); the worker will try again."
    messages.success(request, text)
    return redirect("verify-log")
