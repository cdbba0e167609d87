"""Pages of two-factor sign-in (accounts/two_factor.py): the log-in's second
step, setting the app up, new recovery codes, turning it off."""

from __future__ import annotations

from logging import WARNING

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from accounts import two_factor
from accounts.forms import CodeForm, SetupForm, TurnOffForm
from accounts.models import RecoveryCodeDevice
from accounts.views import lockout

WRONG_CODE = (
    "That code is not right. Type the code the app shows now (it changes every "
    "30 seconds), or a recovery code you have not used yet."
)


class LoginView(auth_views.LoginView):
    """Django's log-in, then the code step for people who have an app set up.

    The password alone does not log them in: the user waits in the session
    (accounts.two_factor.begin_login) until `login_code` gets a right code.
    """

    def form_valid(self, form):
        user = form.get_user()
        two_factor.cancel_login(self.request)  # an earlier log-in left waiting
        if not two_factor.is_enrolled(user):
            return super().form_valid(form)
        two_factor.begin_login(self.request, user, self.get_success_url())
        return redirect("login-code")


@sensitive_post_parameters("code")
@never_cache
def login_code(request: HttpRequest) -> HttpResponse:
    """The code step: after the password (not logged in yet), or for a signed-in
    user whose session has not been verified (e.g. set up in another browser)."""
    pending = two_factor.pending_login(request)
    if pending is not None:
        user, backend, next_url = pending
        next_url = two_factor.safe_next(request, next_url, "dashboard")
    elif two_factor.is_enrolled(request.user) and not two_factor.is_verified(request.user):
        user, backend = request.user, None
        next_url = two_factor.safe_next(
            request, request.POST.get("next") or request.GET.get("next")
        )
    elif request.user.is_authenticated:
        return redirect(two_factor.safe_next(request, request.GET.get("next"), "dashboard"))
    else:
        messages.info(request, "Log in again: the code page waited too long.")
        return redirect("login")

    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if two_factor.is_locked_out(request, user):
            two_factor.cancel_login(request)
            return lockout(request)
        status = 400
        if form.is_valid():
            check = two_factor.check_code(user, form.cleaned_data["code"])
            if check.ok:
                two_factor.record_success(request, user, check.device)
                if pending is not None:
                    two_factor.finish_login(request, user, backend, check.device)
                else:
                    two_factor.verify_session(request, check.device)
                return redirect(next_url)
            if check.wait_seconds:
                # Not checked (the app's own throttle): no strike towards the lockout.
                two_factor.security_event(
                    request, "two-factor code not checked (too soon)", user, level=WARNING
                )
                form.add_error(
                    "code",
                    f"Too many wrong codes: wait {check.wait_seconds} seconds, then type "
                    "the code the app shows.",
                )
            else:
                two_factor.record_failure(request, user, "two-factor code")
                if getattr(request, "axes_locked_out", False):
                    two_factor.cancel_login(request)  # AxesMiddleware answers 429
                form.add_error("code", WRONG_CODE)
    context = {"form": form, "next": next_url, "signed_in": pending is None}
    return render(request, "accounts/login_code.html", context, status=status)


@sensitive_post_parameters("code")
@never_cache
@login_required
def setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app (or move to a new one): scan the QR code or
    type the key, then confirm with a code before it counts."""
    user = request.user
    next_url = two_factor.safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if two_factor.is_enrolled(user) and not two_factor.is_verified(user):
        # Sent here to come back to `next` (e.g. a let-go case): the code is
        # all that is missing. Otherwise, to move to a new app: the code first.
        if request.GET.get("next"):
            return two_factor.ask_for_second_factor(request, next_url, "continue")
        return two_factor.ask_for_second_factor(
            request, request.get_full_path(), "change two-factor sign-in"
        )
    device = two_factor.pending_setup(user)
    form = SetupForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            codes = two_factor.confirm_setup(request, device, form.cleaned_data["code"])
            if codes is not None:
                messages.success(request, "Two-factor sign-in is on.")
                return _show_recovery_codes(request, codes, next_url)
            form.add_error(
                "code",
                "That code does not match. Check that the app shows the Candor entry "
                "you just added, and type its current code.",
            )
    context = {
        "form": form,
        "next": next_url,
        "qr": two_factor.qr_data_uri(device),
        "secret": two_factor.secret_for_display(device),
        "replacing": two_factor.is_enrolled(user),
    }
    return render(request, "accounts/two_factor_setup.html", context, status=status)


def _show_recovery_codes(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    # Shown in the answer to the POST and never again: only their hashes are kept.
    return render(request, "accounts/two_factor_codes.html", {"codes": codes, "next": next_url})


@never_cache
@require_POST
@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """A new set of recovery codes; the old ones stop working."""
    user = request.user
    if not two_factor.is_enrolled(user):
        messages.info(request, "Set up two-factor sign-in first; recovery codes come with it.")
        return redirect("profile")
    if not two_factor.is_verified(user):
        return two_factor.ask_for_second_factor(
            request, f"{reverse('profile')}#two-factor", "change two-factor sign-in"
        )
    codes = two_factor.issue_recovery_codes(user)
    if isinstance(user.otp_device, RecoveryCodeDevice):
        # This session was verified by a recovery code, whose set just went:
        # the new set verifies it now (no new code was needed to get here).
        otp_login(request, two_factor.recovery_device(user))
    two_factor.security_event(request, "two-factor recovery codes replaced", user)
    messages.success(request, "New recovery codes: the old ones no longer work.")
    return _show_recovery_codes(request, codes, two_factor.safe_next(request, None))


@sensitive_post_parameters("code")
@never_cache
@login_required
def turn_off(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in off, with the password or a current code.
    Admins cannot: they need it to decide let-go cases and manage users."""
    user = request.user
    if not two_factor.is_enrolled(user):
        messages.info(request, "Two-factor sign-in is not on.")
        return redirect("profile")
    if two_factor.is_required(user):
        messages.error(
            request,
            "Admins must keep two-factor sign-in: it protects let-go decisions and "
            "user management. To move to a new phone, set up a new authenticator app instead.",
        )
        return redirect("profile")
    if not two_factor.is_verified(user):
        return two_factor.ask_for_second_factor(
            request, request.get_full_path(), "change two-factor sign-in"
        )
    form = TurnOffForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if two_factor.is_locked_out(request, user):
            return lockout(request)
        status = 400
        if form.is_valid():
            proof = form.cleaned_data["code"]
            check = None if user.check_password(proof) else two_factor.check_code(user, proof)
            if check is None or check.ok:
                two_factor.turn_off(request, user)
                messages.success(
                    request, "Two-factor sign-in is off: your password alone logs you in."
                )
                return redirect("profile")
            if check.wait_seconds:  # a code, not checked yet: no strike
                form.add_error("code", f"Too many wrong codes: wait {check.wait_seconds} seconds.")
            else:
                two_factor.record_failure(request, user, "turning off two-factor: password or code")
                form.add_error("code", "That is neither your password nor a current code.")
    return render(request, "accounts/two_factor_turn_off.html", {"form": form}, status=status)
