"""Relationship health: the board, the advisor breakdown, how the score is
computed, and band overrides."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from accounts.permissions import get_visible_or_404, permission_required
from advisory.filters import HealthFilter
from advisory.forms import BandOverrideForm
from advisory.health import score, selectors, services
from advisory.models import Client, Disagreement
from advisory.transfer import exports
from advisory.views.common import paginate, wants_csv
from advisory.web.page_cache import cached_page

BREAKDOWN_DAYS = 365
# The board's sortable columns (?o=key or ?o=-key); anything else keeps the
# default order, adversarial first.
BOARD_SORTS = {
    "client": "name",
    "health": "health_score",
    "band": "band_rank",
    "trend": "health_trend",
    "recent": "disagreements_90d",
    "overridden": "overridden",
    "lead": "lead_advisor__last_name",
}


def _sorted(rows, key: str):
    field = BOARD_SORTS.get(key.removeprefix("-"))
    if field is None:
        return rows
    first = F(field).desc(nulls_last=True) if key.startswith("-") else F(field).asc(nulls_last=True)
    return rows.order_by(first, "name", "pk")


@permission_required("advisory.view_client")
@cached_page
def health_board(request: HttpRequest) -> HttpResponse:
    """Which relationships turned adversarial, over the user's scope."""
    clients = Client.objects.visible_to(request.user).active()
    filterset = HealthFilter(request.GET, queryset=clients, user=request.user)
    # A stale bookmark or a hand-typed value: show every current client (and
    # say so on the page); let-go clients only under the "Let go" filter.
    filtered = filterset.qs if filterset.is_valid() else clients.open_for_work()
    rows = selectors.with_board_columns(filtered.select_related("lead_advisor", "team"))
    rows = _sorted(rows, request.GET.get("o", ""))
    if wants_csv(request):
        return exports.HEALTH_BOARD.response(rows)
    if not filterset.is_valid():
        messages.warning(request, "Some filters had values Candor doesn't know; showing all rows.")
    in_scope, bands = selectors.scope_by_ids(filtered)
    history = selectors.band_history(in_scope)
    page = paginate(request, rows)
    now = selectors.band_counts(bands.values())
    tiles = [
        {
            "band": band,
            "label": band.label,
            "count": now[band],
            "change": now[band] - history.counts_30_days_ago[band],
        }
        for band in reversed(selectors.BAND_ORDER)
    ]
    activity = selectors.activity(in_scope)
    band_series = {
        band.label: [history.bands[m][band] for m in history.months]
        for band in selectors.BAND_ORDER
    }
    month_labels = [formats.date_format(m, "YEAR_MONTH_FORMAT") for m in history.months]
    context = {
        "filter": filterset,
        "page_obj": page,
        "noun": "clients",
        "tiles": tiles,
        "sparklines": {c.pk: history.scores.get(c.pk, []) for c in page.object_list},
        "chart_data": {
            "months": [m.isoformat() for m in history.months],
            "bands": band_series,
            **activity,
        },
        "tables": {
            "bands": _table("Month", month_labels, band_series),
            "tones": _table("Month", month_labels, activity["tones"]),
            "decisions": _table("Quarter", activity["quarters"], activity["decisions"]),
            "verdicts": _table("Verdict", [], {}, totals=activity["verdicts"]),
            "topics": _table("Topic", [], {}, totals=activity["topics"]),
        },
    }
    return render(request, "advisory/health_board.html", context)


def _table(first: str, labels: list, series: dict, *, totals: dict | None = None) -> dict:
    """A chart's data as table columns and rows (its text alternative)."""
    if totals is not None:
        return {"columns": [first, "Disagreements"], "rows": list(totals.items())}
    rows = [[label, *(values[i] for values in series.values())] for i, label in enumerate(labels)]
    return {"columns": [first, *series], "rows": rows}


@permission_required("accounts.view_health_board")
@cached_page
def advisor_breakdown(request: HttpRequest) -> HttpResponse:
    """Per advisor, for coaching: how often clients overrode them and who was right."""
    since = timezone.localdate() - datetime.timedelta(days=BREAKDOWN_DAYS)
    stats = selectors.advisor_breakdown(Disagreement.objects.visible_to(request.user), since=since)
    return render(request, "advisory/advisor_breakdown.html", {"stats": stats, "since": since})


@permission_required("advisory.view_client")
def health_score_explained(request: HttpRequest) -> HttpResponse:
    """How the health score is computed: the recipe (advisory/health/score.py,
    docs/scoring.md) with the weights in force, read from settings.CANDOR_HEALTH
    so that the page follows any recalibration."""
    w = settings.CANDOR_HEALTH
    D = Disagreement

    def factors(table: str, choices: type) -> list[tuple[str, float]]:
        return [(label, w[table][value]) for value, label in choices.choices]

    half_life = w["half_life_days"]
    ages = sorted({0, half_life, 2 * half_life, w["ignore_after_days"]})
    context = {
        "weights": w,
        "severity": factors("severity", D.Severity),
        "tone": factors("tone", D.Tone),
        "decision": factors("decision", D.Decision),
        "outcome": factors("outcome", D.Verdict),
        "decay": [(age, score.recency(age, w)) for age in ages],
        # What a total friction of one and two "scales" leaves of 100.
        "examples": [(total, score.score_for(total, w)) for total in (w["scale"], 2 * w["scale"])],
        "bands": w["bands"],
    }
    return render(request, "advisory/health_score.html", context)


@require_POST
@permission_required("advisory.override_band")
def band_override(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    form = BandOverrideForm(request.POST)
    if form.is_valid():
        try:
            services.band_override_set(client, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Band override recorded beside the computed score.")
            return redirect(f"{client.get_absolute_url()}#health")
    return render(
        request,
        "advisory/band_override.html",
        {"client": client, "form": form},
        status=400,
    )


@require_POST
@permission_required("advisory.override_band")
def band_override_clear(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    if services.band_override_clear(client, by=request.user):
        messages.success(request, "Band override ended; the computed band applies.")
    else:
        messages.info(request, "There was no band override in force.")
    return redirect(f"{client.get_absolute_url()}#health")
