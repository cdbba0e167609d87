"""The log's check, for administrators (also `manage.py verify_log`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import permission_required
from advisory.evidence import integrity
from advisory.history import log


@permission_required("advisory.view_chainlink")
def verify_log(request: HttpRequest) -> HttpResponse:
    """Walk the whole chain now: every entry against its hash, every link against the last."""
    result = log.verify()
    # Reading every stored file is verify_log's job, not a page's: the page
    # shows what the last readings found.
    failed_files = integrity.failed_checks()
    return render(
        request, "advisory/verify_log.html", {"result": result, "failed_files": failed_files}
    )
