"""Reads that span models and feed the health pages and their charts.

Every function takes querysets already limited to the user's scope, so the
scoping stays in one place (the views load them through `visible_to`).
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from advisory.health import rollups
from advisory.health import score as scoring
from advisory.health.score import Facts, Health
from advisory.models import (
    Band,
    BandOverride,
    Client,
    ClientMonth,
    Disagreement,
    HealthSnapshot,
)

# The Disagreement fields scoring.Facts is made of, in order.
FACT_FIELDS = ["id", "title", "occurred_on", "severity", "tone", "decision", "verdict"]


def client_health(client: Client, *, as_of: datetime.date | None = None) -> tuple[Health, Health]:
    """The client's health on `as_of` (default today) and `trend_days` earlier.

    One query: the active disagreements that can count on either date.
    """
    as_of = as_of or timezone.localdate()
    return health_now_and_then(client_facts(client, as_of=as_of), as_of=as_of)


def client_facts(client: Client, *, as_of: datetime.date) -> list[Facts]:
    """The client's active disagreements that can count on `as_of` or on the
    trend's start, as the score's facts."""
    weights = settings.CANDOR_HEALTH
    then = as_of - datetime.timedelta(days=weights["trend_days"])
    earliest = then - datetime.timedelta(days=weights["ignore_after_days"])
    rows = (
        Disagreement.objects.active()
        .filter(client=client, occurred_on__gte=earliest, occurred_on__lte=as_of)
        .values_list(*FACT_FIELDS)
    )
    return [Facts(*row) for row in rows]


def health_now_and_then(facts: list[Facts], *, as_of: datetime.date) -> tuple[Health, Health]:
    """The health on `as_of` and on the trend's start, with the weights in settings."""
    weights = settings.CANDOR_HEALTH
    then = scoring.trend_start(as_of, weights)
    return (
        scoring.score(facts, as_of=as_of, weights=weights),
        scoring.score(facts, as_of=then, weights=weights),
    )


# Worst first, as the board lists them.
BAND_ORDER = [Band(band) for band in reversed(scoring.BANDS)]
SNAP_FIELDS = ["date", "score", "band"]
CHART_MONTHS = 12


def months_back(today: datetime.date, count: int = CHART_MONTHS) -> list[datetime.date]:
    """The first day of each of the last `count` months, oldest first, this month last."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def month_end(first: datetime.date) -> datetime.date:
    following = (first.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return following - datetime.timedelta(days=1)


def with_board_columns(clients: QuerySet[Client]) -> QuerySet[Client]:
    """Annotate the health board's columns; adversarial first, then by score.

    The two counts come from ClientStats (advisory/health/rollups.py), as of the last
    disagreement write or nightly run: no client without a row has any to count.
    """
    today = timezone.localdate()
    band_rank = Case(
        *[When(health_band=band, then=Value(i)) for i, band in enumerate(BAND_ORDER)],
        default=Value(len(BAND_ORDER)),
        output_field=IntegerField(),
    )
    override = BandOverride.objects.in_force(today).filter(client=OuterRef("pk"))
    return clients.annotate(
        disagreements_90d=Coalesce(F("stats__disagreements_90d"), 0),
        overridden=Coalesce(F("stats__overridden_recent"), 0),
        band_rank=band_rank,
        override_band=Subquery(override.values("band")[:1]),
    ).order_by("band_rank", "health_score", "name")


def band_counts(clients: QuerySet[Client] | Iterable[str]) -> dict[str, int]:
    """Clients per band, from a queryset or from their bands already read."""
    if isinstance(clients, QuerySet):
        clients = clients.values_list("health_band", flat=True)
    counts = Counter(clients)
    return {band: counts.get(band, 0) for band in BAND_ORDER}


# Up to this many clients, the board reads its charts and history for a list
# of ids rather than through the scope's subquery, whose size PostgreSQL
# misjudges (docs/performance.md, "Measured reasons in the code").
IDS_UP_TO = 5000


def scope_by_ids(clients: QuerySet[Client]) -> tuple[QuerySet[Client], dict[int, str]]:
    """The clients as a queryset of their ids (when few enough) and each one's band,
    in one query."""
    bands = dict(clients.values_list("pk", "health_band"))
    if len(bands) > IDS_UP_TO:
        return clients, bands
    return Client.objects.filter(pk__in=list(bands)), bands


@dataclass
class BandHistory:
    """Each client's band and score over time, from its snapshots."""

    months: list[datetime.date]
    bands: dict[datetime.date, dict[str, int]]  # month -> band -> clients
    scores: dict[int, list[int | None]]  # client id -> score at each month end
    counts_30_days_ago: dict[str, int]


