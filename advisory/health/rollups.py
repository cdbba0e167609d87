"""Counts derived from the disagreement log for the health board.

Counting a large firm's log on every view is what made the board slow
(docs/performance.md), so the counts are kept beside it:

- `ClientStats`: the board's "Disagreements 90d" and "Overridden advice" per
  client, as of a day. `health_refresh` writes them from the facts it has
  already read, on every disagreement write and in the nightly
  `recompute_health`. The windows move with the date: between midnight and
  the nightly run they count as of the day before (`updated_on` says which).
- `ClientMonth`: per client and month, the active disagreements by tone,
  decision, verdict and topic. A disagreement write recomputes the months it
  touches (the old and the new `occurred_on`) from the log, in the same
  transaction, so the rows are always the log's own count, never a running
  tally that could drift.

Both are rebuilt from the log by `recompute_health --rollups` (one
INSERT … SELECT … GROUP BY each), which the seed commands call too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, QuerySet, Value
from django.db.models.functions import TruncMonth

from advisory.health.score import Facts
from advisory.models import Client, ClientMonth, ClientStats, Disagreement

D = Disagreement
# ClientMonth's count columns: (column, Disagreement field, stored value).
COLUMNS: list[tuple[str, str, str]] = [
    (f"{field}_{value}", field, value)
    for field, choices in (
        ("tone", D.Tone),
        ("decision", D.Decision),
        ("verdict", D.Verdict),
        ("topic", D.Topic),
    )
    for value in choices.values
]
COUNT_FIELDS = ["total", *(column for column, _, _ in COLUMNS)]


def first_of_month(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


# --- The board's columns ------------------------------------------------------


def _windows(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first day out of the 90-day window, and the first day in the
    overridden-advice window (the score's `ignore_after_days`)."""
    ignore = settings.CANDOR_HEALTH["ignore_after_days"]
    return today - datetime.timedelta(days=90), today - datetime.timedelta(days=ignore)


def board_counts(facts: Iterable[Facts], *, today: datetime.date) -> tuple[int, int]:
    """(disagreements in the last 90 days, proceeded against advice within the
    score's window) among a client's active disagreements. `facts` must reach
    back to the longer window (health_refresh's do)."""
    recent_after, window_from = _windows(today)
    recent = overridden = 0
    for fact in facts:
        if fact.occurred_on > recent_after:
            recent += 1
        if fact.decision == D.Decision.PROCEEDED and fact.occurred_on >= window_from:
            overridden += 1
    return recent, overridden


def stats_save(client: Client, counts: tuple[int, int], *, today: datetime.date) -> None:
    ClientStats.objects.bulk_create(
        [
            ClientStats(
                client=client,
                disagreements_90d=counts[0],
                overridden_recent=counts[1],
                updated_on=today,
            )
        ],
        update_conflicts=True,
        unique_fields=["client"],
        update_fields=["disagreements_90d", "overridden_recent", "updated_on"],
    )


def stats_refresh(client_id: int, *, today: datetime.date) -> None:
    """Recount one client's board columns from the log (two queries), for
    writers that go around `health_refresh` (test factories, one-off fixes)."""
    recent_after, window_from = _windows(today)
    counts = Disagreement.objects.filter(client_id=client_id, is_archived=False).aggregate(
        recent=Count("pk", filter=Q(occurred_on__gt=recent_after)),
        overridden=Count(
            "pk", filter=Q(decision=D.Decision.PROCEEDED, occurred_on__gte=window_from)
        ),
    )
    stats_save(Client(pk=client_id), (counts["recent"], counts["overridden"]), today=today)


# --- Monthly counts -----------------------------------------------------------


def _monthly(disagreements: QuerySet[Disagreement]) -> QuerySet:
    """Active disagreements counted per client and month, columns in COUNT_FIELDS order."""
    counts = {column: Count("pk", filter=Q(**{field: value})) for column, field, value in COLUMNS}
    return (
        disagreements.filter(is_archived=False)
        .annotate(month=TruncMonth("occurred_on"))
        .values("client", "month")
        .annotate(total=Count("pk"), **counts)
        .order_by()
    )


