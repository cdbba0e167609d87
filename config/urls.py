from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from advisory.views import home

urlpatterns = [
    path("healthz", home.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("advisory.urls")),
]
