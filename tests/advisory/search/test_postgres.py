"""On PostgreSQL, every search query is answered by its GIN index (migration 0016).

The index is an expression index: PostgreSQL uses it only for the very
expression the query filters on. With sequential scans priced out, the plan of
each query the search runs must name the model's index; a vector changed in
search.py without a migration fails here. Skipped on other databases.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from advisory.models import Comment
from advisory.records import search
from tests.factories import DisagreementFactory

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


def _table(sql: str) -> str:
    return re.search(r'FROM "(\w+)"', sql)[1]  # the first: the table searched


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
    # Clients, engagements, disagreements (whole words in the last
    # RECENT_DAYS, then in all of them; prefixes in the last RECENT_DAYS,
    # then in all of them), comments.
    assert len(searching) == 7
    recent = [sql for sql in searching if '"occurred_on" >=' in sql]
    assert len(recent) == 2
    for sql in set(searching) - set(recent):
        table = _table(sql)
        plan = _plan(sql)
        names = {INDEXES[table]}
        if table == "advisory_disagreement":
            names.add("disagreement_recent_search_idx")  # it serves the vector alone too
        assert any(name in plan for name in names), (
            f"{table} is searched without its index:\n{plan}"
        )

    # The last RECENT_DAYS first, from the index that holds the date too
    # (migration 0018). On a few rows any index with the date is cheaper:
    # with every other index of the table dropped (the test's transaction is
    # rolled back), the query must still find one that serves it.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'advisory_disagreement'"
            " AND indexname NOT IN ('advisory_disagreement_pkey', %s)",
            ["disagreement_recent_search_idx"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
    for sql in recent:
        plan = _plan(sql)
        assert "disagreement_recent_search_idx" in plan, plan


def test_the_migration_indexes_the_vectors_the_search_uses():
    """search.py and the migration spell the same vectors (the EXPLAIN above is
    the proof that matters; this names the difference when there is one)."""
    from importlib import import_module

    migration = import_module("advisory.migrations.0016_search_indexes")
    for model, fields, name in search.INDEXES:
        index_name, weights = migration.INDEXES[model._meta.model_name]
        assert (index_name, weights) == (name, fields.weights)
    recent = import_module("advisory.migrations.0018_disagreement_recent_search_index")
    assert search.DISAGREEMENT.weights == recent.WEIGHTS


@pytest.mark.parametrize("recent", [3, 2])
def test_the_newest_matches_are_ranked_whether_or_not_recent_ones_suffice(
    admin, acme_engagement, monkeypatch, recent
):
    """With WINDOW recent matches the older ones are never read; with fewer,
    the window reaches back: either way it holds the WINDOW newest."""
    monkeypatch.setattr(search, "WINDOW", 3)
    today = timezone.localdate()
    ages = [*[1, 2, 3][:recent], 200, 300, 400]  # days ago; RECENT_DAYS is 90
    for days in ages:
        DisagreementFactory(
            engagement=acme_engagement,
            title=f"Walrus {days} days ago",
            occurred_on=today - datetime.timedelta(days=days),
        )

    found = search.search(user=admin, query="walrus").hits["disagreement"]

    newest = sorted(ages)[:3]
    assert sorted(hit.record.title for hit in found) == sorted(
        f"Walrus {days} days ago" for days in newest
    )


def test_whole_words_fill_the_window_before_prefixes_are_looked_for(
    admin, acme_engagement, monkeypatch
):
    """A prefix makes the index merge every word that starts so ("term:*":
    term, terms, terminate, …), ten times the work at scale: when the whole
    words typed match WINDOW recent disagreements, those are ranked and no
    prefix is looked for. A word still being typed is found as a prefix."""
    monkeypatch.setattr(search, "WINDOW", 2)
    for title in ["Payment term A", "Payment terms B", "Terminate early"]:
        DisagreementFactory(engagement=acme_engagement, title=title)

    with CaptureQueriesContext(connection) as queries:
        found = search.search(user=admin, query="term", kinds=("disagreement",))

    titles = sorted(hit.record.title for hit in found.hits["disagreement"])
    assert titles == ["Payment term A", "Payment terms B"]
    searched = [q["sql"] for q in queries if "@@" in q["sql"]]
    disagreements = [sql for sql in searched if _table(sql) == "advisory_disagreement"]
    assert disagreements and not any("term:*" in sql for sql in disagreements)

    found = search.search(user=admin, query="termi", kinds=("disagreement",))
    assert [hit.record.title for hit in found.hits["disagreement"]] == ["Terminate early"]
