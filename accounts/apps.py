from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and teams"

    def ready(self) -> None:
        # Connect the log-in signal receivers.
        from accounts import audit, middleware, two_factor  # noqa: F401
