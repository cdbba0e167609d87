"""The log: every history entry becomes a leaf of an append-only Merkle tree.

When simple-history writes an entry (a save, an m2m change, a service's
explicit call), the same transaction adds a `LogEntry` holding:

- the entry's canonical form: compact JSON with sorted keys, UTF-8,

      {"fields": {<every tracked field's attname>: <value>, ...},
       "history_change_reason": ..., "history_date": ..., "history_id": ...,
       "history_type": ..., "history_user_id": ..., "m2m": {"members": [3, 5]},
       "model": "advisory.historicalengagement"}

  with values normalised the way their column stores them (dates and
  datetimes ISO 8601, datetimes in UTC; decimals as strings with the
  column's places; files by name; None as null), and, per tracked m2m field,
  the sorted ids of the related records;
- 16 random bytes of salt, and the digest SHA-256(salt || canonical);
- its position: 0, 1, 2, … with no gaps, in the order entries were committed.

The canonical JSON is stored as it was hashed, never recomputed: a later
migration that adds, removes or renames a tracked field changes nothing that
was hashed (see `RENAMED_FIELDS`). The leaves, the signed tree heads and the
proofs are RFC 9162's (advisory/history/verifier.py); heads are made by
`history.heads`; `history.verification` checks everything.

Appending costs what the hash chain before it did: one SELECT (the log's
size, under a lock) and one INSERT.
"""

from __future__ import annotations

import datetime
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import batched
from typing import Any

from django.apps import apps
from django.db import connections, models, router, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone
from simple_history.models import HistoricalRecords

from advisory.history.verifier import entry_digest
from advisory.models import LogEntry

# pg_advisory_xact_lock key serialising appends on PostgreSQL: "Candor" in ASCII.
LOCK_KEY = 0x43616E646F72
BATCH = 500
SALT_BYTES = 16
# The historical model's own columns; everything else on it is a tracked field.
HISTORY_COLUMNS = [
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
]
# A migration that renames a tracked field adds it here, so that entries
# logged under the old name are still compared with the column now holding
# their value: {"advisory.historicaldisagreement": {"old_attname": "new_attname"}}.
# Removed fields need nothing: their values stay in the logged JSON.
RENAMED_FIELDS: dict[str, dict[str, str]] = {}

type Progress = Callable[[int], object]


# --- Which entries are logged -------------------------------------------------


@cache
def logged_models() -> dict[str, type[models.Model]]:
    """Every historical model of the project, by label ("advisory.historicalclient")."""
    found = {}
    for model in apps.get_models():
        manager_attribute = getattr(model._meta, "simple_history_manager_attribute", None)
        if manager_attribute is not None:
            history_model = getattr(model, manager_attribute).model
            found[history_model._meta.label_lower] = history_model
    return found


@dataclass(frozen=True)
class _M2M:
    name: str  # the tracked field's name ("members")
    model: type[models.Model]  # simple-history's snapshot model ("HistoricalEngagement_members")
    target: str  # its column holding the related record's id ("user_id")


@cache
def m2m_fields(history_model: type[models.Model]) -> tuple[_M2M, ...]:
    found = []
    # A model of a migration state has none of simple-history's attributes
    # (and the models whose entries are logged in a migration have no m2m).
    for field in getattr(history_model, "_history_m2m_fields", ()):
        snapshot_model = HistoricalRecords.m2m_models[field]
        target = snapshot_model._meta.get_field(field.m2m_reverse_field_name()).attname
        found.append(_M2M(field.name, snapshot_model, target))
    return tuple(found)


@cache
def _fields(history_model: type[models.Model]) -> tuple[models.Field, ...]:
    """The historical model's own fields for its history columns and tracked fields.

    Every concrete field of a historical model is one or the other; a model
    of a migration state (no `tracked_fields`) has exactly those.
    """
    if not hasattr(history_model, "tracked_fields"):
        return tuple(history_model._meta.concrete_fields)
    tracked = {field.attname for field in history_model.tracked_fields}
    return tuple(
        field
        for field in history_model._meta.concrete_fields
        if field.attname in tracked or field.attname in HISTORY_COLUMNS
    )


