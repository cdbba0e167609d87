"""Migrations that run Candor's own code still find it where it moved."""

from __future__ import annotations

from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from advisory.history import verification
from advisory.models import Client, ClientMonth, ClientStats, LetGoCase, evidence_path
from advisory.records.versioning import record_save
from tests.factories import ClientFactory, DisagreementFactory, EngagementFactory, UserFactory


@pytest.mark.django_db
def test_migration_0010_counts_a_log_that_existed_before_the_rollups(acme, dispute):
    # 0010 created the board's count tables and filled them from the log with
    # the rollups code of the day (now advisory.health.rollups).
    fill = import_module("advisory.migrations.0010_health_rollups").fill
    ClientStats.objects.all().delete()
    ClientMonth.objects.all().delete()

    fill(apps, schema_editor=None)

    assert ClientStats.objects.filter(client=acme).exists()
    month = ClientMonth.objects.get(client=acme, month=dispute.occurred_on.replace(day=1))
    assert month.total == 1


def test_migration_0001_still_names_the_evidence_upload_path():
    migration = import_module("advisory.migrations.0001_initial").Migration
    upload_to = next(
        field.upload_to
        for operation in migration.operations
        if getattr(operation, "name", "") == "EvidenceFile"
        for name, field in operation.fields
        if name == "file"
    )
    assert upload_to is evidence_path


@pytest.mark.usefixtures("_as_found")
@pytest.mark.django_db(transaction=True)
def test_migration_0018_leaves_the_log_verifying():
    """0018 only adds an index (PostgreSQL: the search's date-and-words one) to
    a history-tracked table: a log written before it verifies after it.
    No role needed (an earlier migrating test may have flushed the groups)."""
    someone = UserFactory(role="")
    engagement = EngagementFactory(client=ClientFactory(lead_advisor=someone), lead_advisor=someone)
    dispute = DisagreementFactory(engagement=engagement, logged_by=someone)
    dispute.title = "Stock count skipped again"
    record_save(dispute, by=someone, reason="Typo", expected_version=dispute.version)
    connection = connections[DEFAULT_DB_ALIAS]

    MigrationExecutor(connection).migrate([("advisory", "0017_saved_views")])
    executor = MigrationExecutor(connection)
    executor.migrate([("advisory", "0018_disagreement_recent_search_index")])

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'disagreement_recent_search_idx'"
            )
            assert cursor.fetchone()
    # On to the latest schema, which today's code (verify_log's) reads.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    out = StringIO()
    call_command("verify_log", stdout=out)
    assert "Log intact" in out.getvalue()
    report = verification.verify()
    assert report.ok and report.entries >= 3  # the client, engagement, disagreement and its change


@pytest.mark.usefixtures("_as_found")
@pytest.mark.django_db(transaction=True)
def test_migration_0020_leaves_the_log_verifying():
    """0020 adds where the letter went to let-go cases and a postal address to
    clients, both history-tracked: a log written before it verifies after it,
    and the new fields start empty (the letter "not sent")."""
    someone = UserFactory(role="")
    acme = ClientFactory(lead_advisor=someone)
    engagement = EngagementFactory(client=acme, lead_advisor=someone)
    DisagreementFactory(engagement=engagement, logged_by=someone)
    case = LetGoCase(
        client=acme, proposed_by=someone, reason="hostile_conduct", justification="Threats."
    )
    record_save(case, by=someone, reason="Proposed")
    connection = connections[DEFAULT_DB_ALIAS]

    MigrationExecutor(connection).migrate([("advisory", "0019_letgo_letter_fields")])
    executor = MigrationExecutor(connection)
    executor.migrate([("advisory", "0020_letter_sending_and_postal_address")])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    out = StringIO()
    call_command("verify_log", stdout=out)
    assert "Log intact" in out.getvalue()
    report = verification.verify()
    assert report.ok and report.entries >= 4  # client, engagement, disagreement, case
    case = LetGoCase.objects.get(pk=case.pk)
    assert case.letter_delivery == LetGoCase.LetterDelivery.NOT_SENT
    assert not case.letter_sent
    assert Client.objects.get(pk=acme.pk).postal_address == ""
