"""Schema changes never break the log: entries logged before a migration that
adds, removes or renames a tracked field still verify after it.

tests/logapp's Note is history-tracked; its migrations add `tag` (0002),
remove `size` (0003) and rename `body` to `text` (0004). The test database is
migrated back to 0001 and forward one migration at a time, as `migrate` would
on a server; at each step an entry is written and logged through that step's
own models, and a tree head is signed at the first. At the end, with today's
code and schema, `verify_log` finds every entry and every head intact.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from advisory.history import heads, log, verification
from advisory.models import LogEntry

STEPS = ["0001_initial", "0002_note_tag", "0003_remove_note_size", "0004_rename_body_text"]


def migrate_to(name: str):
    """The logapp schema at migration `name`; its models, as `migrate` sees them."""
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    state = executor.migrate([("logapp", name)])
    return state.apps


def write(apps, **values) -> None:
    """Save a note and its history entry through the step's own models, and log it."""
    note = apps.get_model("logapp", "Note").objects.create(**values)
    entry = apps.get_model("logapp", "HistoricalNote").objects.create(
        id=note.pk,
        history_date=timezone.now(),
        history_type="+",
        history_change_reason="Written at this step",
        **values,
    )
    log.append(entry)


@pytest.mark.usefixtures("_as_found")
@pytest.mark.django_db(transaction=True)
def test_entries_logged_before_a_field_was_added_removed_or_renamed_still_verify():
    apps = migrate_to("0001_initial")
    write(apps, title="Before every change", body="The first body.", size=3)
    first_head = heads.tree_head_sign()

    apps = migrate_to("0002_note_tag")
    write(apps, title="With a tag", body="The second body.", size=5, tag="urgent")

    apps = migrate_to("0003_remove_note_size")
    write(apps, title="Without a size", body="The third body.", tag="later")

    migrate_to("0004_rename_body_text")  # today's schema: write through today's code
    from tests.logapp.models import Note

    Note.objects.create(title="After the rename", text="The fourth body.", tag="now")
    last_head = heads.tree_head_sign()

    logged = [
        entry.canonical
        for entry in LogEntry.objects.filter(history_model="logapp.historicalnote").order_by(
            "index"
        )
    ]
    assert len(logged) == 4
    assert '"size":3' in logged[0]  # the removed field's value stays in the log
    assert '"body":"The first body."' in logged[0]  # under the name it had then
    assert '"text":"The fourth body."' in logged[3]

    out = io.StringIO()
    call_command("verify_log", stdout=out)
    assert "Log intact" in out.getvalue()
    report = verification.verify()
    assert report.ok, report.problems
    assert [head.pk for head in report.heads] == [first_head.pk, last_head.pk]

    # Still with teeth: the renamed column of the first entry, changed by hand.
    Historical = Note.history.model
    Historical.objects.filter(title="Before every change").update(text="Rewritten.")
    with pytest.raises(CommandError) as error:
        call_command("verify_log", stdout=io.StringIO())
    assert "Note #1 “Before every change”" in str(error.value)
    assert "text no longer says what was logged" in str(error.value)

    # The chain of migrations runs backwards too (a rollback of a release).
    for name in reversed(STEPS[:-1]):
        migrate_to(name)
    migrate_to(STEPS[-1])
