"""Sessions end after a period without activity (settings.SESSION_COOKIE_AGE),
need the second factor on every page once a user has an authenticator app, and
their pages are never kept by a shared cache or the browser."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

# Moving the expiry costs a write of the session; once a minute is precise enough.
TOUCH_EVERY = 60
TOUCHED_KEY = "_candor_active_at"


class SessionIdleTimeoutMiddleware:
    """Push a signed-in session's expiry forward while it is in use.

    Django sets a session's expiry (SESSION_COOKIE_AGE from now) when the
    session is saved. Saving on every request (SESSION_SAVE_EVERY_REQUEST) would
    turn every page view into a database write; this saves at most once a
    minute per session instead, so a session expires between SESSION_COOKIE_AGE
    and SESSION_COOKIE_AGE plus a minute after the last request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.session_key and "_auth_user_id" in session:
            now = int(time.time())
            if now - session.get(TOUCHED_KEY, 0) >= TOUCH_EVERY:
                session[TOUCHED_KEY] = now  # marks it modified: saved with a new expiry
        return self.get_response(request)


@receiver(user_logged_in, dispatch_uid="candor.session_idle.logged_in")
def _stamp_new_session(sender, request: HttpRequest | None, **kwargs) -> None:
    # Logging in saves the session (and its expiry) anyway: the first minute's
    # requests need not save it again.
    session = getattr(request, "session", None)
    if session is not None:
        session[TOUCHED_KEY] = int(time.time())


# --- Two-factor sign-in on every page ------------------------------------------------

# Set in a session whose user had no authenticator app when last looked at; looked
# at again when SessionIdleTimeoutMiddleware moves the expiry (at most a minute
# later), so the session is written then anyway and no page pays a query for it.
NO_APP_KEY = "_candor_2fa_no_app"


class SecondFactorMiddleware:
    """A signed-in user with an authenticator app must have a verified session
    for every page, not just for let-go decisions and the Django admin: a
    session opened with the password alone (before the app was set up, or
    verified by an app since replaced) is sent to the code page, which brings
    it back to `next`. Exempt: that page and setting the app up, logging out,
    static files, the health checks, and the API's token-authenticated requests
    (the API with a session gets 403 JSON instead of a redirect).

    A session opened before the app was set up notices within a minute
    (NO_APP_KEY); people without an app cost no query.

    A view under `two_factor.verified_required` asks for the code itself, with
    its purpose and the page to come back to, after what is stacked above it
    has run: a let-go decision keeps its note there, which a refusal here
    would lose.
    """

    EXEMPT_URL_NAMES = ("login", "login-code", "logout", "two-factor-setup", "admin:logout")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._needs_code(request) and not self._view_asks_itself(request):
            return self._refuse(request)
        return self.get_response(request)

    @staticmethod
    def _view_asks_itself(request: HttpRequest) -> bool:
        """The view asks for the code itself (verified_required). Looked up only
        for a session that needs a code, not on every request."""
        from django.urls import Resolver404, resolve

        from accounts import two_factor

        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
        return getattr(match.func, two_factor.ASKS_FOR_CODE, False) is True

    def _needs_code(self, request: HttpRequest) -> bool:
        from accounts import two_factor

        session = getattr(request, "session", None)
        if session is None or "_auth_user_id" not in session or self._exempt(request):
            return False
        user = request.user
        if not user.is_authenticated or two_factor.is_verified(user):
            return False
        due = int(time.time()) - session.get(TOUCHED_KEY, 0) >= TOUCH_EVERY
        if session.get(NO_APP_KEY) and not due:
            return False
        enrolled = two_factor.is_enrolled(user)
        if enrolled:
            session.pop(NO_APP_KEY, None)
        elif not session.get(NO_APP_KEY):
            session[NO_APP_KEY] = True
        return enrolled

    def _exempt(self, request: HttpRequest) -> bool:
        from django.conf import settings

        from accounts.authentication import KEYWORDS

        path = request.path
        if path.startswith(("/healthz", f"/{settings.STATIC_URL.lstrip('/')}")):
            return True
        if path.startswith("/api/"):
            keyword = request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0]
            return keyword.lower().encode() in KEYWORDS
        return path in self._exempt_paths

    @cached_property
    def _exempt_paths(self) -> frozenset[str]:
        """The exempt pages' paths, worked out on first use rather than per request."""
        from django.urls import reverse

        return frozenset(reverse(name) for name in self.EXEMPT_URL_NAMES)

    @staticmethod
    def _refuse(request: HttpRequest) -> HttpResponse:
        from accounts import two_factor

        two_factor.security_event(
            request, "two-factor required", request.user, level=logging.WARNING
        )
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"detail": "Enter your two-factor code on the site first (log in again)."},
                status=403,
            )
        if request.method in ("GET", "HEAD"):
            next_url = request.get_full_path()
        else:  # a form sent before the code: back to the page it came from
            next_url = two_factor.safe_next(request, request.META.get("HTTP_REFERER"), "dashboard")
        return two_factor.redirect_to_code(next_url)


@receiver(user_logged_in, dispatch_uid="candor.two_factor.logged_in")
def _note_no_app(sender, request: HttpRequest | None, user, **kwargs) -> None:
    # A log-in without a code (no app, as far as the log-in knew): look once
    # now, while the new session is being written anyway.
    from accounts import two_factor

    session = getattr(request, "session", None)
    if session is None or getattr(user, "otp_device", None) is not None:
        return
    if not two_factor.is_enrolled(user):
        session[NO_APP_KEY] = True


class PrivatePagesMiddleware:
    """A signed-in person's HTML pages say `Cache-Control: private, no-store`:
    no shared proxy keeps them, and the browser's back button after log-out
    shows nothing of them. (Files and API answers set their own.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and response.get("Content-Type", "").startswith("text/html")
        ):
            patch_cache_control(response, private=True, no_store=True)
        return response
