from django.apps import AppConfig


class AdvisoryConfig(AppConfig):
    name = "advisory"
    verbose_name = "Advisory"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import pre_save
        from simple_history.signals import (
            post_create_historical_m2m_records,
            post_create_historical_record,
        )

        from advisory.history import log
        from advisory.web import page_cache

        # Every history entry is linked into the tamper-evident chain as it is
        # written (why a signal: see advisory/history/log.py).
        post_create_historical_m2m_records.connect(
            log.on_history_m2m_created, dispatch_uid="advisory.chain.m2m"
        )
        post_create_historical_record.connect(
            log.on_history_created, dispatch_uid="advisory.chain.entry"
        )
        # Restoring a backup (loaddata) writes no new history (see log.on_raw_save).
        pre_save.connect(log.on_raw_save, dispatch_uid="advisory.chain.raw")
        # Every write moves the page cache's data generation on (advisory/web/page_cache.py).
        connection_created.connect(page_cache.watch_writes, dispatch_uid="advisory.page_cache")
