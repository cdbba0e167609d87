"""Django admin for the records: read-only, with their history.

Every change goes through the app's services (version check, review lock,
reason kept in history); records are archived there, never deleted. The admin
is for looking, so nobody, superusers included, adds, changes or deletes here.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin

from advisory.models import (
    Amendment,
    Client,
    Comment,
    Disagreement,
    Engagement,
    EvidenceFile,
    Notification,
)


class ReadOnlyMixin:
    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # simple-history's "revert to this version" form checks only the view
        # permission and saves on POST: looking at an old version is fine,
        # rewriting the record from it is not.
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, SimpleHistoryAdmin):
    pass


@admin.register(Client)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "lead_advisor", "team", "status", "health_band", "is_archived"]
    list_filter = ["status", "kind", "team", "is_archived"]
    search_fields = ["name", "contact_name", "contact_email"]
    list_select_related = ["lead_advisor", "team"]
    raw_id_fields = ["lead_advisor"]


@admin.register(Engagement)
class EngagementAdmin(ReadOnlyAdmin):
    list_display = ["title", "client", "lead_advisor", "status", "start_date", "is_archived"]
    list_filter = ["status", "is_archived"]
    search_fields = ["title", "client__name"]
    list_select_related = ["client", "lead_advisor"]
    raw_id_fields = ["client", "lead_advisor", "members"]


@admin.register(Disagreement)
class DisagreementAdmin(ReadOnlyAdmin):
    list_display = ["title", "client", "occurred_on", "severity", "tone", "decision", "verdict"]
    list_filter = ["severity", "tone", "decision", "verdict", "topic", "is_archived"]
    search_fields = ["title", "client__name"]
    list_select_related = ["client"]
    raw_id_fields = ["engagement", "logged_by"]
    date_hierarchy = "occurred_on"


admin.site.register([Comment, EvidenceFile], ReadOnlyAdmin)


@admin.register(Amendment)
class AmendmentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["disagreement", "field", "amended_by", "amended_at"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """What Candor told whom and whether the e-mail went out (emailed_at, attempts)."""

    list_display = ["title", "recipient", "kind", "delivery", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind", "delivery"]
    search_fields = ["title", "recipient__username", "event_key"]
    list_select_related = ["recipient"]
    raw_id_fields = ["recipient", "client"]
    date_hierarchy = "created_at"
