"""A search index that knows the date, for the search's recent matches first
(advisory/records/search.py, _Postgres._window), on PostgreSQL only.

A common word matches tens of thousands of disagreements. The search ranks the
200 newest, and looks for them in the last 90 days first; with the plain
search index (0016), PostgreSQL still reads every match's row to learn its
date, 120-160 ms at a million disagreements. This GIN index holds the date as
well as the vector (the btree_gin extension lets GIN index a date), so the
index itself returns only the recent matches: 15-20 ms for the same query
(docs/performance.md, "Search").

The vector is written out as 0016 wrote it: an expression index serves only
the very expression the query filters on. Built CONCURRENTLY (about 50 s at a
million disagreements; the log stays writable). btree_gin ships with
PostgreSQL and is a trusted extension: the database's owner may create it.
Other databases (SQLite) get nothing.
"""

from __future__ import annotations

from functools import reduce

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.operations import BtreeGinExtension
from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import F

NAME = "disagreement_recent_search_idx"
WEIGHTS = {"A": ("title",), "B": ("client_request", "recommendation"), "C": ("outcome",)}


def recent_search_index() -> GinIndex:
    vectors = [
        SearchVector(*fields, weight=weight, config="english") for weight, fields in WEIGHTS.items()
    ]
    return GinIndex(F("occurred_on"), reduce(lambda a, b: a + b, vectors), name=NAME)


class CreateRecentSearchIndex(migrations.operations.base.Operation):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; nothing on other databases."""

    reversible = True

    def deconstruct(self):
        return self.__class__.__name__, [], {}

    def state_forwards(self, app_label, state) -> None:
        pass  # not part of the models' state: it exists on PostgreSQL only

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, "disagreement")
        schema_editor.add_index(model, recent_search_index(), concurrently=True)
        schema_editor.execute(f"ANALYZE {schema_editor.quote_name(model._meta.db_table)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = from_state.apps.get_model(app_label, "disagreement")
        schema_editor.remove_index(model, recent_search_index(), concurrently=True)

    def describe(self) -> str:
        return "Create the recent-matches search index on disagreement (PostgreSQL only)"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("advisory", "0017_saved_views")]

    operations = [BtreeGinExtension(), CreateRecentSearchIndex()]
