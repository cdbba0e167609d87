"""The filters a list is showing, as chips: "Severity: High", each removable.

Pure: a bound filterset and the request's query parameters in, chips out.
Every filter of every list works the same way; the label and the value shown
come from the filterset's form (a choice's label, a record's name, a date, a
yes/no, the search text), so a new filter gets its chip without code here.

Each chip's link is the same list without that filter: every other filter
and the sort stay, the page goes (page 3 of a longer list may not exist).
Only filters the person set make a chip, read from the query string, not
from defaults (the archived filter's "Active only" is no filter).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django import forms
from django.db import models
from django.http import QueryDict
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst

# Parameters a list reads that are not filters: removing a chip keeps the
# sort; page and format are never carried over.
SORT = "o"
DROPPED = ("page", "format")
NOT_FILTERS = (SORT, *DROPPED)
DATE = "j M Y"


@dataclass(frozen=True)
class Chip:
    name: str  # the filter's field name
    label: str  # "Severity"
    value: str  # "High"
    query: str  # the query string without this filter ("" for the bare list)

    @property
    def text(self) -> str:
        return f"{self.label}: {self.value}"


def filter_keys(form: forms.Form, name: str) -> list[str]:
    """The query parameters one filter reads: `occurred_after` and
    `occurred_before` for a date range, its own name otherwise."""
    field = form.fields[name]
    html_name = form.add_prefix(name)
    widget = field.widget
    if suffixes := getattr(widget, "suffixes", None):  # django-filter's SuffixedMultiWidget
        return [widget.suffixed(html_name, suffix) for suffix in suffixes]
    if isinstance(widget, forms.MultiWidget):
        return [f"{html_name}{suffix}" for suffix in widget.widgets_names]
    return [html_name]


def _set_values(params: QueryDict, keys: Iterable[str]) -> list[str]:
    return [v for key in keys for v in params.getlist(key) if v.strip()]


def filter_chips(filterset, params: QueryDict) -> list[Chip]:
    """One chip per filter set in `params`, in the order of the filter panel."""
    form = filterset.form
    form.is_valid()  # cleans once; a list page has done so already
    cleaned = getattr(form, "cleaned_data", {})
    chips = []
    for name, field in form.fields.items():
        if name in NOT_FILTERS:
            continue
        keys = filter_keys(form, name)
        raw = _set_values(params, keys)
        if not raw:
            continue
        if name in cleaned and name not in form.errors:
            value = display(field, cleaned[name])
        else:  # a value the filter refused: shown as typed, so it can be removed
            value = ", ".join(raw)
        if not value:
            continue
        chips.append(
            Chip(
                name=name,
                label=capfirst(str(field.label or name.replace("_", " "))),
                value=value,
                query=without(params, keys),
            )
        )
    return chips


def without(params: QueryDict, keys: Iterable[str] = ()) -> str:
    """`params` as a query string, less `keys`, the page, the format and the
    empty values a submitted filter form sends for every filter left unset."""
    dropped = {*keys, *DROPPED}
    kept = QueryDict(mutable=True)
    for key, values in params.lists():
        if key not in dropped and (set_values := [v for v in values if v.strip()]):
            kept.setlist(key, set_values)
    return kept.urlencode()


def clear_all(params: QueryDict) -> str:
    """The query string of the same list with no filter: only the sort stays."""
    kept = QueryDict(mutable=True)
    if sort := params.get(SORT):
        kept[SORT] = sort
    return kept.urlencode()


def display(field: forms.Field, value) -> str:
    """A cleaned filter value as the person chose it, in words."""
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, slice):
        start, stop = display(field, value.start), display(field, value.stop)
        if start and stop:
            return f"{start} to {stop}"
        return f"from {start}" if start else f"until {stop}" if stop else ""
    if isinstance(value, models.Model):
        label = getattr(field, "label_from_instance", str)
        return str(label(value))
    if isinstance(value, list | tuple | models.QuerySet):
        return ", ".join(filter(None, (display(field, item) for item in value)))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        if value.time() in (datetime.time.min, datetime.time.max):
            return date_format(value.date(), DATE)
        return date_format(value, f"{DATE} H:i")
    if isinstance(value, datetime.date):
        return date_format(value, DATE)
    if isinstance(field, forms.ChoiceField):
        return _choice_label(field.choices, value)
    if isinstance(field, forms.CharField):
        return f"“{value.strip()}”"
    return str(value)


def _choice_label(choices, value) -> str:
    for key, label in choices:
        if isinstance(label, list | tuple):  # a group of choices
            found = _choice_label(label, value)
            if found != str(value):
                return found
        elif str(key) == str(value):
            return str(label)
    return str(value)
