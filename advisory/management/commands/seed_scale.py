from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from advisory.seeding.scale import (
    ADMIN,
    ADVISOR,
    DEFAULT_PASSWORD,
    MANAGER,
    foreign_data,
    seed_rows_present,
    seed_scale,
)
from advisory.web import page_cache


class Command(BaseCommand):
    help = (
        "Build a large firm for performance work: teams, advisors, managers, ~4 engagements "
        "per client and disagreements over five years with the demo's mix, health computed. "
        "SEED DATA ONLY: rows are written in bulk (COPY on PostgreSQL), bypassing the "
        "per-row history and its hash chain, so they have no History tab entries (verify_log "
        "still reports the chain intact). Never run it on a real firm's database: it refuses "
        "when the database holds anything but seed data, unless --force. Logins: "
        f"{MANAGER} (manager of the biggest team), {ADVISOR} (advisor with many clients), "
        f"{ADMIN}; password from --password, else CANDOR_SCALE_PASSWORD, else "
        f"'{DEFAULT_PASSWORD}'."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--clients", type=int, default=10_000, help="Default 10000.")
        parser.add_argument("--disagreements", type=int, default=1_000_000, help="Default 1000000.")
        parser.add_argument(
            "--seed", default="candor-scale", help="Random seed: the same seed, the same firm."
        )
        parser.add_argument(
            "--password",
            default=os.environ.get("CANDOR_SCALE_PASSWORD", DEFAULT_PASSWORD),
            help="Password of every seed user (default: $CANDOR_SCALE_PASSWORD or "
            f"'{DEFAULT_PASSWORD}').",
        )
        parser.add_argument(
            "--snapshot-months",
            type=int,
            default=12,
            help="Month-end health snapshots to write per client where the score changed "
            "(default 12; 0 for today's values only, without snapshots).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even though the database holds data that is not seed data.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bars.")

    def handle(self, *args, **options) -> None:
        clients, disagreements = options["clients"], options["disagreements"]
        if clients < 1 or disagreements < 0:
            raise CommandError("--clients must be at least 1 and --disagreements at least 0.")
        if seed_rows_present():
            raise CommandError(
                "This database already holds scale seed data (users named scale-…). "
                "Seed a fresh database instead (createdb, migrate, seed_scale)."
            )
        found = foreign_data()
        if found and not options["force"]:
            raise CommandError(
                f"This database holds data that is not seed data ({', '.join(found)}). "
                "seed_scale writes without history and is meant for an empty database; "
                "pass --force to add the seed firm anyway."
            )

        def progress(**kwargs):
            return tqdm(disable=options["no_progress"], mininterval=1.0, **kwargs)

        started = time.monotonic()
        summary = seed_scale(
            clients=clients,
            disagreements=disagreements,
            seed=options["seed"],
            password=options["password"],
            snapshot_months=options["snapshot_months"],
            progress=progress,
            say=lambda text: self.stdout.write(text),
        )
        # COPY goes around Django's statement wrappers: cached pages are out of date.
        page_cache.bump()
        self.stdout.write(self.style.SUCCESS(str(summary)))
        self.stdout.write(f"Total time {time.monotonic() - started:.0f} s. Logins:")
        for name, what in [
            (MANAGER, "manager of the biggest team"),
            (ADVISOR, "advisor with many clients"),
            (ADMIN, "admin"),
        ]:
            self.stdout.write(f"  {name:<15} {what}")
        self.stdout.write("Password: the --password given (default documented in --help).")
