from django.apps import AppConfig


class AdvisoryConfig(AppConfig):
    name = "advisory"
    verbose_name = "Advisory"