# --- The canonical form ---------------------------------------------


def canonical(history_row: models.Model, *, m2m: dict[str, list[int]] | None = None) -> bytes:
    """The entry's content as deterministic bytes (see the module docstring).

    `m2m` gives the sorted related ids per many-to-many field when the caller
    has them already; a field not given is read from the database.
    """
    history_model = type(history_row)
    values = {
        field.attname: plain(field, getattr(history_row, field.attname))
        for field in _fields(history_model)
    }
    document: dict[str, Any] = {
        "model": history_model._meta.label_lower,
        "fields": {name: value for name, value in values.items() if name not in HISTORY_COLUMNS},
        **{name: values[name] for name in HISTORY_COLUMNS},
    }
    snapshot_fields = m2m_fields(history_model)
    if snapshot_fields:
        given = m2m or {}
        document["m2m"] = {
            spec.name: sorted(given[spec.name])
            if spec.name in given
            else sorted(
                spec.model._default_manager.filter(history_id=history_row.pk).values_list(
                    spec.target, flat=True
                )
            )
            for spec in snapshot_fields
        }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def plain(field: models.Field, value: Any) -> Any:
    """A JSON value for what the column stores for `value`."""
    if value is None:
        return None
    # What saving does first: "5" becomes 5, a datetime in a date field its
    # local date, a file its name.
    value = field.to_python(value)
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if timezone.is_naive(value):
            value = timezone.make_aware(value)  # as Django stores a naive datetime
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        places = getattr(field, "decimal_places", None)
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places))
        return str(value)
    if isinstance(value, bool | int | float | dict | list):
        return value
    # Strings, including a TextChoices member (whose str() is its value).
    return str(value)


# --- Appending ---------------------------------------------------------------------


def append(history_row: models.Model, *, m2m: dict[str, list[int]] | None = None) -> LogEntry:
    """Log a new history entry at the end.

    Runs in the caller's transaction (the one that wrote the entry), so the
    entry and its log entry are committed or rolled back together. Appends
    are serialised: on PostgreSQL by a transaction-level advisory lock taken
    before the size is read; on SQLite by the write lock that the IMMEDIATE
    transaction mode (config/settings.py) takes when the transaction begins.
    So the committed entries are always the positions 0 to n-1.
    """
    return append_many([(history_row, m2m)])[0]


def append_many(entries: list[tuple[models.Model, dict[str, list[int]] | None]]) -> list[LogEntry]:
    """Log history entries, in order, reading the size once and inserting in batches."""
    using = router.db_for_write(LogEntry)
    # No savepoint: a failure here must fail the transaction that wrote the entries.
    with transaction.atomic(using=using, savepoint=False):
        index = _locked_size(using)
        logged = []
        for history_row, m2m in entries:
            logged.append(_entry(index, history_row, canonical(history_row, m2m=m2m)))
            index += 1
        if len(logged) == 1:
            logged[0].save(using=using, force_insert=True)
            return logged
        return LogEntry.objects.using(using).bulk_create(logged, batch_size=BATCH)


def _entry(index: int, history_row: models.Model, content: bytes) -> LogEntry:
    salt = secrets.token_bytes(SALT_BYTES)
    return LogEntry(
        index=index,
        history_model=type(history_row)._meta.label_lower,
        history_id=history_row.pk,
        canonical=content.decode("utf-8"),
        salt=salt.hex(),
        digest=entry_digest(salt, content).hex(),
    )


