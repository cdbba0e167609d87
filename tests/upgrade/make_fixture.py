"""Make the upgrade test's fixture: a database written by an earlier release.

    .venv/bin/python tests/upgrade/make_fixture.py e381913

writes tests/upgrade/release_e381913.json.gz, which test_upgrade.py loads at
that release's schema, migrates to the current one and verifies. For the next
release: run it with that release's commit and point test_upgrade.FIXTURE at
the new file (keeping the old fixture and test case too costs a few hundred
kB; the oldest schema still in production is the one worth keeping).

What it does, all with the old release's own code (this venv's packages):

1. `git archive <commit>` unpacked into a temporary directory: no checkout,
   so this repository's index, branches and work tree are untouched.
2. There, on a new SQLite database (DEBUG=true, TASKS_IMMEDIATE=true, no
   .env file read, MEDIA_ROOT in the temporary directory):
       manage.py migrate
       manage.py seed_demo        # 4 users, 40 clients, ~600 disagreements,
                                  # let-go cases, a year of health snapshots
       manage.py shell -c EXTRAS  # below: what the demo has none of
       manage.py verify_log -v 2  # intact; its count and latest hash are kept
3. `make_fixture.py --export` in the same directory: every table's rows
   (but django_migrations), read through the migration state the database
   is at (tables.py), with every app's leaf migrations.
4. The fixture: gzipped JSON (written with mtime 0) of
       {"release", "made", "commands", "leaves": [[app, migration], ...],
        "chain": {"entries": N, "head": "<latest hash>"}, "tables": {...}}.

The data's dates follow the day it is made (the demo is two years up to
today); nothing in the test depends on them.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# Run with the old release's code after seed_demo: one of each chained kind of
# history the demo leaves empty (evidence files, band overrides), an
# amendment, an archived disagreement, an API token and a notification.
EXTRAS = """
import datetime
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from accounts.models import ApiToken, User
from advisory.evidence import evidence_attach
from advisory.models import Band, Client, Disagreement, NotificationKind
from advisory.notifications import notify
from advisory.services import band_override_set, disagreement_amend, record_set_archived

manager = User.objects.get(username="manager")
advisor = User.objects.get(username="advisor")
open_ones = Disagreement.objects.filter(
    client__status=Client.Status.ACTIVE, client__lead_advisor=advisor, is_archived=False
).order_by("pk")

reviewed = open_ones.filter(reviewed_at__isnull=False).first()
disagreement_amend(
    reviewed,
    by=manager,
    field="recommendation",
    new_value=reviewed.recommendation + " In writing, before the next board meeting.",
    reason="The recommendation was recorded without its deadline.",
    expected_version=reviewed.version,
)
disputed = open_ones.filter(reviewed_at__isnull=True).first()
evidence_attach(
    disputed,
    by=advisor,
    upload=SimpleUploadedFile("call-notes.txt", "Call notes: the client's reply.\\n".encode()),
    description="Notes of the call",
)
archived = open_ones.filter(reviewed_at__isnull=True).exclude(pk=disputed.pk).first()
record_set_archived(archived, by=advisor, archived=True, expected_version=archived.version)

client = disputed.client
week = timezone.localdate() + datetime.timedelta(days=7)
for band in (Band.STRAINED, Band.ADVERSARIAL):  # the second ends the first
    band_override_set(client, by=manager, band=band, reason=f"Judged {band}.", expires_on=week)
