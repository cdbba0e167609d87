from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from advisory.notifications import digest, tasks, triggers


class Command(BaseCommand):
    help = (
        "Scheduled notifications, for cron when the task worker (run_huey) does not run "
        "them: `reminders` (daily: follow-ups due, acknowledgments missing after a week), "
        "`summaries` (daily, after reminders: one e-mail per person choosing the daily "
        "summary), `digest` (weekly, Mondays: each manager's digest of the previous week). "
        "Each is safe to run twice: what was already sent is remembered and not sent again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("job", choices=["reminders", "summaries", "digest"])
        parser.add_argument(
            "--today",
            type=datetime.date.fromisoformat,
            help="Run as if today were this date (YYYY-MM-DD; reminders and digest). "
            "Default: today.",
        )

    def handle(self, *args, job: str, today=None, **options) -> None:
        if today and today > timezone.localdate():
            raise CommandError("--today cannot be in the future.")
        if job == "reminders":
            follow_ups = triggers.remind_follow_ups(today=today)
            missing = triggers.remind_missing_acknowledgments(today=today)
            self.stdout.write(
                f"Reminders created: {follow_ups} follow-up(s) due, "
                f"{missing} acknowledgment(s) missing."
            )
        elif job == "summaries":
            queued = tasks.send_daily_summaries()
            self.stdout.write(f"Daily summaries queued: {queued}.")
        else:
            digests = digest.send_weekly_digests(today=today)
            self.stdout.write(f"Weekly digests created: {digests}.")
