from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from advisory import views as advisory_views

urlpatterns = [
    path("healthz", advisory_views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("advisory.urls")),
]
