"""Forms of the accounts pages: two-factor sign-in (accounts/two_factor_views.py)."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

# The field is called "code" everywhere: settings.AXES_SENSITIVE_PARAMETERS
# keeps django-axes from storing what was typed in it.


class CodeForm(forms.Form):
    """The second log-in step: an app code or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=40,
        strip=True,
        help_text="The 6-digit code your authenticator app shows for Candor, "
        "or one of your recovery codes.",
        error_messages={"required": "Enter the code from your authenticator app."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


class SetupForm(forms.Form):
    """Confirming a new authenticator app with the code it shows."""

    code = forms.CharField(
        label="6-digit code from the app",
        max_length=12,
        strip=True,
        validators=[
            RegexValidator(
                r"^\s*\d{3}\s?\d{3}\s*$", "Enter the 6 digits the app shows, e.g. 123456."
            )
        ],
        error_messages={"required": "Enter the 6-digit code the app shows for Candor."},
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class TurnOffForm(forms.Form):
    """Proof that the person turning two-factor sign-in off is the user."""

    code = forms.CharField(
        label="Your password or a code from your authenticator app",
        max_length=200,
        strip=False,
        error_messages={"required": "Enter your password or a current code to turn it off."},
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
