"""The Django admin is the firm administrators' tool: staff of other roles
get no access, whatever flags their account carries, and admins only with a
session verified by two-factor sign-in (accounts/two_factor.py)."""

from __future__ import annotations

from functools import update_wrapper

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

PURPOSE = "manage users in the Django admin"


class CandorAdminSite(admin.AdminSite):
    site_header = "Candor administration"
    site_title = "Candor administration"

    def has_permission(self, request: HttpRequest) -> bool:
        from accounts.two_factor import is_verified

        return self._is_admin(request) and is_verified(request.user)

    def _is_admin(self, request: HttpRequest) -> bool:
        from accounts.roles import Role
        from accounts.scoping import role_of

        return super().has_permission(request) and role_of(request.user) == Role.ADMIN

    def _needs_second_factor(self, request: HttpRequest) -> bool:
        return self._is_admin(request) and not self.has_permission(request)

    def admin_view(self, view, cacheable=False):
        # An admin without a verified session goes to the code page (or to set
        # two-factor sign-in up) and comes back, rather than to a log-in form.
        inner = super().admin_view(view, cacheable)

        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if self._needs_second_factor(request) and request.path != reverse("admin:logout"):
                from accounts.two_factor import ask_for_second_factor

                return ask_for_second_factor(request, request.get_full_path(), PURPOSE)
            return inner(request, *args, **kwargs)

        return update_wrapper(guarded, inner)

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        """Nobody logs in here: the site's own log-in page asks for the
        two-factor code, which the admin's form would skip."""
        # Imported here: this module loads before the apps' models.
        from django.contrib.auth.views import LoginView, redirect_to_login

        next_url = LoginView().get_redirect_url(request) or reverse("admin:index")
        if self.has_permission(request):
            return redirect(next_url)
        if self._needs_second_factor(request):
            from accounts.two_factor import ask_for_second_factor

            return ask_for_second_factor(request, next_url, PURPOSE)
        return redirect_to_login(next_url, reverse("login"))


class CandorAdminConfig(AdminConfig):
    default_site = "config.admin.CandorAdminSite"