def _locked_size(using: str) -> int:
    """Take the right to append and read the log's size, in that order.

    On PostgreSQL, one call of `candor_log_size` (migration 0015): the
    advisory lock, then the size in a snapshot taken after the lock is held.
    On SQLite the transaction's write lock already serialises appends.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT candor_log_size(%s)", [LOCK_KEY])
            return cursor.fetchone()[0]
    return log_size(using)


def log_size(using: str | None = None) -> int:
    """How many entries the log holds (committed, as this transaction sees them)."""
    last = LogEntry.objects.using(using or router.db_for_read(LogEntry)).aggregate(Max("index"))
    return 0 if last["index__max"] is None else last["index__max"] + 1


# Entries written inside `logged_at_end()`, waiting to be logged.
_waiting: ContextVar[list | None] = ContextVar("chain_waiting", default=None)


@contextmanager
def logged_at_end() -> Iterator[None]:
    """Log the history entries written inside the block when it ends, in one go.

    For bulk writes (the importer): one read of the log's size and a few
    batched inserts instead of both per entry. The log is the same as if each
    entry had been logged as it was written. Use it inside the transaction
    that writes the entries, and let any exception escape it: then nothing is
    logged, and the transaction must roll back (a caught error after a
    rolled-back savepoint would leave entries waiting that are gone).
    """
    if not transaction.get_connection(router.db_for_write(LogEntry)).in_atomic_block:
        raise RuntimeError("logged_at_end() must run inside the transaction writing the entries.")
    if _waiting.get() is not None:
        yield  # already inside one: the outer block logs everything
        return
    token = _waiting.set([])
    try:
        yield
        waiting = _waiting.get()
    finally:
        _waiting.reset(token)
    if waiting:
        append_many(waiting)


# simple-history sends these signals from inside `create_historical_record`,
# the only place every entry passes through (a model's post_save, an m2m
# change, a service's explicit call); nothing else can hook in there, and
# these run in the transaction that wrote the entry. Connected in
# AdvisoryConfig.ready(). The one writer of entries in bulk,
# services.engagements_create_prechecked, logs them itself (append_many).


def on_history_m2m_created(sender, *, created_rows, history_instance, field, **kwargs) -> None:
    """Keep the m2m rows just written for the entry, so logging needn't read them back."""
    spec = next((s for s in m2m_fields(type(history_instance)) if s.name == field.name), None)
    if spec is not None:
        kept = history_instance.__dict__.setdefault("_chain_m2m", {})
        kept[spec.name] = sorted(getattr(row, spec.target) for row in created_rows)


def on_history_created(sender, *, history_instance, **kwargs) -> None:
    if sender._meta.label_lower in logged_models():
        m2m = history_instance.__dict__.get("_chain_m2m")
        waiting = _waiting.get()
        if waiting is None:
            append(history_instance, m2m=m2m)
        else:
            waiting.append((history_instance, m2m))


def on_raw_save(sender, *, instance, raw: bool = False, **kwargs) -> None:
    """Restoring a backup (`loaddata`, which saves with raw=True) brings the
    history entries and their links back as they were, and must write none.

    simple-history writes no entry for the raw save itself, but would write a
    "changed" entry for each many-to-many field loaddata sets right after it
    (an engagement's members, a let-go case's evidence): changes nobody made,
    dated the day of the restore. Its own flag on the instance stops that.
    """
    if raw:
        instance.skip_history_when_saving = True


# --- Entries that are not in the log ---------------------------------------------------


def unlogged(history_model: type[models.Model]) -> models.QuerySet:
    """The model's history entries that have no log entry."""
    label = history_model._meta.label_lower
    entry = LogEntry.objects.filter(history_model=label, history_id=OuterRef("pk"))
    return history_model._default_manager.filter(~Exists(entry))


def backfill(*, progress: Progress | None = None) -> int:
    """Log every history entry that is not in the log yet, oldest first; the number logged.

    For entries written around the application (or before the log existed).
    It logs whatever it finds, including an entry someone added by hand, so
    verify first: what it reports as not logged is what this will make part of
    the record. They join at the end; nothing already logged moves.
    """
    pending = []
    for label, history_model in logged_models().items():
        rows = unlogged(history_model).values_list("history_date", "history_id")
        pending.extend((date, history_id, label) for date, history_id in rows)
    pending.sort()
    models_by_label = logged_models()
    with transaction.atomic(using=router.db_for_write(LogEntry)):
        for batch in batched(pending, BATCH):
            wanted: dict[str, list[int]] = {}
            for _, history_id, label in batch:
                wanted.setdefault(label, []).append(history_id)
            rows = {
                label: models_by_label[label]._default_manager.in_bulk(ids)
                for label, ids in wanted.items()
            }
            append_many([(rows[label][history_id], None) for _, history_id, label in batch])
            if progress is not None:
                progress(len(batch))
    return len(pending)
