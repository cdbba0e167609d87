"""A backup made with dumpdata and restored with loaddata into an empty
database gives back every record, every history entry and a log that
still verifies (docs/deploy.md, "Backups").

The command lines are the ones docs/deploy.md gives: natural keys for
permissions, so the restore does not depend on the database's numbering of
content types and permissions, which `migrate` and `flush` recreate (and may
number differently); sessions are left out (everyone logs in again).
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models

from advisory.history import verification
from advisory.seeding.demo import seed_people, seed_records

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 6, 30)  # records "as of" a fixed day
DUMP = [
    # XML keeps times to the microsecond; JSON rounds them to the millisecond,
    # which would change hashed history entries (the chain would not verify).
    "--format=xml",
    "--natural-foreign",
    "--exclude=contenttypes",
    "--exclude=auth.permission",
    "--exclude=sessions",
]
# Made again by `migrate`/`flush` (post_migrate), and referred to by natural key.
REMADE = {"contenttypes.ContentType", "auth.Permission"}
LEFT_OUT = {"sessions.Session"}


def every_model() -> list[type[models.Model]]:
    """Every table, many-to-many and history tables included."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.label not in REMADE | LEFT_OUT and model._meta.managed
    ]


def counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in every_model()}


def rows(model: type[models.Model]) -> list[tuple]:
    """Every column of every row, in key order. A many-to-many table's own ids
    are left out: loaddata writes its rows afresh (the pairs are what counts)."""
    fields = model._meta.concrete_fields
    if model._meta.auto_created:
        fields = [field for field in fields if not field.primary_key]
    columns = [field.attname for field in fields]
    return sorted(model._base_manager.values_list(*columns), key=repr)


def contents() -> dict[str, list[tuple]]:
    """Advisory and accounts rows in full (they never point at content types or
    permissions, whose numbers may change)."""
    return {
        model._meta.label: rows(model)
        for model in every_model()
        if model._meta.app_label in ("advisory", "accounts")
    }


def restore(path: str, empty: Callable[[], None]) -> None:
    empty()
    call_command("loaddata", path, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_content_types():
    """A restore runs in a fresh process; here, forget the content type ids
    cached before a flush renumbered them (and the ones after, once rolled back)."""
    ContentType.objects.clear_cache()
    yield
    ContentType.objects.clear_cache()


def empty_database() -> None:
    # Inside the test's transaction PostgreSQL refuses to TRUNCATE tables with
    # foreign key checks still pending; run them now (a real restore has none).
    connection.check_constraints()
    call_command("flush", interactive=False, verbosity=0)
    ContentType.objects.clear_cache()


def test_a_seeded_database_round_trips_with_its_history(tmp_path, settings):
    settings.DEBUG = True
    seed_people()
    seed_records(today=DAY)
    call_command("log_head", stdout=io.StringIO())
    before_counts, before_rows = counts(), contents()
    assert before_counts["advisory.Disagreement"] > 100
    assert before_counts["advisory.HistoricalDisagreement"] > before_counts["advisory.Disagreement"]
    assert before_counts["advisory.LogEntry"] > 1000
    assert verification.verify().ok

    backup = tmp_path / "candor.xml.gz"
    call_command("dumpdata", *DUMP, output=str(backup), verbosity=0)
    restore(str(backup), empty_database)

    assert counts() == before_counts
    after_rows = contents()
    for label, before in before_rows.items():
        changed = [(b, a) for b, a in zip(before, after_rows[label], strict=True) if b != a]
        assert not changed, f"{label}: {changed[:3]}"
    report = verification.verify()
    assert report.ok, report.problems
    assert report.entries == report.covered == before_counts["advisory.LogEntry"]


def test_restoring_into_a_database_that_still_has_rows_would_clash(tmp_path, advisor, acme):
    # Why the restore starts from an empty database (flush, or a fresh one
    # after `migrate`): the same keys cannot be loaded twice next to other rows.
    backup = tmp_path / "candor.xml"
    call_command("dumpdata", *DUMP, output=str(backup), verbosity=0)
    before = counts()
    call_command("loaddata", str(backup), verbosity=0)  # over itself: same keys, same rows
    assert counts() == before
