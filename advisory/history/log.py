"""Tamper evidence for the log: every history entry is linked into one SHA-256 chain.

Each `ChainLink` stores `hash = sha256(prev_hash + canonical(entry))`, where
`prev_hash` is the hash of the link before it (64 zeros for the first), both
as lowercase hex. Changing, deleting or inserting a history entry — or editing,
removing or reordering a link — breaks the chain at that point, and `verify()`
(`manage.py verify_log`, the admin page) names where.

The canonical form of an entry is compact JSON with sorted keys, UTF-8:

    {"fields": {<every tracked field's attname>: <value>, ...},
     "history_change_reason": ..., "history_date": ..., "history_id": ...,
     "history_type": ..., "history_user_id": ..., "m2m": {"members": [3, 5]},
     "model": "advisory.historicalengagement"}

Values are normalised the way their column stores them, so the entry hashes to
the same bytes in memory (when the link is made) and read back later (when it
is verified): dates and datetimes ISO 8601 (datetimes in UTC), decimals as
strings with the column's decimal places, files by name, None as null.

Many-to-many snapshots are part of the entry. simple-history's
`create_historical_record` saves the entry, then its m2m rows
(`create_historical_record_m2ms`), and only then sends
`post_create_historical_record`; so when the link is made the rows exist and
belong to the entry, and verification finds the same rows. "m2m" holds, per
tracked m2m field, the sorted ids of the related records (an engagement's
members, a let-go case's disagreements); models without m2m fields have no
"m2m" key. The rows simple-history just wrote are kept from its
`post_create_historical_m2m_records` signal, so making a link still costs one
SELECT (the last hash) and one INSERT.

What the chain cannot show: an entry removed together with every link after it
(truncating the tail), or a chain recomputed from the point of an edit by
someone with write access to the database. Noting the latest hash somewhere
outside the database (`verify_log -v 2` prints it) closes both.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import batched
from typing import Any

from django.apps import apps
from django.db import connections, models, router, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import capfirst
from simple_history.models import HistoricalRecords

from advisory.models import ChainLink

GENESIS = "0" * 64
# pg_advisory_xact_lock key serialising appends on PostgreSQL: "Candor" in ASCII.
LOCK_KEY = 0x43616E646F72
BATCH = 500
# The historical model's own columns; everything else on it is a tracked field.
HISTORY_COLUMNS = [
    "history_id",
    "history_date",
    "history_type",
    "history_user_id",
    "history_change_reason",
]

type Progress = Callable[[int], object]


# --- Which entries are chained -------------------------------------------------


@cache
def chained_models() -> dict[str, type[models.Model]]:
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
def _m2m_fields(history_model: type[models.Model]) -> tuple[_M2M, ...]:
    found = []
    for field in history_model._history_m2m_fields:
        snapshot_model = HistoricalRecords.m2m_models[field]
        target = snapshot_model._meta.get_field(field.m2m_reverse_field_name()).attname
        found.append(_M2M(field.name, snapshot_model, target))
    return tuple(found)


@cache
def _fields(history_model: type[models.Model]) -> tuple[models.Field, ...]:
    """The historical model's own fields for its history columns and tracked fields."""
    tracked = {field.attname for field in history_model.tracked_fields}
    return tuple(
        field
        for field in history_model._meta.concrete_fields
        if field.attname in tracked or field.attname in HISTORY_COLUMNS
    )


# --- The canonical form and the hash ---------------------------------------------


def canonical(history_row: models.Model, *, m2m: dict[str, list[int]] | None = None) -> bytes:
    """The entry's content as deterministic bytes (see the module docstring).

    `m2m` gives the sorted related ids per many-to-many field when the caller
    has them already; a field not given is read from the database.
    """
    history_model = type(history_row)
    values = {
        field.attname: _plain(field, getattr(history_row, field.attname))
        for field in _fields(history_model)
    }
    document: dict[str, Any] = {
        "model": history_model._meta.label_lower,
        "fields": {name: value for name, value in values.items() if name not in HISTORY_COLUMNS},
        **{name: values[name] for name in HISTORY_COLUMNS},
    }
    snapshot_fields = _m2m_fields(history_model)
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


def _plain(field: models.Field, value: Any) -> Any:
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


def link_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


# --- Appending ---------------------------------------------------------------------


def append(history_row: models.Model, *, m2m: dict[str, list[int]] | None = None) -> ChainLink:
    """Link a new history entry to the end of the chain.

    Runs in the caller's transaction (the one that wrote the entry), so the
    entry and its link are committed or rolled back together. Appends are
    serialised: on PostgreSQL by a transaction-level advisory lock taken before
    the last link is read; on SQLite by the write lock that the IMMEDIATE
    transaction mode (config/settings.py) takes when the transaction begins.
    """
    return append_many([(history_row, m2m)])[0]


