"""Every table's rows as plain JSON, read and written through a migration state.

Shared by make_fixture.py (which dumps a database an old release wrote) and
test_upgrade.py (which loads those rows into the test database at that
release's schema). The models used are the ones the migrations describe at a
given point (`state_apps`), never the project's current models, so a dump and
a load agree on the schema of that point whatever the code looks like now.
Django and the standard library only: no project code, which moves around.

A dump is `{table: {"columns": [...], "rows": [[...], ...]}}` with the values
made database-neutral: datetimes ISO 8601 in UTC, dates and times ISO 8601,
decimals as strings, binary as base64, JSON as JSON. Loading turns each value
back with the column's field (`to_python`, then `get_db_prep_save`), so the
same dump loads into SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.apps.registry import Apps
from django.core.management.color import no_style
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.utils.duration import duration_string

# Written by the migration executor as it applies migrations: not data.
NOT_DATA = {"django_migrations"}

type Tables = dict[str, dict[str, list]]
type Node = tuple[str, str]


def state_apps(connection: BaseDatabaseWrapper, nodes: Iterable[Node]) -> Apps:
    """The models as the migrations up to `nodes` (app, migration name) leave them."""
    return MigrationLoader(connection).project_state(list(nodes)).apps


def models_by_table(apps: Apps) -> dict[str, type[models.Model]]:
    return {
        model._meta.db_table: model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def data_tables(connection: BaseDatabaseWrapper) -> list[str]:
    return sorted(set(connection.introspection.table_names()) - NOT_DATA)


# --- Dumping -----------------------------------------------------------------------


def dump(connection: BaseDatabaseWrapper, apps: Apps) -> Tables:
    """The rows of every non-empty table, in primary-key order.

    Refuses a table the migration state has no model for, or whose columns
    differ from its model's: then `apps` is not the schema the database has.
    """
    by_table = models_by_table(apps)
    tables: Tables = {}
    for table in data_tables(connection):
        model = by_table.get(table)
        if model is None:
            raise LookupError(f"No model of the migration state has the table {table}.")
        fields = model._meta.concrete_fields
        with connection.cursor() as cursor:
            description = connection.introspection.get_table_description(cursor, table)
        actual = {column.name for column in description}
        expected = {field.column for field in fields}
        if actual != expected:
            raise ValueError(
                f"{table}: columns {sorted(actual)}, the state says {sorted(expected)}"
            )
        rows = (
            model._base_manager.using(connection.alias)
            .order_by("pk")
            .values_list(*[field.attname for field in fields])
        )
        encoded = [[_plain(value) for value in row] for row in rows]
        if encoded:
            tables[table] = {"columns": [field.column for field in fields], "rows": encoded}
    return tables


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")  # BinaryField.to_python reads it
    raise TypeError(f"No plain form for {type(value).__name__}: {value!r}")


# --- Loading -----------------------------------------------------------------------


def replace_all(connection: BaseDatabaseWrapper, apps: Apps, tables: Tables) -> int:
    """Empty every table (the migration records excepted) and load `tables`;
    the number of rows loaded.

    `apps` must be the migration state the database is at. One transaction:
    foreign keys are checked at the commit (Django makes them deferrable on
    SQLite and PostgreSQL), so the tables load in any order. Sequences then
    continue after the highest id loaded.
    """
    by_table = models_by_table(apps)
    unknown = sorted(set(tables) - set(by_table))
    if unknown:
        raise LookupError(f"No model of the migration state has the tables {unknown}.")
    quote = connection.ops.quote_name
    loaded = 0
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for sql in connection.ops.sql_flush(
            no_style(), data_tables(connection), reset_sequences=True
        ):
            cursor.execute(sql)
        for table, content in tables.items():
            by_column = {field.column: field for field in by_table[table]._meta.concrete_fields}
            fields = [by_column[column] for column in content["columns"]]
            names = ", ".join(quote(column) for column in content["columns"])
            one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
            batch = max(1, 900 // len(fields))  # under every backend's parameter limit
            rows = content["rows"]
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                cursor.execute(
                    f"INSERT INTO {quote(table)} ({names}) VALUES "
                    + ", ".join([one_row] * len(chunk)),
                    [
                        _db_value(f, v, connection)
                        for row in chunk
                        for f, v in zip(fields, row, strict=True)
                    ],
                )
            loaded += len(rows)
        models_loaded = [by_table[table] for table in tables]
        for sql in connection.ops.sequence_reset_sql(no_style(), models_loaded):
            cursor.execute(sql)
    return loaded


def _db_value(field: models.Field, value: Any, connection: BaseDatabaseWrapper) -> Any:
    if value is None:
        return None
    return field.get_db_prep_save(field.to_python(value), connection)
