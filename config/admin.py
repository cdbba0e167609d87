"""The Django admin is the firm administrators' tool: staff of other roles
get no access, whatever flags their account carries."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class CandorAdminSite(admin.AdminSite):
    site_header = "Candor administration"
    site_title = "Candor administration"

    def has_permission(self, request: HttpRequest) -> bool:
        from accounts.models import Role
        from accounts.permissions import role_of

        return super().has_permission(request) and role_of(request.user) == Role.ADMIN


class CandorAdminConfig(AdminConfig):
    default_site = "config.admin.CandorAdminSite"