def append_many(entries: list[tuple[models.Model, dict[str, list[int]] | None]]) -> list[ChainLink]:
    """Link history entries, in order, reading the last hash once and inserting in batches."""
    using = router.db_for_write(ChainLink)
    # No savepoint: a failure here must fail the transaction that wrote the entries.
    with transaction.atomic(using=using, savepoint=False):
        prev_hash = _locked_tail(using)
        links = []
        for history_row, m2m in entries:
            link = ChainLink(
                history_model=type(history_row)._meta.label_lower,
                history_id=history_row.pk,
                prev_hash=prev_hash,
                hash=link_hash(prev_hash, canonical(history_row, m2m=m2m)),
            )
            links.append(link)
            prev_hash = link.hash
        if len(links) == 1:
            links[0].save(using=using)  # sets the pk on every database
            return links
        return ChainLink.objects.using(using).bulk_create(links, batch_size=BATCH)


# Entries written inside `linked_at_end()`, waiting for their links.
_waiting: ContextVar[list | None] = ContextVar("chain_waiting", default=None)


@contextmanager
def linked_at_end() -> Iterator[None]:
    """Link the history entries written inside the block when it ends, in one go.

    For bulk writes (the importer): one read of the last hash and a few batched
    inserts instead of both per entry. The chain is the same as if each entry
    had been linked as it was written. Use it inside the transaction that
    writes the entries, and let any exception escape it: then nothing is
    linked, and the transaction must roll back (a caught error after a
    rolled-back savepoint would leave links waiting for entries that are gone).
    """
    if not transaction.get_connection(router.db_for_write(ChainLink)).in_atomic_block:
        raise RuntimeError("linked_at_end() must run inside the transaction writing the entries.")
    if _waiting.get() is not None:
        yield  # already inside one: the outer block links everything
        return
    token = _waiting.set([])
    try:
        yield
        waiting = _waiting.get()
    finally:
        _waiting.reset(token)
    if waiting:
        append_many(waiting)


def _locked_tail(using: str) -> str:
    """Take the right to append and read the last hash, in that order.

    On PostgreSQL, one call of `candor_chain_tail` (migration 0012): the
    advisory lock, then the last hash in a snapshot taken after the lock is
    held. On SQLite the transaction's write lock already serialises appends.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT candor_chain_tail(%s)", [LOCK_KEY])
            return cursor.fetchone()[0] or GENESIS
    return _last_hash(using)


def _last_hash(using: str) -> str:
    last = ChainLink.objects.using(using).order_by("-pk").values_list("hash", flat=True).first()
    return last or GENESIS


# simple-history sends these signals from inside `create_historical_record`,
# the only place every entry passes through (a model's post_save, an m2m
# change, a service's explicit call); nothing else can hook in there, and
# these run in the transaction that wrote the entry. Connected in
# AdvisoryConfig.ready(). The one writer of entries in bulk,
# services.engagements_create_prechecked, links them itself (append_many).


def on_history_m2m_created(sender, *, created_rows, history_instance, field, **kwargs) -> None:
    """Keep the m2m rows just written for the entry, so linking needn't read them back."""
    spec = next((s for s in _m2m_fields(type(history_instance)) if s.name == field.name), None)
    if spec is not None:
        kept = history_instance.__dict__.setdefault("_chain_m2m", {})
        kept[spec.name] = sorted(getattr(row, spec.target) for row in created_rows)


def on_history_created(sender, *, history_instance, **kwargs) -> None:
    if sender._meta.label_lower in chained_models():
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


# --- Verifying ---------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    ok: bool
    checked: int  # links verified intact (before the first broken one)
    first_broken: ChainLink | None = None  # None when intact or when an entry has no link
    problem: str = ""
    # The history entry concerned, when broken (for the command and the page).
    model: str = ""  # "disagreement"
    history_id: int | None = None
    record: str = ""  # "Disagreement #12 “Stock count skipped”"
    history_date: datetime.datetime | None = None
    head: str = ""  # the latest link's hash, when intact


def verify(*, progress: Progress | None = None) -> Result:
    """Walk the chain in order, recomputing every hash from the current history.

    Reports the first link whose entry is missing, whose entry no longer
    matches its hash, or whose prev_hash is not the previous link's hash; then
    any history entry with no link at all (added around the application).
    `progress` is called with the number of links checked after each batch.
    Queries: per batch of links, one per model in it and one per m2m field.
    """
    models_by_label = chained_models()
    prev_hash = GENESIS
    checked = 0
    links = ChainLink.objects.order_by("pk").iterator(chunk_size=BATCH)
    for batch in batched(links, BATCH):
        rows, snapshots = _load(batch, models_by_label)
        for link in batch:
            history_model = models_by_label.get(link.history_model)
            row = rows.get(link.history_model, {}).get(link.history_id)
            if history_model is None or row is None:
                problem = (
                    "The history entry it links is missing: it was deleted."
                    if history_model
                    else f"It links an unknown kind of history ({link.history_model})."
                )
                return _broken(checked, link, problem, history_model, row)
            if link.prev_hash != prev_hash:
                problem = (
                    "Its previous hash is not the hash of the link before it: "
                    "a link was removed, inserted or changed before this point."
                )
                return _broken(checked, link, problem, history_model, row)
            m2m = {
                name: ids.get(row.pk, [])
                for name, ids in snapshots.get(link.history_model, {}).items()
            }
            if link_hash(link.prev_hash, canonical(row, m2m=m2m)) != link.hash:
                problem = (
                    "The history entry no longer matches its hash: "
                    "it was changed after it was written (or the link's hash was)."
                )
                return _broken(checked, link, problem, history_model, row)
            prev_hash = link.hash
            checked += 1
        if progress is not None:
            progress(len(batch))
    return _unlinked(checked) or Result(ok=True, checked=checked, head=prev_hash)


