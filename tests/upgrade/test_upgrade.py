"""Upgrading keeps the old evidence verifiable.

The previous release wrote a database (release_e381913.json.gz, made by
make_fixture.py: the demo firm, with its history and hash chain, plus one of
each kind of history the demo lacks). Here the test database is migrated back
to that release's migrations, those rows are loaded as they were, the database
is migrated forward to the current migrations as `manage.py migrate` would,
and `verify_log` must find the log intact: migration 0015 carried every entry
of the old hash chain into the log, each still matching its old link, and
each history entry read back by the current code still says what was logged.

What breaks it: a history model's label changing (a model renamed or moved
to another app), a tracked field renamed without `log.RENAMED_FIELDS`, its
values stored differently, a migration rewriting history rows.

Only stable names are used here (Django's migration machinery, `call_command`,
the app registry), not the product's modules, which move around.
"""

from __future__ import annotations

import gzip
import json
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.upgrade import tables

FIXTURE = Path(__file__).with_name("release_e381913.json.gz")


@pytest.fixture(scope="module")
def release() -> dict:
    with gzip.open(FIXTURE, "rt", encoding="utf-8") as file:
        return json.load(file)


# What make_fixture.py attached; the files are backed up with the database.
EVIDENCE_CONTENT = b"Call notes: the client's reply.\n"


def restore_evidence_files(release: dict, media: Path) -> None:
    table = release["tables"]["advisory_evidencefile"]
    for row in table["rows"]:
        name = row[table["columns"].index("file")]
        (media / name).parent.mkdir(parents=True, exist_ok=True)
        (media / name).write_bytes(EVIDENCE_CONTENT)


@pytest.mark.usefixtures("_as_found")
@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_previous_release_upgrades_and_verifies(release: dict, media) -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    old_leaves = [(app, name) for app, name in release["leaves"]]

    # Back to the release's schema; an app it did not have loses its tables.
    executor = MigrationExecutor(connection)
    old_apps = {app for app, _ in old_leaves}
    newer = [(app, None) for app, _ in executor.loader.graph.leaf_nodes() if app not in old_apps]
    executor.migrate(old_leaves + newer)

    # The release's rows, through the models of its migration state.
    loaded = tables.replace_all(
        connection, tables.state_apps(connection, old_leaves), release["tables"]
    )
    assert loaded == sum(len(table["rows"]) for table in release["tables"].values())
    restore_evidence_files(release, media)
    ContentType.objects.clear_cache()

    # Forward to the current schema, as `manage.py migrate` does.
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    plan = executor.migration_plan(leaves)
    state = executor.migrate(leaves, plan=plan)
    emit_post_migrate_signal(0, False, connection.alias, apps=state.apps, plan=plan)
    assert not MigrationExecutor(connection).migration_plan(leaves)

    out = StringIO()
    call_command("verify_log", verbosity=2, stdout=out)
    chain = release["chain"]
    entries = chain["entries"]
    assert (
        f"Log intact: {entries} entries verified (the {entries} carried over from the old "
        "hash chain still match it)." in out.getvalue()
    )
    chain_link = apps.get_model("advisory", "ChainLink")
    assert chain_link.objects.order_by("pk").last().hash == chain["head"]  # kept as it was

    # From now on a signed head covers the carried entries.
    call_command("log_head", stdout=StringIO())
    out = StringIO()
    call_command("verify_log", stdout=out)
    assert f"covers {entries} of {entries} entries" in out.getvalue()

    # The check has teeth: one old entry changed by hand is found.
    link = chain_link.objects.order_by("pk")[entries // 2]
    history = apps.get_model(link.history_model)
    table, id_column = map(
        connection.ops.quote_name, [history._meta.db_table, history._meta.pk.column]
    )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET history_change_reason = %s WHERE {id_column} = %s",
                ["Rewritten afterwards", link.history_id],
            )
            assert cursor.rowcount == 1
        with pytest.raises(CommandError, match=rf"history entry {link.history_id} of") as error:
            call_command("verify_log")
        assert "history_change_reason no longer says what was logged" in str(error.value)
        transaction.set_rollback(True)
