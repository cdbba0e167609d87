"""API authentication by the personal tokens users create on their profile page.

A request carries `Authorization: Bearer <secret>` (or `Token <secret>`). The
secret is hashed and looked up by its hash, so the comparison never touches the
secret itself and its timing says nothing about it.

Guessing is slowed per client address: after FAILURE_LIMIT failed tokens in
FAILURE_WINDOW, every token from that address answers 429 with Retry-After
until the window ends; the security log says so once per burst.
"""

from __future__ import annotations

import datetime
import logging
import time

from django.core.cache import cache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.audit import client_address, security_log
from accounts.models import ApiToken, User

KEYWORDS = (b"bearer", b"token")
# last_used_at is for people ("used 3 days ago"), not an audit log: writing it
# on every request would turn each read into a write.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
FAILURE_LIMIT = 10
FAILURE_WINDOW = 5 * 60  # seconds


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # not ours: let session authentication try
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: expected “Bearer <token>”."
            )
        address = client_address(request)
        _refuse_if_throttled(address)
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            _failed(request, address)
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = ApiToken.objects.for_secret(secret)
        if token is None or token.revoked_at is not None:
            _failed(request, address)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if token.is_expired:
            _failed(request, address)
            raise exceptions.AuthenticationFailed(
                f"This token expired on {timezone.localtime(token.expires_at):%-d %B %Y}: "
                "create a new one on your profile page."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user account is disabled.")
        self._touch(token)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        # Having a challenge makes DRF answer 401 (not 403) without credentials.
        return f'{self.keyword} realm="api"'

    @staticmethod
    def _touch(token: ApiToken) -> None:
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now


# --- Guessing is slowed per client address ------------------------------------------


def _keys(address: str) -> tuple[str, str]:
    return f"api-token-failures:{address}", f"api-token-blocked:{address}"


def _refuse_if_throttled(address: str) -> None:
    _count, blocked = _keys(address)
    until = cache.get(blocked)
    if until is not None and until > time.time():
        raise exceptions.Throttled(
            wait=until - time.time(), detail="Too many invalid tokens from your address."
        )


def _failed(request: Request, address: str) -> None:
    """Count a failed token; the failure that reaches the limit starts a block
    and writes the burst's one line in the security log."""
    count_key, blocked = _keys(address)
    cache.add(count_key, 0, timeout=FAILURE_WINDOW)
    try:
        failures = cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, failures := 1, timeout=FAILURE_WINDOW)
    if failures == FAILURE_LIMIT:
        cache.set(blocked, time.time() + FAILURE_WINDOW, timeout=FAILURE_WINDOW)
        security_log(
            request._request,  # the HttpRequest: the DRF request is still authenticating
            "api tokens throttled",
            level=logging.WARNING,
            note=f"{failures} invalid tokens; refused for {FAILURE_WINDOW // 60} minutes",
        )
