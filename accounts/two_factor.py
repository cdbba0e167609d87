"""Two-factor sign-in: an authenticator app (TOTP) plus one-time recovery codes.

Built on django-otp. The app is a `TOTPDevice` (django_otp.plugins.otp_totp);
the recovery codes are our own `RecoveryCodeDevice` (accounts/models.py),
stored as SHA-256 hashes like API tokens, so a database dump cannot be used to
sign in. A session that passed the second step is "verified"
(`request.user.is_verified()`, set by django_otp.middleware.OTPMiddleware).

Who needs it:
- advisors and managers may turn it on; once on, every log-in asks for a code
  and every page a verified session (accounts.middleware.SecondFactorMiddleware);
- admins must have it, and a verified session, before they decide let-go cases
  (`verified_required` on those views) or use the Django admin
  (config/admin.py). An admin cannot turn it off.

Wrong codes count as failed log-ins for django-axes (the same five-strikes
lockout, HTTP 429) and every attempt goes to the security log; the code typed
is never logged nor stored (settings.AXES_SENSITIVE_PARAMETERS).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import segno
from axes.handlers.proxy import AxesProxyHandler
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import urlencode
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import security_event
from accounts.models import RecoveryCode, RecoveryCodeDevice, User
from accounts.navigation import local_url
from accounts.roles import Role
from accounts.scoping import role_of

RECOVERY_CODE_COUNT = 10
# 16 characters from 31 (no 0/o, 1/l/i): about 79 bits each, beyond guessing
# even from the stored hash.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 16
APP_NAME = "Authenticator app"
# How long the second log-in step waits for its code.
PENDING_SECONDS = 5 * 60
PENDING_KEY = "_candor_2fa_pending"

View = Callable[..., HttpResponse]


# --- State -------------------------------------------------------------------------


def app_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if any."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("-pk").first()


def is_enrolled(user: User) -> bool:
    """Two-factor sign-in is on: every log-in asks for a code."""
    return user.is_authenticated and app_device(user) is not None


def is_required(user: User) -> bool:
    """Admins must use it; for everyone else it is a choice."""
    return role_of(user) == Role.ADMIN


def is_verified(user) -> bool:
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def recovery_device(user: User) -> RecoveryCodeDevice | None:
    return RecoveryCodeDevice.objects.filter(user=user).first()


def secret_for_display(device: TOTPDevice) -> str:
    """The key as authenticator apps take it for manual entry (base32, in fours)."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// link as a QR code, an SVG in a data: URI: an <img> the
    strict Content-Security-Policy allows (img-src data:), with no script or style."""
    return segno.make(device.config_url, error="m").svg_data_uri(
        scale=5, border=2, dark="#000", light="#fff"
    )


# --- Setting up, replacing, turning off ------------------------------------------------


def pending_setup(user: User) -> TOTPDevice:
    """The unconfirmed device being set up (made on first use, kept until confirmed)."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_NAME, confirmed=False)
    return device


@transaction.atomic
def confirm_setup(request: HttpRequest, device: TOTPDevice, code: str) -> list[str] | None:
    """Activate `device` if `code` is right; returns the new recovery codes
    (shown once), or None for a wrong code. Any earlier app and codes stop
    working, and the current session counts as verified."""
    if not device.verify_token(normalize_code(code)):
        return None
    user = device.user
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = issue_recovery_codes(user)
    otp_login(request, device)
    security_event(request, "two-factor enabled", user)
    return codes


@transaction.atomic
def issue_recovery_codes(user: User) -> list[str]:
    """A new set of recovery codes; the previous set stops working."""
    # Two requests at once (a double click) take turns: the second replaces
    # the first's set instead of failing on the one-set-per-person constraint.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).exists()
    RecoveryCodeDevice.objects.filter(user=user).delete()
    device = RecoveryCodeDevice.objects.create(user=user, name="Recovery codes")
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, code_hash=RecoveryCode.hash(code)) for code in codes
    )
    return [format_recovery_code(code) for code in codes]


def format_recovery_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


