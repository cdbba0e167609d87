from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count

from accounts.models import Team, User


class MemberOfInline(admin.TabularInline):
    model = Team.members.through
    extra = 0
    verbose_name = "team membership"
    verbose_name_plural = "team memberships"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "get_full_name", "email", "roles", "is_active", "last_login"]
    list_filter = ["groups", "is_active", "teams"]
    inlines = [MemberOfInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_fieldsets(self, request, obj=None):
        # Only a superuser may hand out superuser status or one-off permissions;
        # firm admins give people a role (group) and teams.
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        hidden = {"is_superuser", "user_permissions"}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(group.name for group in obj.groups.all()) or "—"


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "member_count"]
    search_fields = ["name"]
    filter_horizontal = ["members", "managers"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("members", distinct=True))

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj: Team) -> int:
        return obj._members
