from django.apps import AppConfig


class LogAppConfig(AppConfig):
    name = "tests.logapp"
    label = "logapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from advisory.history import log

        # Migration 0004 renamed `body` to `text`: entries logged before it
        # are compared with the column that now holds their value.
        log.RENAMED_FIELDS["logapp.historicalnote"] = {"body": "text"}
