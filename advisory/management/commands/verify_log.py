from __future__ import annotations

import datetime
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from advisory.evidence import integrity
from advisory.history import log, signing, verification
from advisory.models import EvidenceCheck, EvidenceFile, LogEntry


class Command(BaseCommand):
    help = (
        "Check the log: every entry against its digest and its history entry, every "
        "signed tree head (root, signature, consistency, timestamp), that nothing was "
        "cut from the end, the hash chain the log replaced, and that every stored "
        "evidence file still holds the bytes uploaded. Exits with status 1 and names "
        "what fails."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="First log history entries that are not in the log, oldest first, at its "
            "end (for entries written around the application). It logs whatever it "
            "finds, so run without it first and read what it reports.",
        )

    def handle(self, *args, backfill: bool = False, verbosity: int = 1, **options) -> None:
        quiet = not sys.stderr.isatty()
        if backfill:
            with tqdm(unit="entry", desc="Logging", disable=quiet) as bar:
                logged = log.backfill(progress=bar.update)
            entries = "entry" if logged == 1 else "entries"
            self.stdout.write(f"Logged {logged} history {entries} that were not in the log.")
        with tqdm(
            total=LogEntry.objects.count(), unit="entry", desc="Verifying", disable=quiet
        ) as bar:
            report = verification.verify(progress=bar.update)
        with tqdm(
            total=EvidenceFile.objects.count(), unit="file", desc="Evidence", disable=quiet
        ) as bar:
            failed_files = integrity.evidence_check_all(progress=bar.update)

        problems = []
        if report.ok:
            self.stdout.write(self.style.SUCCESS(intact(report)))
            self.stdout.write(heads_summary(report))
            if verbosity >= 2 and report.latest_head is not None:
                head = report.latest_head
                self.stdout.write(f"Latest tree head: #{head.pk}, root {head.root_hash}")
                self.stdout.write(f"Signed by key:    {head.key_id}")
        else:
            problems.append(describe(report))
        if key_problem := signing.key_problem():
            problems.append(f"New tree heads cannot be signed. {key_problem}")
        if failed_files:
            problems.append(describe_files(failed_files))
        else:
            self.stdout.write(
                self.style.SUCCESS("Evidence files: every stored file matches its SHA-256.")
            )
        if problems:
            raise CommandError("\n\n".join(problems))


def intact(report: verification.Report) -> str:
    text = f"Log intact: {report.entries} entries verified"
    if report.carried:
        text += f" (the {report.carried} carried over from the old hash chain still match it)"
    return text + "."


def heads_summary(report: verification.Report) -> str:
    head = report.latest_head
    if head is None:
        return "No signed tree head yet: `manage.py log_head` signs one (the worker does hourly)."
    lines = [
        f"{len(report.heads)} signed tree head{'s' if len(report.heads) != 1 else ''} verified; "
        f"the latest (#{head.pk}, {_when(head.signed_at)}) covers {head.size} of "
        f"{report.entries} entries."
    ]
    if head.timestamp_token is not None:
        lines.append(
            f"It was timestamped by {head.timestamp_authority} at {_when(head.timestamped_at)}."
        )
    elif not report.timestamps_on:
        lines.append("Timestamps are off (no TSA_URL): heads are signed but not timestamped.")
    if report.waiting_for_timestamp:
        waiting = report.waiting_for_timestamp
        lines.append(
            f"{len(waiting)} head{'s wait' if len(waiting) != 1 else ' waits'} for a timestamp: "
            f"{waiting[-1].timestamp_error or 'not asked yet'}"
        )
    return "\n".join(lines)


def describe(report: verification.Report) -> str:
    count = len(report.problems) + report.unlisted
    lines = [f"The log does not verify: {count} problem{'s' if count != 1 else ''}."]
    for problem in report.problems:
        lines.append(f"  {problem.where}:")
        lines.append(f"    {problem.problem}")
    if report.unlisted:
        lines.append(f"  … and {report.unlisted} more.")
    lines.append(f"{report.entries} entries read; {len(report.heads)} tree heads checked.")
    return "\n".join(lines)


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


def _when(moment: datetime.datetime | None) -> str:
    if moment is None:
        return "unknown"
    return moment.astimezone(datetime.UTC).isoformat(sep=" ", timespec="seconds")
