"""E-mail: one notification, or the daily summary of what is waiting, with unsubscribe links."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from advisory.models import (
    Delivery,
    Notification,
    NotificationKind,
)
from advisory.notifications.preferences import unsubscribe_token

logger = logging.getLogger(__name__)

Kind = NotificationKind


def _absolute(path: str) -> str:
    return f"{settings.CANDOR_BASE_URL}{path}" if path.startswith("/") else path


def _send(*, user: User, subject: str, template: str, context: dict, kinds: list[str]) -> None:
    """Render the text and HTML versions and send them to one person, with a
    one-click unsubscribe link per kind the e-mail is about."""
    unsubscribe = [
        (
            Kind(kind).label,
            _absolute(reverse("notification-unsubscribe", args=[unsubscribe_token(user, kind)])),
        )
        for kind in kinds
    ]
    context = {
        **context,
        "user": user,
        "unsubscribe": unsubscribe,
        "preferences_url": _absolute(reverse("notification-preferences")),
        "notifications_url": _absolute(reverse("notification-list")),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        to=[user.email],
        headers={
            "List-Unsubscribe": ", ".join(f"<{url}>" for _, url in unsubscribe),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send()


def email_notification(notification_id: int) -> bool:
    """Send one notification's e-mail; False when there is nothing (left) to send.

    The notification is claimed (emailed_at set) before sending and released
    if sending fails, so two runs never both send it.
    """
    notification = (
        Notification.objects.select_related("recipient")
        .filter(pk=notification_id)
        .still_to_send()
        .first()
    )
    if notification is None:
        # Gone, or a reminder about a client let go since it was queued.
        return False
    user = notification.recipient
    if not (user.is_active and user.email):
        return False
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, emailed_at__isnull=True, delivery=Delivery.IMMEDIATE
    ).update(emailed_at=now, email_attempts=F("email_attempts") + 1)
    if not claimed:
        return False
    try:
        _send(
            user=user,
            subject=notification.title,
            template="advisory/email/notification",
            context={"notification": notification, "link": _absolute(notification.url)},
            kinds=[notification.kind],
        )
    except Exception:
        Notification.objects.filter(pk=notification_id, emailed_at=now).update(emailed_at=None)
        raise
    return True


def email_daily_summary(user_id: int) -> int:
    """One e-mail with everything waiting for the user's daily summary; returns
    how many notifications it carried (0: nothing waiting, nothing sent)."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return 0
    with transaction.atomic():
        waiting = list(
            Notification.objects.select_for_update(of=("self",))
            .filter(recipient=user)
            .awaiting_summary()
            .order_by("created_at", "pk")
        )
        if not waiting:
            return 0
        now = timezone.now()
        Notification.objects.filter(pk__in=[n.pk for n in waiting]).update(
            emailed_at=now, email_attempts=F("email_attempts") + 1
        )
    for notification in waiting:
        notification.link = _absolute(notification.url)
    try:
        _send(
            user=user,
            subject=f"Candor: {len(waiting)} thing{'s' if len(waiting) != 1 else ''} to look at",
            template="advisory/email/daily_summary",
            context={"notifications": waiting},
            kinds=sorted({n.kind for n in waiting}, key=Kind.values.index),
        )
    except Exception:
        Notification.objects.filter(pk__in=[n.pk for n in waiting], emailed_at=now).update(
            emailed_at=None
        )
        raise
    return len(waiting)
