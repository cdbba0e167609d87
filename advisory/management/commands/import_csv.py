from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import User
from advisory.transfer import imports


class Command(BaseCommand):
    help = (
        "Import clients or engagements from a CSV file, as the web import does: every "
        "row is checked first, and if any has a problem they are all listed (with line "
        "and column) and nothing is stored (exit status 1). Otherwise every row is "
        "stored in one transaction, attributed in the history to the --as user with "
        'the reason "Imported from <file name>".'
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=list(imports.KINDS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--as",
            dest="username",
            required=True,
            metavar="USERNAME",
            help="The manager or admin importing: their scope applies and the history names them.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and report what would happen; store nothing.",
        )

    def handle(self, *args, kind: str, file: Path, username: str, dry_run: bool, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user with the username “{username}”.")
        if not imports.can_import(user):
            raise CommandError(f"{username} can't import: only managers and admins can.")
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Can't read {file}: {exc.strerror or exc}.") from exc
        try:
            table = imports.read_table(data, kind)
        except imports.ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        quiet = not sys.stderr.isatty()
        with tqdm(total=len(table.rows), unit="row", desc="Checking", disable=quiet) as bar:
            plan = imports.plan_import(table, user=user, progress=bar.update)
        if not plan.ok:
            for problem in plan.problems:
                column = f", {problem.column}" if problem.column else ""
                self.stderr.write(f"line {problem.line}{column}: {problem.message}")
            count = len(plan.problems)
            raise CommandError(
                f"{count} problem{'s' if count != 1 else ''} in {file.name}: nothing was imported."
            )
        verbosity = options.get("verbosity", 1)
        if verbosity >= 2:
            for row in plan.rows:
                changes = "; ".join(f"{c.column}: {c.old} → {c.new}" for c in row.changes)
                self.stdout.write(f"line {row.line}: {row.action} {row.label}  {changes}".rstrip())
        summary = (
            f"{plan.to_create} to create, {plan.to_update} to update, {plan.unchanged} unchanged"
        )
        if dry_run:
            self.stdout.write(f"Dry run of {file.name}: {summary}. Nothing was stored.")
            return
        with tqdm(total=len(plan.rows), unit="row", desc="Importing", disable=quiet) as bar:
            try:
                imports.apply_plan(plan, by=user, filename=file.name, progress=bar.update)
            except imports.ImportFailed as exc:
                problem = exc.problem
                column = f", {problem.column}" if problem.column else ""
                raise CommandError(
                    f"line {problem.line}{column}: {problem.message} Nothing was imported."
                ) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {file.name}: {plan.to_create} created, {plan.to_update} updated, "
                f"{plan.unchanged} unchanged."
            )
        )
