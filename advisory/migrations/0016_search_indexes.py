"""GIN indexes for the search box (advisory/records/search.py), on PostgreSQL only.

Each index is an expression index of exactly the weighted SearchVector the
search filters on; PostgreSQL uses an expression index only for the same
expression, so a change to the vectors in search.py needs a new migration
(tests/advisory/search/test_postgres.py checks with EXPLAIN that every search
query uses its index). The expressions are written out here rather than
imported, so this migration keeps meaning what it meant when it ran.

Other databases (SQLite) get nothing: the search falls back to plain matching
there. The indexes are not part of the models' state (so makemigrations never
sees them) and are built CONCURRENTLY: at a million disagreements that takes
about a minute, during which the log stays writable.
"""

from __future__ import annotations

from functools import reduce

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CONFIG = "english"

# model → (index name, {weight: fields}), as in search.py when this was written.
INDEXES = {
    "client": (
        "client_search_idx",
        {"A": ("name",), "B": ("sector", "contact_name"), "C": ("notes",)},
    ),
    "engagement": (
        "engagement_search_idx",
        {"A": ("title",), "B": ("service_line",), "C": ("description",)},
    ),
    "disagreement": (
        "disagreement_search_idx",
        {"A": ("title",), "B": ("client_request", "recommendation"), "C": ("outcome",)},
    ),
    "comment": ("comment_search_idx", {"C": ("body",)}),
}


def search_index(name: str, weights: dict[str, tuple[str, ...]]) -> GinIndex:
    vectors = [
        SearchVector(*fields, weight=weight, config=CONFIG) for weight, fields in weights.items()
    ]
    return GinIndex(reduce(lambda a, b: a + b, vectors), name=name)


class CreatePostgresSearchIndex(migrations.operations.base.Operation):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; nothing on other databases."""

    reversible = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self):
        return self.__class__.__name__, [self.model_name], {}

    def state_forwards(self, app_label, state) -> None:
        pass  # not part of the models' state: it exists on PostgreSQL only

    def _index(self) -> GinIndex:
        return search_index(*INDEXES[self.model_name])

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        schema_editor.add_index(model, self._index(), concurrently=True)
        # Statistics of the new expression: without them the planner guesses
        # how many rows a word matches, and may guess a slow plan.
        schema_editor.execute(f"ANALYZE {schema_editor.quote_name(model._meta.db_table)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        schema_editor.remove_index(model, self._index(), concurrently=True)

    def describe(self) -> str:
        return f"Create the search index on {self.model_name} (PostgreSQL only)"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name}_search_index"


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("advisory", "0015_log_entries_and_tree_heads")]

    operations = [CreatePostgresSearchIndex(name) for name in INDEXES]
