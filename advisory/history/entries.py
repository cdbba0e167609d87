"""A record's History tab: who changed what, when, and why.

Reads django-simple-history's records and turns each one into an entry with
display values (choice labels, names instead of ids) diffed against the record
before it. The diff is computed here rather than with `diff_against()`, which
skips non-editable fields (a disagreement's reviewer, a client's health) and
queries once per pair for many-to-many fields.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst

from accounts.models import User
from advisory.models import HISTORY_EXCLUDED, Engagement

EMPTY = "—"
ACTIONS = {"+": "Created", "~": "Changed", "-": "Deleted"}

# Models whose __str__ walks a relation: load it along with them so naming
# them costs no extra query.
RELATED_FOR_STR: dict[type[models.Model], list[str]] = {Engagement: ["client"]}


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime.datetime
    user: User | None
    action: str
    reason: str
    changes: list[FieldChange]


def history_entries(obj: models.Model, *, limit: int | None = None) -> list[HistoryEntry]:
    """The record's history, newest first, each entry with its field changes.

    The oldest entry (usually "Created") lists the values first recorded.
    Queries: one for the history, one per many-to-many field tracked, and one
    per related model named in the changes shown, however many entries or
    changes there are.
    """
    manager = getattr(obj, obj._meta.simple_history_manager_attribute)
    history = manager.select_related("history_user").order_by("-history_date", "-history_id")
    # One record more than shown: the baseline the oldest entry shown is diffed against.
    records = list(history if limit is None else history[: limit + 1])
    shown = records if limit is None else records[:limit]
    if not shown:
        return []

    history_model = manager.model
    fields = _fields(history_model)
    values = _values(history_model, fields, records)

    diffs: list[list[tuple[models.Field, Any, Any]]] = []
    wanted: dict[type[models.Model], set[Any]] = defaultdict(set)
    for index, record in enumerate(shown):
        new = values[record.pk]
        if index + 1 < len(records):
            old = values[records[index + 1].pk]
            diff = [(f, old[f.name], new[f.name]) for f in fields if old[f.name] != new[f.name]]
        else:
            diff = [(f, None, new[f.name]) for f in fields if not _is_empty(new[f.name])]
        diffs.append(diff)
        for field, old_value, new_value in diff:
            if field.is_relation:
                wanted[field.related_model].update(_ids(field, old_value, new_value))

    names = _names(wanted)
    return [
        HistoryEntry(
            when=record.history_date,
            user=record.history_user,
            action=ACTIONS.get(record.history_type, record.history_type),
            reason=record.history_change_reason or "",
            changes=[
                FieldChange(
                    label=capfirst(str(field.verbose_name)),
                    old=_display(field, old_value, names),
                    new=_display(field, new_value, names),
                )
                for field, old_value, new_value in diff
            ],
        )
        for record, diff in zip(shown, diffs, strict=True)
    ]


def _fields(history_model: type[models.Model]) -> list[models.Field]:
    """The original model's fields worth showing, in the order they are declared."""
    fields = [
        field
        for field in history_model.tracked_fields
        if not field.primary_key
        and field.name not in HISTORY_EXCLUDED
        # Timestamps set by every save (or the first) repeat the entry's own date.
        and not getattr(field, "auto_now", False)
        and not getattr(field, "auto_now_add", False)
    ]
    fields += [f for f in history_model._history_m2m_fields if f.name not in HISTORY_EXCLUDED]
    return sorted(fields, key=lambda field: field.creation_counter)


def _values(
    history_model: type[models.Model], fields: list[models.Field], records: list[models.Model]
) -> dict[Any, dict[str, Any]]:
    """Each record's raw values by field name: ids for foreign keys, a frozenset
    of ids for many-to-many fields (one query per such field)."""
    values = {
        record.pk: {f.name: getattr(record, f.attname) for f in fields if not f.many_to_many}
        for record in records
    }
    for field in fields:
        if not field.many_to_many:
            continue
        m2m_model = getattr(history_model, field.name).model
        related_attname = m2m_model._meta.get_field(field.m2m_reverse_field_name()).attname
        members: dict[Any, set[Any]] = defaultdict(set)
        rows = m2m_model.objects.filter(history_id__in=list(values)).values_list(
            "history_id", related_attname
        )
        for history_id, related_id in rows:
            members[history_id].add(related_id)
        for history_id, record_values in values.items():
            record_values[field.name] = frozenset(members[history_id])
    return values


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == frozenset()


def _ids(field: models.Field, *values: Any) -> Iterable[Any]:
    for value in values:
        if field.many_to_many:
            yield from value or ()
        elif value is not None:
            yield value


def _names(wanted: dict[type[models.Model], set[Any]]) -> dict[type[models.Model], dict]:
    """The related objects by model and id: one query per model."""
    names = {}
    for model, ids in wanted.items():
        queryset = model._base_manager.all()
        if model in RELATED_FOR_STR:
            queryset = queryset.select_related(*RELATED_FOR_STR[model])
        names[model] = {pk: str(related) for pk, related in queryset.in_bulk(ids).items()}
    return names


def _display(field: models.Field, value: Any, names: dict[type[models.Model], dict]) -> str:
    if _is_empty(value):
        return EMPTY
    # A structured field says how it reads (a let-go case's deadlines).
    if hasattr(field, "history_display"):
        return field.history_display(value) or EMPTY
    if field.is_relation:
        found = names.get(field.related_model, {})
        ids = sorted(value) if field.many_to_many else [value]
        deleted = field.related_model._meta.verbose_name
        labels = [found.get(pk) or f"deleted {deleted} #{pk}" for pk in ids]
        return ", ".join(sorted(labels, key=str.casefold))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    # Dates read as on every other page ("7 Dec 2026", "7 Dec 2026, 14:05"):
    # config/formats/en/formats.py.
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return formats.date_format(value, "DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return formats.date_format(value, "DATE_FORMAT")
    return str(value)
