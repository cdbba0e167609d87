from django.core.management.base import BaseCommand

from advisory.web import page_cache


class Command(BaseCommand):
    help = (
        "Mark every cached page out of date. Candor notices its own writes; run this "
        "after changing the database without it (psql, a restore)."
    )

    def handle(self, *args, **options) -> None:
        page_cache.bump()
        self.stdout.write("Every cached page is out of date; the next views render afresh.")
