from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from advisory.history import heads, signing


class Command(BaseCommand):
    help = (
        "Sign a tree head over the log as it is now, and timestamp it when TSA_URL is "
        "set (the worker does this every hour). Without --force, a log that has not "
        "grown since the latest head gets no new one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Sign a new head even so.")

    def handle(self, *args, force: bool = False, **options) -> None:
        try:
            head = heads.tree_head_sign(force=force)
        except (signing.SigningKeyError, heads.LogDamaged) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Tree head #{head.pk}: {head.size} entries, root {head.root_hash}.")
        if head.timestamp_token is not None:
            self.stdout.write(f"Timestamped by {head.timestamp_authority}.")
        elif head.timestamp_error:
            self.stdout.write(f"Not timestamped yet: {head.timestamp_error}")