@transaction.atomic
def turn_off(request: HttpRequest, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()  # the recovery codes go too (below)
    security_event(request, "two-factor disabled", user)


@receiver(post_delete, sender=TOTPDevice, dispatch_uid="candor.two_factor.app_deleted")
def _forget_recovery_codes(sender, instance: TOTPDevice, **kwargs) -> None:
    # The one place recovery codes go with the app: turning it off, an admin
    # deleting a lost app (Django admin, or the shell: docs/deploy.md) resets
    # two-factor sign-in for that person, and they set it up again.
    if not TOTPDevice.objects.filter(user_id=instance.user_id, confirmed=True).exists():
        RecoveryCodeDevice.objects.filter(user_id=instance.user_id).delete()


# --- Checking a code -------------------------------------------------------------------


def normalize_code(code: str) -> str:
    return "".join(str(code).split())


@dataclass
class Check:
    device: TOTPDevice | RecoveryCodeDevice | None
    wait_seconds: int = 0  # the app refuses to check codes for a while after failures

    @property
    def ok(self) -> bool:
        return self.device is not None


def check_code(user: User, code: str) -> Check:
    """A 6-digit app code or a recovery code (each recovery code works once)."""
    code = normalize_code(code)
    app = app_device(user)
    if app is None:
        return Check(None)
    if code.isdigit() and len(code) == app.digits:
        allowed, why = app.verify_is_allowed()
        if not allowed:
            wait = (why or {}).get("locked_until")
            seconds = max(1, int((wait.timestamp() - time.time()) + 1)) if wait else 1
            return Check(None, wait_seconds=seconds)
        return Check(verify_token(user, app.persistent_id, code))
    recovery = recovery_device(user)
    if recovery is None:
        return Check(None)
    device = verify_token(user, recovery.persistent_id, code)
    return Check(device)


def is_locked_out(request: HttpRequest, user: User) -> bool:
    """django-axes's verdict for this username and address."""
    return not AxesProxyHandler.is_allowed(request, {"username": user.get_username()})


def record_failure(request: HttpRequest, user: User, what: str) -> None:
    """A wrong code (or password) counts as a failed log-in for django-axes,
    which locks the account after the fifth (AXES_FAILURE_LIMIT); the security
    log says which step failed, never what was typed."""
    security_event(request, f"{what} refused", user, level=logging.WARNING)
    # accounts/audit.py knows this sender: the line above is the log's line.
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )


def record_success(request: HttpRequest, user: User, device) -> None:
    how = "recovery code" if isinstance(device, RecoveryCodeDevice) else "authenticator app"
    note = f"{device.remaining} recovery codes left" if how == "recovery code" else ""
    security_event(request, f"two-factor code accepted ({how})", user, note=note)


# --- The second log-in step ------------------------------------------------------------


def begin_login(request: HttpRequest, user: User, next_url: str) -> None:
    """The password was right: remember who, until the code comes (the user
    is not logged in yet)."""
    request.session[PENDING_KEY] = {
        "user_id": user.pk,
        "backend": user.backend,
        "next": next_url,
        "started": int(time.time()),
    }


def pending_login(request: HttpRequest) -> tuple[User, str, str] | None:
    """(user, backend, next) of a password-checked log-in waiting for its code."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - pending.get("started", 0) > PENDING_SECONDS:
        del request.session[PENDING_KEY]
        return None
    user = get_user_model()._default_manager.filter(pk=pending.get("user_id"), is_active=True)
    user = user.first()
    if user is None:
        return None
    return user, pending["backend"], pending["next"]


def cancel_login(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)


def finish_login(request: HttpRequest, user: User, backend: str, device) -> None:
    """Log in (a new session key; axes resets the failures; the security log
    says "login succeeded") with the session verified by `device`."""
    cancel_login(request)
    user.otp_device = device  # django_otp's user_logged_in handler stores it in the session
    auth_login(request, user, backend=backend)


def verify_session(request: HttpRequest, device) -> None:
    """A signed-in user proved the second factor: verify the session (under a new key)."""
    otp_login(request, device)
    request.session.cycle_key()


# --- Requiring it ----------------------------------------------------------------------


def safe_next(request: HttpRequest, url: str | None, default: str = "profile") -> str:
    return local_url(request, url) or resolve_url(default)


def ask_for_second_factor(request: HttpRequest, next_url: str, purpose: str) -> HttpResponse:
    """Send a signed-in user who must be verified to the code page (app set
    up) or to setting it up, with `next` to come back."""
    if is_enrolled(request.user):
        messages.info(request, f"Enter a code from your authenticator app to {purpose}.")
        return redirect_to_code(next_url)
    query = urlencode({"next": next_url})
    messages.warning(
        request,
        f"Admins must use two-factor sign-in to {purpose}. Set it up below; "
        "you will be taken back afterwards.",
    )
    return redirect(f"{reverse('two-factor-setup')}?{query}")


def redirect_to_code(next_url: str) -> HttpResponse:
    """To the code page of a signed-in session, coming back to `next_url` after."""
    return redirect(f"{reverse('login-code')}?{urlencode({'next': next_url})}")


# Set on a view wrapped by verified_required (and, through functools.wraps, on
# the decorators stacked above it): it asks for the code itself.
ASKS_FOR_CODE = "asks_for_second_factor"


def verified_required(back: str | None = None, purpose: str = "continue") -> Callable[[View], View]:
    """The view needs a session verified with a second factor.

    Put it under the permission check (a role too low still gets 403). A GET
    comes back to itself afterwards; a POST to the page named `back` (with
    the view's URL arguments), where its form is.

    SecondFactorMiddleware leaves such a view to ask for the code itself, so
    the decorators above this one run first for a session not verified yet:
    they may keep what the form sent for the return (a let-go decision's note)
    and must do nothing else.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if is_verified(request.user):
                return view(request, *args, **kwargs)
            if request.method == "GET" or back is None:
                next_url = request.get_full_path()
            else:
                next_url = reverse(back, args=args, kwargs=kwargs)
            security_event(request, "two-factor required", request.user, level=logging.WARNING)
            return ask_for_second_factor(request, next_url, purpose)

        setattr(wrapper, ASKS_FOR_CODE, True)
        return wrapper

    return decorator
