"""The hash chain the log replaced (migration 0015): its links, kept as they were.

Nothing writes them any more. advisory.history.verification checks that each
link still links the entry carried into the log, so the old chain stays
verified, and the log's signed tree heads now cover those entries.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChainLink(models.Model):
    """One link per history entry written before the log: SHA-256 over the
    previous link's hash and the entry's canonical JSON (now kept in its
    LogEntry), so a changed, removed or inserted entry breaks the chain."""

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
