from __future__ import annotations

from django.urls import include, path

from accounts import views

# Django's own views: login, logout, password change and reset. Templates live
# in templates/registration/.
urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("", include("django.contrib.auth.urls")),
]
