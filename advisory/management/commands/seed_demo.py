from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from advisory.seeding.demo import USERS, seed_people, seed_records


class Command(BaseCommand):
    help = (
        "Create the demo teams and users (password 'candor-demo-pass') and about forty "
        "clients with two years of engagements and disagreements, ending on a working day "
        "(open items, follow-ups due, unread notifications for each role). Safe to run again: "
        "what exists is kept. Refuses to run with DEBUG off unless --force."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--force", action="store_true", help="Run even though DEBUG is off.")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only create data when the database has no users yet (what `make run` does).",
        )

    def handle(self, *args, force: bool = False, if_empty: bool = False, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates accounts with a published password; it refuses to run "
                "with DEBUG off. Pass --force if this really is a demo installation."
            )
        if if_empty and User.objects.exists():
            self.stdout.write("Users exist already; no demo data added.")
        else:
            seed_people()
            self.stdout.write(str(seed_records()))
        self.stdout.write(self.style.SUCCESS("Demo logins (at /accounts/login/):"))
        for spec in USERS:
            password = settings.CANDOR_DEMO_PASSWORD
            self.stdout.write(f"  {spec.username:<9} {spec.role.label:<8} password: {password}")
