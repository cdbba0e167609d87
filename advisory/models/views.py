"""Saved views: a person's named filters on one of the lists.

A preference, not evidence: not history-tracked, not in the log, and
nobody but its owner ever reads it.
"""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

SAVED_VIEW_NAME = 80
SAVED_VIEW_QUERY = 2000  # well past what every filter of a list set at once needs


class SavedView(models.Model):
    """A list (by its URL name) and the query string that filters it.

    `query` is normalised when saved (advisory.web.saved_views): only the
    list's own filter and sort parameters, no page, no empty values.
    """

    class List(models.TextChoices):
        # The URL names of the lists that take filters.
        CLIENTS = "client-list", "Clients"
        ENGAGEMENTS = "engagement-list", "Engagements"
        DISAGREEMENTS = "disagreement-list", "Disagreements"
        HEALTH_BOARD = "health-board", "Relationship health"

    user = models.ForeignKey(User, models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=SAVED_VIEW_NAME)
    list_name = models.CharField("list", max_length=30, choices=List)
    query = models.CharField(max_length=SAVED_VIEW_QUERY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = [Lower("name"), "pk"]
        constraints = [
            # "Overdue" and "overdue" would be two entries nobody can tell apart.
            models.UniqueConstraint(Lower("name"), "user", name="saved_view_name_unique_per_user")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        """The list, filtered as it was saved."""
        return f"{reverse(self.list_name)}?{self.query}"
