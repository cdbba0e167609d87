"""Template helpers for Candor's pages: badges, status pills, money and sortable
column headers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html

from advisory.models import Client, Disagreement

register = template.Library()


@register.simple_tag
def badge(obj: models.Model, field: str) -> str:
    """A badge for a choice field, coloured by value and always labelled in words."""
    value = getattr(obj, field)
    if value in (None, ""):
        return ""
    label = getattr(obj, f"get_{field}_display")()
    return format_html('<span class="badge badge-{}-{}">{}</span>', field, value, label)


@register.inclusion_tag("advisory/_status_pills.html")
def status_pills(disagreement, only: str = "") -> dict:
    """A disagreement's state as pills, each said once: what it waits on
    ("Awaiting decision", "Awaiting acknowledgment", "Awaiting outcome",
    "Follow-up due") instead of a "Pending" decision or verdict badge, and the
    decision and verdict only once they say something.

    `only` picks one part for a table's own column: "decision" (the decision,
    or that it is awaited, and a missing acknowledgment), "verdict" (the
    verdict, or that the outcome is awaited) or "follow_up".

    An open disagreement of a client let go waits on nothing any more: it says
    "Closed at let-go" (with the decision, if one was made) instead. The
    client's status is read only when the page loaded the client with the
    row, as every page showing pills does: never a query per row.
    """
    d = disagreement
    closed = d.is_open and _client_let_go(d)
    parts = {"decision": [], "verdict": [], "follow_up": []}
    if not d.awaiting_decision:
        parts["decision"].append((f"badge-decision-{d.decision}", d.get_decision_display()))
    if d.verdict != d.Verdict.PENDING:
        parts["verdict"].append((f"badge-verdict-{d.verdict}", d.get_verdict_display()))
    if closed:
        parts["decision"].append(("text-bg-secondary", "Closed at let-go"))
    else:
        if d.awaiting_decision:
            parts["decision"].append(("text-bg-light border", "Awaiting decision"))
        if d.awaiting_acknowledgment:
            parts["decision"].append(("text-bg-warning", "Awaiting acknowledgment"))
        if d.awaiting_outcome:
            parts["verdict"].append(("text-bg-light border", "Awaiting outcome"))
        if d.follow_up_due:
            parts["follow_up"].append(("text-bg-danger", "Follow-up due"))
    keys = [only] if only else list(parts)
    return {"pills": [pill for key in keys for pill in parts[key]]}


def _client_let_go(disagreement: Disagreement) -> bool:
    if not Disagreement.client.is_cached(disagreement):
        return False
    return disagreement.client.status == Client.Status.LET_GO


@register.filter
def money(amount) -> str:
    """An amount in settings.CANDOR_CURRENCY, as people write it: "£12,500.00",
    "-$900.50", "CHF 12,500.00" (a code without a symbol Candor knows); "—"
    for none. Exports keep the plain number."""
    if amount is None or amount == "":
        return "—"
    try:
        value = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return str(amount)
    code = settings.CANDOR_CURRENCY
    symbol = settings.CANDOR_CURRENCIES.get(code) or f"{code}\N{NO-BREAK SPACE}"
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


@register.simple_tag
def band_badge(client) -> str:
    if not client.health_band:
        return format_html('<span class="badge badge-band-none">{}</span>', "Not scored")
    return format_html(
        '<span class="badge badge-band-{}">{}</span>',
        client.health_band,
        client.get_health_band_display(),
    )


@register.inclusion_tag("includes/_sort_header.html", takes_context=True)
def sort_header(context, key: str, label: str) -> dict:
    """A column header that sorts the list by `key` (toggling the direction),
    keeping the other filters and going back to page 1."""
    request: HttpRequest = context["request"]
    current = request.GET.get("o", "")
    if current == key:
        direction, next_key = "ascending", f"-{key}"
    elif current == f"-{key}":
        direction, next_key = "descending", key
    else:
        direction, next_key = None, key
    params = request.GET.copy()
    params.pop("page", None)
    params["o"] = next_key
    return {"label": label, "direction": direction, "query": params.urlencode()}


@register.simple_tag
def trend(value: int | None) -> str:
    """The 90-day change as an arrow and a signed number, with words for screen readers."""
    if value is None:
        return ""
    if value > 0:
        arrow, css, words = "▲", "trend-up", f"up {value} points in 90 days"
    elif value < 0:
        arrow, css, words = "▼", "trend-down", f"down {-value} points in 90 days"
    else:
        arrow, css, words = "▶", "trend-flat", "no change in 90 days"
    return format_html(
        '<span class="trend {}" title="{}"><span aria-hidden="true">{} {}</span>'
        '<span class="visually-hidden">{}</span></span>',
        css,
        words,
        arrow,
        f"{value:+d}",
        words,
    )


@register.simple_tag
def health_weight(name: str):
    """One number of the health recipe in force (settings.CANDOR_HEALTH), so
    that the words around the score follow a recalibration."""
    return settings.CANDOR_HEALTH[name]


@register.filter
def percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


@register.filter
def choice_label(value: str, choices: str) -> str:
    """The label of a Disagreement choice value: {{ "proceeded"|choice_label:"Decision" }}."""
    from advisory.models import Disagreement

    enum = getattr(Disagreement, choices)
    try:
        return enum(value).label
    except ValueError:
        return value


@register.inclusion_tag("includes/_error_summary.html")
def error_summary(form) -> dict:
    """GOV.UK's error summary: each field's errors, linked to the field. The
    form-wide errors stay where the form shows them (said once, not twice)."""
    errors = [
        (field.id_for_label or field.auto_id, field.label, error)
        for field in form.visible_fields()
        for error in field.errors
    ]
    return {"errors": errors}
