from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import two_factor_views, views
from accounts.password_reset import PasswordResetForm

# Django's own views: login, logout, password change and reset. Templates live
# in templates/registration/. The log-in comes first, our own: it adds the
# two-factor code step (accounts/two_factor_views.py) and so takes the place of
# Django's "login/" in the include below.
urlpatterns = [
    path("login/", two_factor_views.LoginView.as_view(), name="login"),
    path("login/code/", two_factor_views.login_code, name="login-code"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    # Before Django's own: a reset e-mail the mail server refuses is retried later.
    path(
        "password_reset/",
        auth_views.PasswordResetView.as_view(form_class=PasswordResetForm),
        name="password_reset",
    ),
    path("profile/two-factor/setup/", two_factor_views.setup, name="two-factor-setup"),
    path(
        "profile/two-factor/recovery-codes/",
        two_factor_views.recovery_codes,
        name="two-factor-recovery-codes",
    ),
    path("profile/two-factor/turn-off/", two_factor_views.turn_off, name="two-factor-turn-off"),
    path("", include("django.contrib.auth.urls")),
]