def _load(
    batch: Iterable[ChainLink], models_by_label: dict[str, type[models.Model]]
) -> tuple[dict[str, dict[int, models.Model]], dict[str, dict[str, dict[int, list[int]]]]]:
    """The batch's history entries by label and id, and their m2m snapshots."""
    wanted: dict[str, list[int]] = defaultdict(list)
    for link in batch:
        if link.history_model in models_by_label:
            wanted[link.history_model].append(link.history_id)
    rows = {}
    snapshots: dict[str, dict[str, dict[int, list[int]]]] = {}
    for label, ids in wanted.items():
        history_model = models_by_label[label]
        rows[label] = history_model._default_manager.in_bulk(ids)
        snapshots[label] = {}
        for spec in _m2m_fields(history_model):
            found: dict[int, list[int]] = defaultdict(list)
            pairs = spec.model._default_manager.filter(history_id__in=ids).values_list(
                "history_id", spec.target
            )
            for history_id, target in pairs:
                found[history_id].append(target)
            snapshots[label][spec.name] = found
    return rows, snapshots


def _unlinked_rows(history_model: type[models.Model]) -> models.QuerySet:
    label = history_model._meta.label_lower
    link = ChainLink.objects.filter(history_model=label, history_id=OuterRef("pk"))
    return history_model._default_manager.filter(~Exists(link))


def _unlinked(checked: int) -> Result | None:
    """A Result naming the earliest history entry that has no link, if any."""
    count = 0
    earliest = None
    for history_model in chained_models().values():
        unlinked = _unlinked_rows(history_model)
        found = unlinked.count()
        if found:
            count += found
            row = unlinked.order_by("history_date", "history_id").first()
            if earliest is None or (row.history_date, row.pk) < (
                earliest.history_date,
                earliest.pk,
            ):
                earliest = row
    if earliest is None:
        return None
    entries = "entry has" if count == 1 else "entries have"
    problem = (
        f"{count} history {entries} no link: added around the application "
        "(or before the chain existed: see verify_log --backfill). This is the earliest."
    )
    return _broken(checked, None, problem, type(earliest), earliest)


def _broken(
    checked: int,
    link: ChainLink | None,
    problem: str,
    history_model: type[models.Model] | None,
    row: models.Model | None,
) -> Result:
    model = history_model.instance_type._meta.verbose_name if history_model else ""
    return Result(
        ok=False,
        checked=checked,
        first_broken=link,
        problem=problem,
        model=model or (link.history_model if link else ""),
        history_id=row.pk if row is not None else (link.history_id if link else None),
        record=_record(model, row),
        history_date=row.history_date if row is not None else None,
    )


def _record(model: str, row: models.Model | None) -> str:
    """Names the record from the entry alone (no query): Disagreement #12 “Stock count skipped”."""
    if row is None:
        return ""
    name = next(
        (getattr(row, f) for f in ("title", "name", "original_name") if getattr(row, f, "")),
        "",
    )
    label = f"{capfirst(model)} #{row.id}"
    return f"{label} “{name}”" if name else label


# --- Backfilling -------------------------------------------------------------------


def backfill(*, progress: Progress | None = None) -> int:
    """Link every history entry that has no link yet, oldest first; the number linked.

    For a database whose history predates the chain. It links whatever it
    finds, including an entry someone added by hand, so verify first: what it
    reports as unlinked is what this will make part of the record.
    """
    pending = []
    for label, history_model in chained_models().items():
        rows = _unlinked_rows(history_model).values_list("history_date", "history_id")
        pending.extend((date, history_id, label) for date, history_id in rows)
    pending.sort()
    using = router.db_for_write(ChainLink)
    models_by_label = chained_models()
    with transaction.atomic(using=using):
        prev_hash = _locked_tail(using)
        for batch in batched(pending, BATCH):
            links = [ChainLink(history_model=label, history_id=pk) for _, pk, label in batch]
            rows, snapshots = _load(links, models_by_label)
            for link in links:
                row = rows[link.history_model][link.history_id]
                m2m = {
                    name: ids.get(row.pk, []) for name, ids in snapshots[link.history_model].items()
                }
                link.prev_hash = prev_hash
                link.hash = prev_hash = link_hash(prev_hash, canonical(row, m2m=m2m))
            # One INSERT per batch, its rows in list order: the primary keys
            # follow the chain, as verify() expects.
            ChainLink.objects.using(using).bulk_create(links)
            if progress is not None:
                progress(len(links))
    return len(pending)
