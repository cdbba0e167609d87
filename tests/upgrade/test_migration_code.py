"""Migrations that run Candor's own code still find it where it moved."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from advisory.models import ClientMonth, ClientStats, evidence_path


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