ApiToken.objects.issue(user=advisor, name="Reporting script")
notify(
    kind=NotificationKind.BAND_WORSENED,
    event_key="fixture:band",
    recipients=[advisor],
    title=f"{client.name} is now adversarial",
    body="Strained → adversarial.",
    url=client.get_absolute_url(),
    client=client,
)
print("Extras: 1 amendment, 1 evidence file, 1 archived, 2 band overrides, 1 token, 1 notice.")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", nargs="?", help="the release's commit (e.g. e381913)")
    parser.add_argument("--export", metavar="FILE", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.export:
        export(Path(arguments.export))
    elif arguments.commit:
        make(arguments.commit)
    else:
        parser.error("give the release's commit")


def make(commit: str) -> None:
    sha = _run(["git", "-C", str(REPO), "rev-parse", f"{commit}^{{commit}}"]).strip()
    short = _run(["git", "-C", str(REPO), "rev-parse", "--short=7", sha]).strip()
    with tempfile.TemporaryDirectory(prefix="candor-release-") as temporary:
        work = Path(temporary)
        release = work / "release"
        release.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", sha], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(release)], input=archive, check=True)
        if (REPO / "node_modules").exists():
            (release / "node_modules").symlink_to(REPO / "node_modules")
        env = {
            **os.environ,
            "ENV_FILE": "",
            "DATABASE_URL": f"sqlite:///{work / 'old.sqlite3'}",
            "DEBUG": "true",
            "SECRET_KEY": "release-fixture",
            "TASKS_IMMEDIATE": "true",
            "HUEY_FILE": str(work / "huey.sqlite3"),
            "MEDIA_ROOT": str(work / "media"),
            "REDIS_URL": "",
            "EMAIL_URL": "",
        }
        commands = [
            ["manage.py", "migrate", "--verbosity", "0"],
            ["manage.py", "seed_demo"],
            ["manage.py", "shell", "--command", EXTRAS],
        ]
        for command in commands:
            print("$", " ".join(command[:2]), flush=True)
            output = _run([sys.executable, *command], cwd=release, env=env)
            # The shell's output includes the notification's e-mail: its last line will do.
            if "shell" in command:
                output = output.strip().splitlines()[-1] + "\n"
            print(output, end="", flush=True)
        verified = _run(
            [sys.executable, "manage.py", "verify_log", "--verbosity", "2"], cwd=release, env=env
        )
        print(verified, end="")
        entries = int(re.search(r"History chain intact: (\d+) entries verified", verified)[1])
        head = re.search(r"Latest hash: ([0-9a-f]{64})", verified)[1]
        exported = work / "export.json"
        _run([sys.executable, __file__, "--export", str(exported)], cwd=release, env=env)
        content = json.loads(exported.read_text())

    fixture = {
        "release": sha,
        "made": datetime.date.today().isoformat(),
        "commands": [
            f"git archive {sha}",
            "manage.py migrate",
            "manage.py seed_demo",
            "manage.py shell --command EXTRAS  # in tests/upgrade/make_fixture.py",
            "manage.py verify_log --verbosity 2",
            "tests/upgrade/make_fixture.py --export",
        ],
        "leaves": content["leaves"],
        "chain": {"entries": entries, "head": head},
        "tables": content["tables"],
    }
    target = HERE / f"release_{short}.json.gz"
    text = json.dumps(fixture, ensure_ascii=False, separators=(",", ":"))
    with gzip.GzipFile(target, "wb", compresslevel=9, mtime=0) as file:
        file.write(text.encode("utf-8"))
    rows = sum(len(table["rows"]) for table in fixture["tables"].values())
    print(
        f"{target.relative_to(REPO)}: {len(fixture['tables'])} tables, {rows} rows, "
        f"{entries} chain links, {target.stat().st_size // 1024} kB."
    )


def export(target: Path) -> None:
    """In the old release's directory: its leaves and every table's rows."""
    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import tables  # this directory's module (the script's own directory is on the path)
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection)
    leaves = sorted(loader.graph.leaf_nodes())
    missing = [node for node in leaves if node not in loader.applied_migrations]
    if missing:
        raise SystemExit(f"Not migrated: {missing}")
    content = {
        "leaves": leaves,
        "tables": tables.dump(connection, tables.state_apps(connection, leaves)),
    }
    target.write_text(json.dumps(content, ensure_ascii=False))


def _run(command: list[str], **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"Failed ({result.returncode}): {' '.join(command[:3])}")
    return result.stdout


if __name__ == "__main__":
    main()
