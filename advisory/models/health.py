"""Relationship health as stored: daily snapshots, the board's rollups and
managers' band overrides. The score itself is advisory.health.score."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.models import User
from advisory.models.records import Band, Client, long_text


class HealthSnapshot(models.Model):
    """A client's health on a day it changed: the 12-month history and "as of" views."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="health_snapshots")
    date = models.DateField()
    score = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=20, choices=Band)
    components = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["client", "date"]
        get_latest_by = "date"
        constraints = [
            models.UniqueConstraint(fields=["client", "date"], name="one_snapshot_per_client_day")
        ]
        indexes = [models.Index(fields=["date", "band"])]

    def __str__(self) -> str:
        return f"{self.client} on {self.date}: {self.score} ({self.get_band_display()})"


class ClientStats(models.Model):
    """The health board's two counts for a client, as of `updated_on`.

    Derived from the log (advisory/health/rollups.py), not evidence: a table of its
    own so that the hash-chained history of Client stays as it is. Written by
    `health_refresh` on every disagreement write and by the nightly
    `recompute_health`; a client without a row has no disagreements counted.
    """

    client = models.OneToOneField(Client, models.CASCADE, primary_key=True, related_name="stats")
    disagreements_90d = models.PositiveIntegerField(default=0)
    overridden_recent = models.PositiveIntegerField(
        default=0, help_text="Proceeded against advice within the score's window."
    )
    updated_on = models.DateField(help_text="The day the windows were counted for.")

    class Meta:
        verbose_name_plural = "client stats"

    def __str__(self) -> str:
        return f"{self.client_id} on {self.updated_on}"


class ClientMonth(models.Model):
    """A client's active disagreements in a month, counted by tone, decision,
    verdict and topic (one column per choice: advisory/health/rollups.py). Derived
    from the log for the board's charts; rebuilt by `recompute_health --rollups`."""

    client = models.ForeignKey(Client, models.CASCADE, related_name="months")
    month = models.DateField(help_text="The month's first day.")
    total = models.PositiveIntegerField(default=0)
    tone_collaborative = models.PositiveIntegerField(default=0)
    tone_tense = models.PositiveIntegerField(default=0)
    tone_hostile = models.PositiveIntegerField(default=0)
    decision_pending = models.PositiveIntegerField(default=0)
    decision_accepted = models.PositiveIntegerField(default=0)
    decision_compromise = models.PositiveIntegerField(default=0)
    decision_proceeded = models.PositiveIntegerField(default=0)
    decision_withdrew = models.PositiveIntegerField(default=0)
    verdict_pending = models.PositiveIntegerField(default=0)
    verdict_advice_vindicated = models.PositiveIntegerField(default=0)
    verdict_client_vindicated = models.PositiveIntegerField(default=0)
    verdict_mixed = models.PositiveIntegerField(default=0)
    verdict_inconclusive = models.PositiveIntegerField(default=0)
    topic_scope = models.PositiveIntegerField(default=0)
    topic_fees = models.PositiveIntegerField(default=0)
    topic_timeline = models.PositiveIntegerField(default=0)
    topic_approach = models.PositiveIntegerField(default=0)
    topic_risk = models.PositiveIntegerField(default=0)
    topic_ethics = models.PositiveIntegerField(default=0)
    topic_staffing = models.PositiveIntegerField(default=0)
    topic_communication = models.PositiveIntegerField(default=0)
    topic_other = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["client", "month"]
        constraints = [
            models.UniqueConstraint(fields=["client", "month"], name="one_rollup_per_client_month")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} in {self.month:%Y-%m}: {self.total}"


class BandOverrideQuerySet(models.QuerySet):
    def in_force(self, on: datetime.date | None = None) -> BandOverrideQuerySet:
        on = on or timezone.localdate()
        return self.filter(expires_on__gte=on, ended_at__isnull=True)


class BandOverride(models.Model):
    """A manager's judgement of a relationship's band, with a reason and an
    expiry. It is shown beside the computed score and never replaces it."""

    client = models.ForeignKey(Client, models.PROTECT, related_name="band_overrides")
    band = models.CharField(max_length=20, choices=Band)
    reason = long_text("reason")
    expires_on = models.DateField("expires on")
    set_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")

    history = HistoricalRecords()
    objects = BandOverrideQuerySet.as_manager()

    class Meta:
        ordering = ["-set_at", "-pk"]
        indexes = [models.Index(fields=["client", "expires_on"])]
        permissions = [("override_band", "Can override a client's health band")]

    def __str__(self) -> str:
        return f"{self.client}: {self.get_band_display()} until {self.expires_on}"

    def clean(self) -> None:
        if self.expires_on and self.expires_on < timezone.localdate():
            raise ValidationError({"expires_on": "The expiry date cannot be in the past."})
        if self.reason is not None and not self.reason.strip():
            raise ValidationError({"reason": "Say why the band should be different."})
