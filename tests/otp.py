"""Two-factor sign-in in tests: an authenticator app with a known key, and
the code it would show (what a person reads off their phone)."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import User

# RFC 6238's test key ("12345678901234567890"), hex as django-otp stores it.
TEST_KEY = "3132333435363738393031323334353637383930"


def enroll(user: User, key: str = TEST_KEY) -> TOTPDevice:
    """`user` has set up an authenticator app with `key` (confirmed)."""
    return TOTPDevice.objects.create(user=user, name=two_factor.APP_NAME, key=key, confirmed=True)


def code_for(device: TOTPDevice | str, *, steps_ahead: int = 0) -> str:
    """The 6-digit code the app shows now (a device, or a key in hex or base32
    as the setup page shows it); `steps_ahead` 30-second steps later."""
    if isinstance(device, TOTPDevice):
        key = device.bin_key
    else:
        from base64 import b32decode

        text = "".join(device.split()).upper()
        key = b32decode(text + "=" * (-len(text) % 8))
    return f"{totp(key, drift=steps_ahead):06d}"


class SignedInClient(Client):
    """The test client whose force_login signs in as after the whole log-in:
    someone with an authenticator app has a verified session, and an admin
    (for whom two-factor sign-in is required) has an app, set up on the spot
    if need be. `verified=False` stops after the password, as it were."""

    def force_login(self, user, backend=None, *, verified: bool = True) -> None:
        super().force_login(user, backend)
        if not verified:
            return
        device = two_factor.app_device(user)
        if device is None and two_factor.is_required(user):
            device = enroll(user)
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()
