"""Writes for relationship health: the client's stored score, band, snapshots
and board counts, kept current inside the write that changed them; managers'
band overrides."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import FilteredRelation, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from advisory.health import rollups, selectors
from advisory.health import score as scoring
from advisory.health.score import Health
from advisory.models import BandOverride, Client, HealthSnapshot
from advisory.notifications import triggers


@dataclass(frozen=True)
class LockedClient:
    """A client's status and stored health, read by `client_lock`."""

    pk: int
    status: str
    health: tuple  # (health_score, health_band, health_trend)


def client_lock(client_pk: int) -> LockedClient:
    """Lock the client's row until the transaction ends; read its status and
    stored health with the lock.

    Only the row's own columns: when the query had to wait for the lock,
    PostgreSQL returns those as the transaction it waited for committed them,
    but what it would join from other tables as it was when the query began.
    """
    status, *health = (
        # NO KEY: inserts referring to the client (their key-share locks) go on.
        Client.objects.select_for_update(no_key=True)
        .filter(pk=client_pk)
        .values_list("status", "health_score", "health_band", "health_trend")
        .get()
    )
    return LockedClient(pk=client_pk, status=status, health=tuple(health))


# Part of the caller's transaction when there is one (no savepoint: nothing
# catches its errors and goes on); a transaction of its own otherwise.
@transaction.atomic(savepoint=False)
def health_refresh(
    client: Client,
    *,
    as_of: datetime.date | None = None,
    notify: bool = True,
    locked: LockedClient | None = None,
) -> bool:
    """Recompute a client's health and store it; True when anything changed.

    The denormalised fields on Client and the board's counts (ClientStats)
    describe today, so a past `as_of` only writes that day's snapshot. A
    snapshot is written only when the score or band differs from the one
    before it, so running this twice changes nothing.

    `locked` is what `client_lock` read earlier in the caller's transaction
    (record_save locks the client before writing): the lock is held already.
    """
    today = timezone.localdate()
    as_of = as_of or today
    if locked is None or locked.pk != client.pk:
        # Lock the client first: two edits of its disagreements then score one
        # after the other, each seeing the other's committed change. Compare
        # with what is stored, not with the caller's possibly stale copy.
        locked = client_lock(client.pk)
    # In a query after the lock's: one that waited for it would see the
    # other tables as they were before the write it waited for committed.
    stored_counts, existing, previous = _stored(client.pk, as_of=as_of)
    facts = selectors.client_facts(client, as_of=as_of)
    now, then = selectors.health_now_and_then(facts, as_of=as_of)
    trend = scoring.trend(now, then)
    changed = False
    if as_of == today:
        client.health_score, client.health_band, client.health_trend = now.score, now.band, trend
        if locked.health != (now.score, now.band, trend):
            # Derived numbers, not evidence: updated in place without a
            # history entry or a version bump, so nobody's open form goes stale.
            client.health_updated_at = timezone.now()
            Client.objects.filter(pk=client.pk).update(
                health_score=now.score,
                health_band=now.band,
                health_trend=trend,
                health_updated_at=client.health_updated_at,
            )
            changed = True
            # Told once the change commits (triggers.notify), to the
            # people it concerns, whoever's edit caused it.
            # A client not scored yet has no disagreements, so it was healthy:
            # its first hostile disagreement is a change like any other.
            before = locked.health[1] or scoring.HEALTHY
            if notify and scoring.is_worse(now.band, than=before):
                triggers.band_worsened(client, before=before, after=now.band, score=now.score)
        counts = rollups.board_counts(facts, today=today)
        if stored_counts != (*counts, today):
            rollups.stats_save(client, counts, today=today)
    return _snapshot(client, now, existing=existing, previous=previous) or changed


