from __future__ import annotations

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from advisory.health import services
from advisory.health.rollups import rebuild as rebuild_rollups
from advisory.models import Client


class Command(BaseCommand):
    help = (
        "Recompute clients' relationship health. Scores decay with time even without "
        "edits, so run it nightly (cron). Safe to run again: unchanged clients are left "
        "as they are and no duplicate snapshot is written. Also moves the health board's "
        "counts (last 90 days, overridden advice) to today's windows; --rollups rebuilds "
        "them and the board's monthly chart counts from the log."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--as-of",
            type=datetime.date.fromisoformat,
            help="Compute as of this date (YYYY-MM-DD); a past date writes only that "
            "day's snapshot. Default: today.",
        )
        parser.add_argument("--client", type=int, help="Only this client (its id).")
        parser.add_argument(
            "--rollups",
            action="store_true",
            help="First rebuild every client's board counts and monthly chart counts "
            "from the log (after a bulk load, or to check them).",
        )

    def handle(self, *args, as_of=None, client=None, rollups=False, **options) -> None:
        if as_of and as_of > timezone.localdate():
            raise CommandError("--as-of cannot be in the future.")
        if rollups:
            months, stats = rebuild_rollups(today=timezone.localdate())
            self.stdout.write(f"Rollups rebuilt: {months} client months, {stats} client counts.")
        clients = Client.objects.order_by("pk")
        if client is not None:
            clients = clients.filter(pk=client)
            if not clients.exists():
                raise CommandError(f"No client with id {client}.")
        with tqdm(total=clients.count(), unit="client", disable=not sys.stderr.isatty()) as bar:
            total, changed = services.recompute_all(
                as_of=as_of, clients=clients, progress=bar.update
            )
        self.stdout.write(f"Health recomputed for {total} clients; {changed} changed.")