def band_history(clients: QuerySet[Client], *, today: datetime.date | None = None) -> BandHistory:
    """Bands per month and per-client monthly scores for the last 12 months.

    Two queries whatever the number of clients: each client's last snapshot
    before the window, and the snapshots inside it.
    """
    today = today or timezone.localdate()
    months = months_back(today)
    start = months[0]
    in_scope = clients.values("pk")
    timeline: dict[int, list[tuple[datetime.date, int, str]]] = defaultdict(list)
    last_before = HealthSnapshot.objects.filter(client=OuterRef("pk"), date__lt=start).order_by(
        "-date"
    )
    starts = Client.objects.filter(pk__in=in_scope).annotate(
        **{f"start_{field}": Subquery(last_before.values(field)[:1]) for field in SNAP_FIELDS}
    )
    ids = []  # every client in scope, with or without snapshots
    for client_id, *snap in starts.values_list("pk", *(f"start_{f}" for f in SNAP_FIELDS)):
        ids.append(client_id)
        if snap[0] is not None:
            timeline[client_id].append(tuple(snap))
    for snap in (
        HealthSnapshot.objects.filter(client__in=in_scope, date__gte=start, date__lte=today)
        .order_by("date")
        .values_list("client_id", "date", "score", "band")
    ):
        timeline[snap[0]].append(snap[1:])

    checkpoints = [min(month_end(m), today) for m in months]
    thirty_days_ago = today - datetime.timedelta(days=30)
    bands = {m: dict.fromkeys(BAND_ORDER, 0) for m in months}
    scores: dict[int, list[int | None]] = {}
    past_counts = dict.fromkeys(BAND_ORDER, 0)
    for client_id in ids:
        snaps = timeline.get(client_id, [])
        series = []
        # One walk through the snapshots (by date) for all the month ends.
        state, later = None, iter(snaps)
        upcoming = next(later, None)
        for month, checkpoint in zip(months, checkpoints, strict=True):
            while upcoming is not None and upcoming[0] <= checkpoint:
                state, upcoming = upcoming[1:], next(later, None)
            series.append(state[0] if state else None)
            if state:
                bands[month][state[1]] += 1
        scores[client_id] = series
        state = _state_on(snaps, thirty_days_ago)
        if state:
            past_counts[state[1]] += 1
    return BandHistory(months=months, bands=bands, scores=scores, counts_30_days_ago=past_counts)


def _state_on(snaps: list[tuple], day: datetime.date) -> tuple[int, str] | None:
    state = None
    for date, score, band in snaps:
        if date > day:
            break
        state = (score, band)
    return state


def activity(clients: QuerySet[Client], *, today: datetime.date | None = None) -> dict:
    """Chart data about the clients' active disagreements over the last 12 months.

    One query over the monthly rollups (ClientMonth, advisory/health/rollups.py): at
    most 12 rows per client, added up per month in SQL.
    """
    today = today or timezone.localdate()
    months = months_back(today)
    rows = (
        ClientMonth.objects.filter(client__in=clients.values("pk"), month__gte=months[0])
        .values("month")
        .annotate(**{column: Sum(column) for column, _, _ in rollups.COLUMNS})
        .order_by()
    )
    by_tone: dict[tuple[datetime.date, str], int] = {}
    by_decision: Counter = Counter()
    verdicts: Counter = Counter()
    topics: Counter = Counter()
    for row in rows:
        for column, field, value in rollups.COLUMNS:
            n = row[column]
            if field == "tone":
                by_tone[row["month"], value] = n
            elif field == "decision":
                by_decision[_quarter(row["month"]), value] += n
            elif field == "verdict":
                verdicts[value] += n
            else:
                topics[value] += n
    quarters = sorted({_quarter(m) for m in months})
    decisions = [c for c in Disagreement.Decision if c != Disagreement.Decision.PENDING]
    return {
        "months": [m.isoformat() for m in months],
        "tones": {
            tone.label: [by_tone.get((m, tone.value), 0) for m in months]
            for tone in Disagreement.Tone
        },
        "quarters": [f"{q.year} Q{(q.month - 1) // 3 + 1}" for q in quarters],
        "decisions": {
            d.label: [by_decision.get((q, d.value), 0) for q in quarters] for d in decisions
        },
        "verdicts": {
            v.label: verdicts.get(v.value, 0)
            for v in Disagreement.Verdict
            if v != Disagreement.Verdict.PENDING
        },
        "topics": {t.label: topics.get(t.value, 0) for t in Disagreement.Topic},
    }


