"""On PostgreSQL, every search query is answered by its GIN index (migration 0016).

The index is an expression index: PostgreSQL uses it only for the very
expression the query filters on. With sequential scans priced out, the plan of
each query the search runs must name the model's index; a vector changed in
search.py without a migration fails here. Skipped on other databases.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advisory.models import Comment
from advisory.records import search

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="full-text search runs on PostgreSQL"
    ),
]

INDEXES = {
    "advisory_client": "client_search_idx",
    "advisory_engagement": "engagement_search_idx",
    "advisory_disagreement": "disagreement_search_idx",
    "advisory_comment": "comment_search_idx",
}


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        # A few rows: the planner would rather read them all, or walk a foreign
        # key's index; priced out, the search index is what is left.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
        cursor.execute("RESET enable_indexscan")
    return plan


def test_the_indexes_exist():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = ANY(%s)", [list(INDEXES.values())]
        )
        assert sorted(row[0] for row in cursor.fetchall()) == sorted(INDEXES.values())


def test_every_search_query_uses_its_index(admin, manager, dispute):
    Comment.objects.create(disagreement=dispute, author=manager, body="Count the stock.")
    with CaptureQueriesContext(connection) as queries:
        results = search.search(user=admin, query="stock count")
    assert [hit.record for hit in results.hits["disagreement"]] == [dispute]

    searching = [q["sql"] for q in queries if "@@" in q["sql"]]
    assert len(searching) == 4  # clients, engagements, disagreements, comments
    for sql in searching:
        table = re.search(r'FROM "(\w+)"', sql)[1]  # the first: the table searched
        plan = _plan(sql)
        assert INDEXES[table] in plan, f"{table} is searched without its index:\n{plan}"


def test_the_migration_indexes_the_vectors_the_search_uses():
    """search.py and the migration spell the same vectors (the EXPLAIN above is
    the proof that matters; this names the difference when there is one)."""
    from importlib import import_module

    migration = import_module("advisory.migrations.0016_search_indexes")
    for model, fields, name in search.INDEXES:
        index_name, weights = migration.INDEXES[model._meta.model_name]
        assert (index_name, weights) == (name, fields.weights)
