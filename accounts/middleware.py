"""Sessions end after a period without activity (settings.SESSION_COOKIE_AGE)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

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
