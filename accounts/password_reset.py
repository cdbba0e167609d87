"""Password-reset e-mails that a mail server being down does not lose.

Django's PasswordResetForm logs a failed send and still says "we've e-mailed
you": the person waits for an e-mail that never comes. Here the failure is
logged (by user id: no address, no link) and the e-mail is handed to the task
worker, which makes a fresh link and tries again later, on the same schedule
as notification e-mails (CANDOR_NOTIFICATIONS["email_retry_delays"], see
accounts/retry.py). What the person sees does not change either way, so it
still reveals nothing about which addresses have an account.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.tasks import task
from django.template import loader
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from accounts.retry import retry_later

logger = logging.getLogger(__name__)

SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
BODY_TEMPLATE = "registration/password_reset_email.html"


def _message(context: dict, to_email: str, from_email: str | None = None) -> EmailMultiAlternatives:
    subject = "".join(loader.render_to_string(SUBJECT_TEMPLATE, context).splitlines())
    body = loader.render_to_string(BODY_TEMPLATE, context)
    return EmailMultiAlternatives(subject, body, from_email, [to_email])


def _retry(attempt: int, *, user_id: int, domain: str, site_name: str, protocol: str) -> str:
    what = f"the password reset e-mail for user {user_id}"
    return retry_later(
        send_password_reset_email,
        attempt,
        what,
        user_id=user_id,
        domain=domain,
        site_name=site_name,
        protocol=protocol,
    )


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form, with a failed send queued for a retry instead of dropped,
    and the link built from BASE_URL (settings.CANDOR_BASE_URL).

    Django would build it from the request's Host header, which a stranger
    chooses: any host ALLOWED_HOSTS accepts, with any port, would then be in a
    link mailed to the account's owner."""

    def save(self, domain_override=None, use_https=False, **kwargs) -> None:
        base = urlsplit(settings.CANDOR_BASE_URL)
        super().save(domain_override=base.netloc, use_https=base.scheme == "https", **kwargs)

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        user = context["user"]
        try:
            _message(context, to_email, from_email).send()
        except Exception as exc:
            # The exception's name only: its text may hold the address (SMTPRecipientsRefused).
            logger.error(
                "Could not send the password reset e-mail for user %s: %s",
                user.pk,
                type(exc).__name__,
            )
            try:
                _retry(
                    1,
                    user_id=user.pk,
                    domain=context["domain"],
                    site_name=context["site_name"],
                    protocol=context["protocol"],
                )
            except Exception:
                # The queue is down too: the person asks again; the page must not fail.
                logger.exception(
                    "Could not queue a retry of the password reset e-mail for user %s", user.pk
                )


@task
def send_password_reset_email(
    user_id: int, domain: str, site_name: str, protocol: str, attempt: int = 2
) -> str:
    """Try a password-reset e-mail again, with a link made now (the first one
    was never sent). Nothing is sent to someone who can no longer reset."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None or not user.has_usable_password():
        return "nothing to send"
    context = {
        "email": user.email,
        "domain": domain,
        "site_name": site_name,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
        "protocol": protocol,
    }
    try:
        _message(context, user.email).send()
    except Exception as exc:
        logger.error(
            "Could not send the password reset e-mail for user %s (attempt %d): %s",
            user_id,
            attempt,
            type(exc).__name__,
        )
        return _retry(
            attempt, user_id=user_id, domain=domain, site_name=site_name, protocol=protocol
        )
    return "sent"
