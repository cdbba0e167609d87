"""Notifications and each person's delivery preferences."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from advisory.models.records import SHORT_TEXT, Client

# Kept in tables of their own: the history-tracked records above are
# hash-chained, and a notification is not evidence.


class NotificationKind(models.TextChoices):
    BAND_WORSENED = "band_worsened", "A client's health band worsens"
    FOLLOW_UP_DUE = "follow_up_due", "A follow-up falls due"
    ACKNOWLEDGMENT_MISSING = (
        "acknowledgment_missing",
        "A client's acknowledgment of risk is still missing after a week",
    )
    LETGO_PROPOSED = "letgo_proposed", "A let-go is proposed"
    LETGO_DECIDED = "letgo_decided", "A let-go proposal is decided"
    WEEKLY_DIGEST = "weekly_digest", "The weekly digest of your teams"


# What asks someone to act on a client: its follow-ups, an acknowledgment still
# missing, a worsened band. Once the client is let go nothing is left to act on:
# none is made (notifications.triggers.notify), e-mailed or summarised
# (NotificationQuerySet.still_to_send), and those waiting for an e-mail at the
# let-go are kept in Candor only (triggers.reminders_stop).
CLIENT_REMINDERS = (
    NotificationKind.BAND_WORSENED,
    NotificationKind.FOLLOW_UP_DUE,
    NotificationKind.ACKNOWLEDGMENT_MISSING,
)


class Delivery(models.TextChoices):
    IN_APP = "in_app", "In Candor only"
    IMMEDIATE = "immediate", "E-mail immediately"
    DAILY = "daily", "E-mail in a daily summary"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)

    def still_to_send(self) -> NotificationQuerySet:
        """All but the reminders about a client let go since they were made."""
        return self.exclude(Q(kind__in=CLIENT_REMINDERS) & Q(client__status=Client.Status.LET_GO))

    def awaiting_summary(self) -> NotificationQuerySet:
        """Notifications that wait for their recipient's next daily summary
        e-mail (none about a client let go: still_to_send)."""
        return self.filter(delivery=Delivery.DAILY, emailed_at__isnull=True).still_to_send()


class Notification(models.Model):
    """One event told to one person, in Candor and (by preference) by e-mail.

    `event_key` names the event ("band:12:2026-11-22:strained"); the unique
    constraint on (recipient, event_key) is what makes every trigger and job
    safe to run twice: the second run finds the notification already there.
    `delivery` is the recipient's preference when it was created, or "in
    Candor only" once its e-mail was stopped (the recipient chose so for the
    kind, or the client was let go before it went).
    """

    recipient = models.ForeignKey(User, models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind)
    event_key = models.CharField(max_length=200)
    title = models.CharField(max_length=SHORT_TEXT)
    body = models.TextField(blank=True)
    url = models.CharField("link", max_length=500, blank=True)
    client = models.ForeignKey(
        Client, models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    delivery = models.CharField(max_length=20, choices=Delivery)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    email_attempts = models.PositiveSmallIntegerField(default=0)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "event_key"], name="one_notification_per_event_and_person"
            )
        ]
        indexes = [
            # The bell's unread count.
            models.Index(
                fields=["recipient"],
                condition=Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
            models.Index(fields=["recipient", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient}"

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(models.Model):
    """How one person wants one kind of notification; no row means the default
    (`advisory.notifications.preferences.DEFAULT_DELIVERY`)."""

    user = models.ForeignKey(User, models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(max_length=30, choices=NotificationKind)
    delivery = models.CharField(max_length=20, choices=Delivery)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.get_kind_display()} — {self.get_delivery_display()}"
