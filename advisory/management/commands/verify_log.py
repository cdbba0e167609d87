from __future__ import annotations

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from advisory.history import chain
from advisory.models import ChainLink


class Command(BaseCommand):
    help = (
        "Check the history's tamper-evident chain: every entry still matches its "
        "SHA-256 link and every link follows the one before it. Exits with status 1 "
        "and names the first broken link when it does not."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="First link history entries that have none yet, oldest first (for a "
            "database whose history predates the chain). It links whatever it finds, "
            "so run without it first and read what it reports.",
        )

    def handle(self, *args, backfill: bool = False, verbosity: int = 1, **options) -> None:
        quiet = not sys.stderr.isatty()
        if backfill:
            with tqdm(unit="entry", desc="Linking", disable=quiet) as bar:
                linked = chain.backfill(progress=bar.update)
            entries = "entry" if linked == 1 else "entries"
            self.stdout.write(f"Linked {linked} history {entries} that had no link.")
        with tqdm(
            total=ChainLink.objects.count(), unit="entry", desc="Verifying", disable=quiet
        ) as bar:
            result = chain.verify(progress=bar.update)
        if not result.ok:
            raise CommandError(describe(result))
        self.stdout.write(
            self.style.SUCCESS(f"History chain intact: {result.checked} entries verified.")
        )
        if verbosity >= 2:
            # Kept outside the database, it shows later whether the chain was
            # cut short or rewritten from some point on.
            self.stdout.write(f"Latest hash: {result.head}")


def describe(result: chain.Result) -> str:
    link = result.first_broken
    lines = [
        "History chain broken"
        + (f" at link #{link.pk}." if link else ": a history entry has no link."),
        f"  Model:      {result.model}",
        f"  History id: {result.history_id}",
        f"  Record:     {result.record or 'unknown (the entry is gone)'}",
        f"  Date:       {_date(result)}",
        f"  Problem:    {result.problem}",
        f"{result.checked} entries before it verified intact."
        if link
        else f"The chain itself is intact: {result.checked} entries verified.",
    ]
    return "\n".join(lines)


def _date(result: chain.Result) -> str:
    if result.history_date is None:
        return "unknown"
    return result.history_date.astimezone(datetime.UTC).isoformat(sep=" ", timespec="seconds")