def months_refresh(client_id: int, days: Iterable[datetime.date]) -> None:
    """Recount a client's months that contain `days` from the log, in one
    INSERT … SELECT … GROUP BY that updates the rows already there (and one
    DELETE when a month is left without active disagreements).

    Called in the disagreement write's transaction, after the write, with the
    record's old and new `occurred_on`.
    """
    months = {first_of_month(day) for day in days}
    if not months:
        return
    in_months = Q()
    for month in months:
        following = (month + datetime.timedelta(days=32)).replace(day=1)
        in_months |= Q(occurred_on__gte=month, occurred_on__lt=following)
    counted = _insert_select(
        ClientMonth,
        ["client_id", "month", *COUNT_FIELDS],
        _monthly(Disagreement.objects.filter(in_months, client_id=client_id)),
        update_on=["client_id", "month"],
        returning="month",
    )
    month_field = ClientMonth._meta.get_field("month")
    # An edit that moved a disagreement's date, or archived it, can empty a month.
    empty = months - {month_field.to_python(month) for (month,) in counted}
    if empty:
        ClientMonth.objects.filter(client_id=client_id, month__in=empty).delete()


# --- Rebuilding ---------------------------------------------------------------


@transaction.atomic
def rebuild(*, today: datetime.date) -> tuple[int, int]:
    """Recount every client's months and board columns from the log.

    One INSERT … SELECT … GROUP BY per table, so it suits a million rows (and
    bulk-seeded ones, which bypass the services). Returns the rows written.
    """
    ClientMonth.objects.all().delete()
    months = _insert_select(ClientMonth, ["client_id", "month", *COUNT_FIELDS], _monthly(D.objects))

    recent_after, window_from = _windows(today)
    stats = (
        D.objects.filter(is_archived=False, occurred_on__gte=min(window_from, recent_after))
        .values("client")
        .annotate(
            disagreements_90d=Count("pk", filter=Q(occurred_on__gt=recent_after)),
            overridden_recent=Count(
                "pk", filter=Q(decision=D.Decision.PROCEEDED, occurred_on__gte=window_from)
            ),
            updated_on=Value(today),
        )
        .order_by()
    )
    ClientStats.objects.all().delete()
    clients = _insert_select(
        ClientStats,
        ["client_id", "disagreements_90d", "overridden_recent", "updated_on"],
        stats,
    )
    return months, clients


def _insert_select(
    model,
    columns: list[str],
    select: QuerySet,
    *,
    update_on: list[str] | None = None,
    returning: str | None = None,
):
    """INSERT INTO model's table (columns) the rows of `select`, whose values()
    come in the same order as `columns`; the number of rows written.

    With `update_on` (the columns of a unique constraint), a row that is
    already there has its other columns updated instead. With `returning`,
    the written rows' values of that column instead of their number.
    """
    # A guard: the SELECT's column order is what puts each count in its column.
    names = [*select.query.values_select, *select.query.annotation_select]
    expected = ["client" if c == "client_id" else c for c in columns]
    if names != expected:
        raise RuntimeError(f"SELECT columns {names} do not match {expected}")
    sql, params = select.query.sql_with_params()
    quote = connection.ops.quote_name
    target = f"{quote(model._meta.db_table)} ({', '.join(quote(c) for c in columns)})"
    statement = f"INSERT INTO {target} {sql}"
    if update_on:
        # (SQLite would take ON right after a FROM for a join's: ours end in GROUP BY.)
        updates = ", ".join(
            f"{quote(c)} = EXCLUDED.{quote(c)}" for c in columns if c not in update_on
        )
        statement += f" ON CONFLICT ({', '.join(map(quote, update_on))}) DO UPDATE SET {updates}"
    if returning:
        statement += f" RETURNING {quote(returning)}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if returning else cursor.rowcount
