"""The tamper-evident chain's links (advisory.history.log writes and checks them)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChainLink(models.Model):
    """One link per history entry: SHA-256 over the entry's content and the
    previous link's hash, so a changed, removed or inserted entry breaks the
    chain from that point on (advisory/history/log.py, `manage.py verify_log`)."""

    history_model = models.CharField(max_length=100)  # "advisory.historicaldisagreement"
    history_id = models.BigIntegerField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["history_model", "history_id"], name="one_link_per_history_entry"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.history_model}:{self.history_id}"
