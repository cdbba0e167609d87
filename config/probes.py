"""Probes for load balancers and orchestrators: /healthz (liveness: the
process answers; no session, no database) and /healthz/ready (readiness: the
database answers now)."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, connection
from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.middleware import describe


@require_safe
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: no session, no database."""
    return HttpResponse("ok", content_type="text/plain")


@require_safe
@never_cache
def healthz_ready(request: HttpRequest) -> HttpResponse:
    """Readiness for load balancers: can this process query the database now?
    No session either. A failure is logged once, without a traceback (probes
    come every few seconds)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DatabaseError, InterfaceError) as exc:
        response = HttpResponse("database unavailable", status=503, content_type="text/plain")
        log_response(
            "%s (database unavailable: %s): %s",
            response.reason_phrase,
            describe(exc),
            request.path,
            response=response,
            request=request,
        )
        return response
    return HttpResponse("ready", content_type="text/plain")
