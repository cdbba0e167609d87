"""The security log: every refused request and every log-in attempt.

Everything goes to the `candor.security` logger (config/settings.py sends it to
the console, i.e. the process's log, at INFO whatever LOG_LEVEL says), one
line per event, saying who (user id and username, or "anonymous"), what
(method and path, never the query string or the body, so no password or
search term is written) and from where (the client address as django-axes
sees it); the log record's time says when. The same values travel as `extra`
fields (`event`, `user_id`, `username`, `method`, `path`, `status`, `ip`) for a
structured log handler.

Logged:
- refused requests (`DeniedRequestLogMiddleware`): 401 (the API without valid
  credentials), 403 (role too low, or a missing CSRF token), 404 from a page
  that exists (a record outside the user's scope looks exactly like a missing
  one to the user; the log cannot tell them apart either, and needn't), and the
  admin site turning away a signed-in user who is not an admin (it redirects
  to its login page instead of answering 403). Plain "log in first" redirects
  are not logged: every expired session would make one.
- log-ins (signals): success, failure (with the username typed), lockout by
  django-axes, and log-out; a wrong two-factor code is logged once, as
  "two-factor code refused", not also as "login failed".
- two-factor sign-in (`security_event`, from accounts/two_factor.py): codes
  accepted and refused, set up, turned off, and pages refused for want of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from axes.helpers import get_client_ip_address
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

logger = logging.getLogger("candor.security")

# Catch-all patterns answer 404 for paths that name nothing; those are not refusals.
CATCH_ALL_VIEWS = {"not_found", "catch_all_view"}
# The sender of user_login_failed for a wrong two-factor code (counted by django-axes).
TWO_FACTOR = "accounts.two_factor"


def client_address(request: HttpRequest | None) -> str:
    """The client's address as django-axes sees it (behind a proxy: docs/deploy.md)."""
    if request is None:
        return "-"
    return getattr(request, "axes_ip_address", None) or get_client_ip_address(request) or "-"


def _log(
    level: int,
    event: str,
    request: HttpRequest | None,
    *,
    user_id: int | None,
    username: str,
    status: int | None = None,
    note: str = "",
) -> None:
    method = _printable(request.method) if request is not None else "-"
    path = _printable(request.path) if request is not None else "-"
    username = _printable(username)
    who = f"{username} (id {user_id})" if user_id is not None else username
    logger.log(
        level,
        "%s%s: %s %s by %s from %s%s",
        event,
        f" {status}" if status is not None else "",
        method,
        path,
        who,
        client_address(request),
        f" ({note})" if note else "",
        extra={
            "event": event,
            "user_id": user_id,
            "username": username,
            "method": method,
            "path": path,
            "status": status,
            "ip": client_address(request),
        },
    )


def _printable(text: str | None) -> str:
    """What a user typed (a username, a path), with no way to start a fake log line."""
    return "".join(c if c.isprintable() else "?" for c in str(text or ""))


def _user_fields(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return {"user_id": user.pk, "username": user.get_username()}
    return {"user_id": None, "username": "anonymous"}


class DeniedRequestLogMiddleware:
    """Log every request that was refused (see the module docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        status = response.status_code
        if status in (401, 403) or (status == 404 and self._names_a_page(request)):
            _log(logging.WARNING, "denied", request, status=status, **_user_fields(request))
        elif self._admin_site_refused(request, response):
            _log(
                logging.WARNING,
                "denied",
                request,
                status=status,
                note="admin site: not an admin",
                **_user_fields(request),
            )
        return response

    @staticmethod
    def _names_a_page(request: HttpRequest) -> bool:
        match = getattr(request, "resolver_match", None)
        return match is not None and getattr(match.func, "__name__", "") not in CATCH_ALL_VIEWS

    @staticmethod
    def _admin_site_refused(request: HttpRequest, response: HttpResponse) -> bool:
        match = getattr(request, "resolver_match", None)
        if match is None or match.app_name != "admin" or response.status_code != 302:
            return False
        user = getattr(request, "user", None)
        return (
            user is not None
            and user.is_authenticated
            and response["Location"].startswith(reverse("admin:login"))
        )


# Signals: Django and django-axes announce log-in events; nothing else can hook in.


@receiver(user_logged_in, dispatch_uid="candor.audit.logged_in")
def _logged_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    _log(logging.INFO, "login succeeded", request, user_id=user.pk, username=user.get_username())


@receiver(user_logged_out, dispatch_uid="candor.audit.logged_out")
def _logged_out(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if user is not None:
        _log(logging.INFO, "logout", request, user_id=user.pk, username=user.get_username())


@receiver(user_login_failed, dispatch_uid="candor.audit.login_failed")
def _login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    if sender == TWO_FACTOR:
        return  # a wrong code: accounts/two_factor.py has logged which step it was
    # Django has already masked the password in `credentials`; only the
    # username is written anyway.
    username = str(credentials.get("username", ""))[:150] or "(blank)"
    locked = bool(getattr(request, "axes_locked_out", False))
    _log(
        logging.WARNING,
        "login failed",
        request,
        user_id=None,
        username=username,
        note="account locked" if locked else "",
    )


@receiver(user_locked_out, dispatch_uid="candor.audit.locked_out")
def _locked_out(sender, request: HttpRequest, username: str | None, **kwargs) -> None:
    _log(logging.WARNING, "locked out", request, user_id=None, username=username or "(blank)")


def security_event(
    request: HttpRequest | None, event: str, user, *, level: int = logging.INFO, note: str = ""
) -> None:
    """One line in the security log about `user` (e.g. two-factor sign-in,
    accounts/two_factor.py); say what happened, never what was typed."""
    _log(level, event, request, user_id=user.pk, username=user.get_username(), note=note)


def security_log(
    request: HttpRequest | None, event: str, *, level: int = logging.INFO, note: str = ""
) -> None:
    """One line in the security log about a request, by whoever sent it."""
    who = _user_fields(request) if request is not None else {"user_id": None, "username": "-"}
    _log(level, event, request, note=note, **who)
