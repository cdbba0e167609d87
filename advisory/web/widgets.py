"""Form widgets of our own."""

from __future__ import annotations

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


class CappedChoiceIterator(ModelChoiceIterator):
    """A model choice field's options, read up to LongSelect.LIMIT + 1 rows."""

    def __init__(self, field) -> None:
        super().__init__(field)
        self.queryset = self.queryset[: LongSelect.LIMIT + 1]


class LongSelect(forms.Select):
    """Django's <select>, built in Python instead of one template per option.

    Rendering an option through the widget templates is slow enough to show
    (docs/performance.md, "Measured reasons in the code"): a manager's client
    filter has hundreds of them, an admin's thousands. The
    HTML is the same as Select's, without option groups, which these lists don't use
    (a choice whose label is a list of options would be rendered wrongly).
    """

    # Beyond this many options (an admin's 10,000 clients; with
    # CappedChoiceIterator) the select offers only the chosen one and says to
    # search instead: a list that long is heavy to send and no help to scroll.
    LIMIT = 500

    def render(self, name, value, attrs=None, renderer=None) -> str:
        selected = set(self.format_value(value))
        choices = list(iter(self.choices))  # list() would ask len(): a COUNT query
        options = [c for c in choices if c[0] == "" or str(c[0]) in selected]
        capped = len([c for c in choices if c[0] != ""]) > self.LIMIT
        if capped:
            options += self._beyond_the_cap(selected - {str(c[0]) for c in options})
        html = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (option, flatatt({"selected": str(option) in selected}), label)
                for option, label in (options if capped else choices)
            ),
        )
        if capped:
            html += format_html(
                '<option value="" disabled>More than {} to list: search by name</option>',
                self.LIMIT,
            )
        attrs = self.build_attrs(self.attrs, attrs)
        return format_html("<select{}>{}</select>", flatatt({"name": name, **attrs}), html)

    def _beyond_the_cap(self, values: set[str]) -> list[tuple]:
        """The chosen options that were not among the rows read."""
        field = getattr(self.choices, "field", None)
        ids = [v for v in values if v.isascii() and v.isdigit() and len(v) <= 18]
        if field is None or not ids:
            return []
        return [
            (field.prepare_value(obj), field.label_from_instance(obj))
            for obj in field.queryset.filter(pk__in=ids)
        ]
