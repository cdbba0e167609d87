"""Shared by the tests that migrate the test database back and forth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader

from tests.upgrade import tables


@pytest.fixture(scope="module")
def _as_found(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The test database's rows as this module found them, put back at its end.

    A test that migrates (transaction=True) is followed by pytest-django's flush;
    the tests after it expect what the migrations made (the role groups,
    which a flush does not bring back). Restored after that flush.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    with django_db_blocker.unblock():
        state = tables.state_apps(connection, MigrationLoader(connection).graph.leaf_nodes())
        found = tables.dump(connection, state)
    yield
    with django_db_blocker.unblock():
        tables.replace_all(connection, state, found)
        ContentType.objects.clear_cache()
