from __future__ import annotations

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from advisory.evidence import integrity
from advisory.history import log
from advisory.models import ChainLink, EvidenceCheck, EvidenceFile


class Command(BaseCommand):
    help = (
        "Check the history's tamper-evident chain (every entry still matches its "
        "SHA-256 link and every link follows the one before it) and that every stored "
        "evidence file still holds the bytes uploaded. Exits with status 1 and names "
        "the first broken link and each file that is not as uploaded."
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
                linked = log.backfill(progress=bar.update)
            entries = "entry" if linked == 1 else "entries"
            self.stdout.write(f"Linked {linked} history {entries} that had no link.")
        with tqdm(
            total=ChainLink.objects.count(), unit="entry", desc="Verifying", disable=quiet
        ) as bar:
            result = log.verify(progress=bar.update)
        with tqdm(
            total=EvidenceFile.objects.count(), unit="file", desc="Evidence", disable=quiet
        ) as bar:
            failed_files = integrity.evidence_check_all(progress=bar.update)
        problems = []
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(f"History chain intact: {result.checked} entries verified.")
            )
            if verbosity >= 2:
                # Kept outside the database, it shows later whether the chain was
                # cut short or rewritten from some point on.
                self.stdout.write(f"Latest hash: {result.head}")
        else:
            problems.append(describe(result))
        if failed_files:
            problems.append(describe_files(failed_files))
        else:
            self.stdout.write(
                self.style.SUCCESS("Evidence files: every stored file matches its SHA-256.")
            )
        if problems:
            raise CommandError("\n\n".join(problems))


def describe_files(failed: list[EvidenceCheck]) -> str:
    files = "file is" if len(failed) == 1 else "files are"
    lines = [f"{len(failed)} evidence {files} not as uploaded:"]
    for check in failed:
        evidence = check.evidence
        lines.append(
            f"  Evidence file #{evidence.pk} “{evidence.original_name}” "
            f"(disagreement #{evidence.disagreement_id}, stored as {evidence.file.name}): "
            f"{check.get_result_display().lower()}."
        )
        if check.result == EvidenceCheck.Result.CHANGED:
            lines.append(f"    SHA-256 recorded at upload: {evidence.sha256}")
            lines.append(f"    SHA-256 of the stored bytes: {check.found_sha256}")
    lines.append("Restore these files from a backup.")
    return "\n".join(lines)


def describe(result: log.Result) -> str:
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


def _date(result: log.Result) -> str:
    if result.history_date is None:
        return "unknown"
    return result.history_date.astimezone(datetime.UTC).isoformat(sep=" ", timespec="seconds")
