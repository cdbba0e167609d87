"""For tests where two transactions meet on PostgreSQL's locks.

SQLite runs one writing transaction at a time, so there is nothing to meet
there: these tests run in CI's PostgreSQL pass (`make test` with DATABASE_URL).
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL's locks; SQLite runs one writing transaction at a time",
)


def wait_until_another_waits(what: str = "the other transaction") -> None:
    """Return once some transaction waits for a lock (this one holds it)."""
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} never waited for the lock")
