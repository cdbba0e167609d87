from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from advisory.api.docs import ApiDocsView
from config import probes

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("healthz/ready", probes.healthz_ready, name="healthz-ready"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(), name="api-docs"),
    path("api/", include("advisory.api.urls")),
    path("", include("advisory.urls")),
]

# The database unreachable answers 503, whichever layer raised (config/middleware.py).
handler500 = "config.middleware.server_error"
