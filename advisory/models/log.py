"""The log: one Merkle-tree leaf per history entry, and the signed tree heads.

advisory.history.log writes and checks them; advisory/history/verifier.py
says how they are hashed. Neither table is history-tracked: they are the
record of the history, and nothing in them is ever updated but a head's
timestamp, which is added once it is obtained.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class LogEntry(models.Model):
    """A history entry as it was logged: the exact canonical JSON that was
    hashed, its salt and its digest, at a fixed position in the tree.

    The canonical JSON is kept, not recomputed, so that a migration adding,
    removing or renaming a field of a history-tracked model changes nothing
    that was hashed: the entry still verifies, and the history row is
    compared with it field by field.
    """

    index = models.BigIntegerField(primary_key=True)  # the leaf's position, 0, 1, 2, … no gaps
    history_model = models.CharField(max_length=100)  # "advisory.historicaldisagreement"
    history_id = models.BigIntegerField()
    canonical = models.TextField()  # compact JSON, sorted keys; hashed as UTF-8
    salt = models.CharField(max_length=32)  # 16 random bytes, hex
    digest = models.CharField(max_length=64)  # SHA-256(salt || canonical), hex
    logged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["index"]
        verbose_name_plural = "log entries"
        constraints = [
            models.UniqueConstraint(
                fields=["history_model", "history_id"], name="one_log_entry_per_history_entry"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.index} {self.history_model}:{self.history_id}"


class TreeHead(models.Model):
    """The log's size and root hash at a moment, signed by the firm's key and,
    when an RFC 3161 authority is configured, timestamped by it."""

    size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()  # the head's own time, in its signed text
    key_id = models.CharField(max_length=64)  # SHA-256 of the raw public key, hex
    public_key = models.TextField()  # PEM: the key that signed it, for checking after rotation
    signature = models.CharField(max_length=128)  # Ed25519 over the head's text, hex
    timestamp_token = models.BinaryField(null=True, blank=True)  # DER TimeStampResp
    timestamp_authority = models.CharField(max_length=500, blank=True)  # the TSA's URL
    timestamped_at = models.DateTimeField(null=True, blank=True)  # genTime in the token
    timestamp_error = models.TextField(blank=True)  # the last failure, while there is no token
    timestamp_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        get_latest_by = "pk"
        permissions = [("sign_treehead", "Can sign a tree head of the log on demand")]

    def __str__(self) -> str:
        return f"Tree head #{self.pk}: {self.size} entries, {self.root_hash[:12]}…"
