"""The database going away: a friendly 503 instead of a server error.

When PostgreSQL is unreachable (restarting, failing over, out of
connections) every query raises Django's OperationalError or InterfaceError.
Candor answers such a request with 503 Service Unavailable and a
`Retry-After` header: a standalone page (templates/503.html) for people, and
`{"detail": ...}` for the API, like its other errors. Neither touches the
database, the session or the user: they are rendered without a request
context, so no context processor runs. The error is logged once, in Django's
request log ("Service Unavailable ...: /path", with the traceback; never the
request's body, cookies or query string).

Two hooks, because Django turns an exception into a response at each layer:

- `DatabaseUnavailableMiddleware.process_exception` answers the errors raised
  by views (and DRF views, whose handler leaves database errors alone);
- `server_error` is the URLconf's `handler500`, which Django calls for an
  exception from any middleware too: the session loaded by
  `SessionIdleTimeoutMiddleware`, the user by django-axes or a view's
  `request.user`, the session saved on the way out. Django itself logs those
  ("Service Unavailable: /path", with the traceback) before calling it.

Recovery needs no restart: Django closes a connection that raised at the end
of the request (`close_old_connections`), and with `CONN_HEALTH_CHECKS`
(config/settings.py) a persistent connection that died between requests is
replaced before its first use; the next request connects afresh.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.log import log_response
from django.views.defaults import server_error as django_server_error

# Seconds a client (or a person) should wait before trying again.
RETRY_AFTER = 30
API_MESSAGE = (
    "The database is unavailable; try again in a minute. If you were saving "
    "something, check whether it was saved before sending it again."
)
# PostgreSQL's codes for a connection that failed or a server shutting down
# (SQLSTATE class 08, 57P01-57P03). A deadlock (40P01), a statement timeout
# (57014) or a missing table are bugs or load, not an outage: they stay 500s.
CONNECTION_LOST = ("08", "57P01", "57P02", "57P03")
SQLITE_UNREACHABLE = ("unable to open database", "disk I/O error")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """The database can't be reached, as opposed to a query that failed."""
    if isinstance(exc, InterfaceError):  # the connection was already closed
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if isinstance(cause, sqlite3.Error):
        return str(cause).startswith(SQLITE_UNREACHABLE)
    code = getattr(cause, "pgcode", None)
    # No code: the driver lost the server (refused, closed, timed out).
    return code is None or code.startswith(CONNECTION_LOST)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 for `request`, built without the database, the session or the user."""
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": API_MESSAGE}, status=503)
    else:
        # A bare template render: no request, so no context processor runs
        # (the bell's count, the user, messages would all query).
        page = loader.get_template("503.html").render({"retry_after": RETRY_AFTER})
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def describe(exc: BaseException) -> str:
    # The driver's first line ("connection to server ... failed", "terminating
    # connection due to administrator command"): no SQL, no parameters.
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__


class DatabaseUnavailableMiddleware:
    """Answer a view's "database unreachable" error with 503 (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        response = unavailable_response(request)
        # Django's own request log, as for any 5xx (and only once: it marks the
        # response logged); the traceback goes to the log, never to the page.
        log_response(
            "%s (database unavailable: %s): %s",
            response.reason_phrase,
            describe(exception),
            request.path,
            response=response,
            request=request,
            exception=exception,
        )
        return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """handler500: 503 when the uncaught exception is the database being
    unreachable (Django has logged it already), Django's 500 page otherwise."""
    if is_database_unavailable(sys.exception()):
        return unavailable_response(request)
    return django_server_error(request, template_name=template_name)