def _stored(
    client_pk: int, *, as_of: datetime.date
) -> tuple[tuple, HealthSnapshot | None, tuple[int, str] | None]:
    """In one query: the client's board counts (ClientStats' disagreements_90d,
    overridden_recent and updated_on), its snapshot on `as_of` if any, and the
    (score, band) of its latest snapshot before that day if any."""
    before = HealthSnapshot.objects.filter(client=OuterRef("pk"), date__lt=as_of).order_by("-date")
    row = (
        Client.objects.filter(pk=client_pk)
        .annotate(
            # At most one: a client has one snapshot a day.
            day=FilteredRelation("health_snapshots", condition=Q(health_snapshots__date=as_of)),
            previous_score=Subquery(before.values("score")[:1]),
            previous_band=Subquery(before.values("band")[:1]),
        )
        .values_list(
            "stats__disagreements_90d",
            "stats__overridden_recent",
            "stats__updated_on",
            "day__id",
            "day__score",
            "day__band",
            "day__components",
            "previous_score",
            "previous_band",
        )
        .get()
    )
    counts, (day_id, score, band, components), previous = row[:3], row[3:7], row[7:]
    existing = None
    if day_id is not None:
        existing = HealthSnapshot(
            id=day_id,
            client_id=client_pk,
            date=as_of,
            score=score,
            band=band,
            components=components,
        )
    return counts, existing, previous if previous[0] is not None else None


def _snapshot(
    client: Client,
    now: Health,
    *,
    existing: HealthSnapshot | None,
    previous: tuple[int, str] | None,
) -> bool:
    # The caller holds the client's lock, so nobody writes its snapshots
    # meanwhile.
    if previous == (now.score, now.band):
        # Back to where the day started: that day has no change to record.
        if existing is not None:
            existing.delete()
            return True
        return False
    values = {
        "score": now.score,
        "band": now.band,
        "components": {
            "total_friction": round(now.total_friction, 4),
            "contributors": len(now.contributions),
            "computed_band": now.computed_band,
            "cap_reason": now.cap_reason,
        },
    }
    if existing is None:
        HealthSnapshot.objects.create(client=client, date=now.as_of, **values)
    elif any(getattr(existing, k) != v for k, v in values.items()):
        HealthSnapshot.objects.filter(pk=existing.pk).update(**values)
    else:
        return False
    return True


def band_override_set(
    client: Client, *, by: User, band: str, reason: str, expires_on: datetime.date
) -> BandOverride:
    """A manager's band for the client until `expires_on`; replaces one in force."""
    if not by.has_perm("advisory.override_band"):
        raise PermissionDenied
    if client.is_read_only:
        raise ValidationError(f"{client} is archived or let go: its band cannot be overridden.")
    with transaction.atomic():
        override = BandOverride(
            client=client, band=band, reason=reason.strip(), expires_on=expires_on, set_by=by
        )
        override.full_clean()
        for previous in client.band_overrides.in_force():
            band_override_end(previous, by=by)
        override._history_user = by
        override.save()
    return override


@transaction.atomic
def band_override_end(override: BandOverride, *, by: User) -> BandOverride:
    if not by.has_perm("advisory.override_band"):
        raise PermissionDenied
    override.ended_at = timezone.now()
    override.ended_by = by
    override._history_user = by
    override.save(update_fields=["ended_at", "ended_by"])
    return override


@transaction.atomic
def band_override_clear(client: Client, *, by: User) -> int:
    """End every override in force for the client; returns how many ended."""
    overrides = list(client.band_overrides.in_force())
    for override in overrides:
        band_override_end(override, by=by)
    return len(overrides)


def recompute_all(
    *,
    as_of: datetime.date | None = None,
    clients: QuerySet[Client] | None = None,
    progress: Callable[[int], object] | None = None,
) -> tuple[int, int]:
    """Recompute every client's health (or `clients`'): scores decay with time
    even without edits, so the nightly job and `recompute_health` call this.
    Safe to run twice. Returns (clients recomputed, clients changed)."""
    clients = (clients if clients is not None else Client.objects.all()).order_by("pk")
    total = changed = 0
    for client in clients.iterator(chunk_size=500):
        changed += health_refresh(client, as_of=as_of)
        total += 1
        if progress is not None:
            progress(1)
    return total, changed
