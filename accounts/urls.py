from __future__ import annotations

from django.urls import include, path

# Django's own views: login, logout, password change and reset. Templates live
# in templates/registration/.
urlpatterns = [
    path("", include("django.contrib.auth.urls")),
]
