from __future__ import annotations

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import two_factor
from accounts.models import ApiToken


def lockout(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What django-axes shows once an account is locked (AXES_LOCKOUT_CALLABLE)."""
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "accounts/lockout.html", context, status=429)


LIFETIMES = {"30": 30, "90": 90, "365": 365, "never": None}


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What it is for, so you know which to revoke later (e.g. “Reporting script”).",
    )
    lifetime = forms.ChoiceField(
        label="Expires",
        choices=[
            ("30", "In 30 days"),
            ("90", "In 90 days"),
            ("365", "In a year"),
            ("never", "Never"),
        ],
        initial="90",
        help_text="An expiring token stops by itself; one that never expires must be revoked.",
    )

    def clean_lifetime(self) -> datetime.timedelta | None:
        days = LIFETIMES[self.cleaned_data["lifetime"]]
        return datetime.timedelta(days=days) if days is not None else None


@never_cache
@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's account and API tokens. A new token's secret is shown in the
    answer to the POST that created it, and never again (only its hash is kept)."""
    form = ApiTokenForm(request.POST or None)
    new_token = secret = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            new_token, secret = ApiToken.objects.issue(
                user=request.user,
                name=form.cleaned_data["name"],
                lifetime=form.cleaned_data["lifetime"],
            )
            form = ApiTokenForm()
        else:
            status = 400
    context = {
        "form": form,
        "tokens": request.user.api_tokens.all(),
        "new_token": new_token,
        "secret": secret,
        "two_factor": _two_factor_status(request.user),
    }
    return render(request, "accounts/profile.html", context, status=status)


def _two_factor_status(user) -> dict:
    recovery = two_factor.recovery_device(user)
    return {
        "enrolled": two_factor.is_enrolled(user),
        "required": two_factor.is_required(user),
        "verified": two_factor.is_verified(user),
        "recovery_left": recovery.remaining if recovery else 0,
    }


@require_POST
@login_required
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only the user's own tokens: anyone else's answers 404.
    token = get_object_or_404(request.user.api_tokens, pk=pk)
    if token.is_active:
        token.revoke()
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("profile")