def _quarter(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


@dataclass(frozen=True)
class AdvisorStats:
    advisor: User
    logged: int
    overridden: int
    vindicated: int
    decided: int
    open_items: int

    @property
    def overridden_share(self) -> float | None:
        return self.overridden / self.decided if self.decided else None

    @property
    def vindicated_share(self) -> float | None:
        return self.vindicated / self.overridden if self.overridden else None


def advisor_breakdown(
    disagreements: QuerySet[Disagreement], *, since: datetime.date
) -> list[AdvisorStats]:
    """Per advisor who logged disagreements since `since`: how often the client
    overrode the advice and how often the advice was later vindicated. One query."""
    D = Disagreement
    rows = (
        disagreements.filter(is_archived=False, occurred_on__gte=since)
        .values("logged_by")
        .annotate(
            logged=Count("pk"),
            decided=Count("pk", filter=~Q(decision=D.Decision.PENDING)),
            overridden=Count("pk", filter=Q(decision=D.Decision.PROCEEDED)),
            vindicated=Count(
                "pk",
                filter=Q(decision=D.Decision.PROCEEDED, verdict=D.Verdict.ADVICE_VINDICATED),
            ),
            open_items=Count("pk", filter=D.open_q()),
        )
        .order_by()
    )
    rows = list(rows)
    people = User.objects.in_bulk([row["logged_by"] for row in rows])
    stats = [
        AdvisorStats(
            advisor=people[row["logged_by"]],
            logged=row["logged"],
            overridden=row["overridden"],
            vindicated=row["vindicated"],
            decided=row["decided"],
            open_items=row["open_items"],
        )
        for row in rows
    ]
    return sorted(stats, key=lambda s: (s.advisor.last_name, s.advisor.first_name))


# What a manager's dashboard and the board's "Needs attention" filter call recent.
NEWLY_ADVERSARIAL_DAYS = 30
OVERRIDE_ENDING_DAYS = 14


def overrides_ending(clients: QuerySet[Client]) -> QuerySet[BandOverride]:
    """The band overrides in force on `clients` that end within OVERRIDE_ENDING_DAYS
    (then the computed band shows again), soonest first."""
    today = timezone.localdate()
    return (
        BandOverride.objects.in_force(today)
        .filter(
            client__in=clients, expires_on__lte=today + datetime.timedelta(OVERRIDE_ENDING_DAYS)
        )
        .order_by("expires_on", "client__name", "pk")
    )


def turned_adversarial(clients: QuerySet[Client]) -> QuerySet[Client]:
    """`newly_adversarial` over the last NEWLY_ADVERSARIAL_DAYS days."""
    since = timezone.localdate() - datetime.timedelta(days=NEWLY_ADVERSARIAL_DAYS)
    return newly_adversarial(clients, since=since)


def newly_adversarial(clients: QuerySet[Client], *, since: datetime.date) -> QuerySet[Client]:
    """Clients adversarial now that were not on `since` (by their last snapshot on
    or before it, as the board's "since 30 days ago" counts them). A client with no
    snapshot by then was not adversarial then, so it counts as newly adversarial."""
    band_then = HealthSnapshot.objects.filter(client=OuterRef("pk"), date__lte=since).order_by(
        "-date"
    )
    return (
        clients.filter(health_band=Band.ADVERSARIAL)
        .annotate(band_then=Subquery(band_then.values("band")[:1]))
        # Not exclude(): NOT (NULL = 'adversarial') is NULL in SQL and would drop
        # the clients without an earlier snapshot.
        .filter(Q(band_then__isnull=True) | ~Q(band_then=Band.ADVERSARIAL))
        .order_by("health_score", "name")
    )
