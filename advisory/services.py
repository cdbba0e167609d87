"""Writes to the log. Every change goes through here so that it is versioned,
validated and attributed (who, and the reason given) in the record's history."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import FilteredRelation, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Team, User
from advisory import chain, health, notifications, rollups
from advisory.health import Facts, Health
from advisory.models import (
    ENGAGEMENT_HISTORY,
    Amendment,
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    HealthSnapshot,
    LetGoCase,
)

# The Disagreement fields health.Facts is made of, in order.
FACT_FIELDS = ["id", "title", "occurred_on", "severity", "tone", "decision", "verdict"]

type Versioned = Client | Engagement | Disagreement | LetGoCase
LET_GO = Client.Status.LET_GO
BULK_BATCH = 500  # rows per INSERT in bulk writes


class EditConflict(Exception):
    """Someone saved the record after the form was opened.

    `current` is the record as it is now in the database; nothing was written.
    """

    def __init__(self, current: models.Model) -> None:
        super().__init__(f"{current} was changed by someone else")
        self.current = current


def record_save(
    instance: Versioned,
    *,
    by: User,
    reason: str = "",
    expected_version: int | None = None,
    amending: bool = False,
    prechecked: bool = False,
) -> Versioned:
    """Validate and save a new or changed record, keeping its history.

    With `expected_version`, the save is refused with EditConflict when the
    stored record has moved on (optimistic locking). Archived records and the
    records of a client let go are read-only. A reviewed disagreement's locked
    facts change only through `disagreement_amend` (`amending=True`).

    `prechecked=True` is for bulk writers (the importer) that have checked, for
    all their rows at once and inside this transaction, what costs a query per
    row here: that related records exist, uniqueness, and that no client
    concerned is let go. The field rules and `clean()` still run, and the
    database's own constraints still refuse anything that slipped through.
    Such a writer must run in a transaction and not go on after an error.
    """
    # A bulk writer rolls back as a whole on any error: no savepoint per row.
    with transaction.atomic(savepoint=not prechecked):
        months = []  # a disagreement's old and new month, recounted after the save
        if instance.pk:
            # NO KEY: rows referring to this one (evidence, comments) may still be
            # added meanwhile, which also keeps a let-go proposal that holds the
            # client and adds this row as evidence from deadlocking with an edit.
            current = (
                type(instance)._base_manager.select_for_update(no_key=True).get(pk=instance.pk)
            )
            if isinstance(instance, Disagreement):
                months.append(current.occurred_on)
            if expected_version is not None and current.version != expected_version:
                raise EditConflict(current)
            if getattr(current, "is_archived", False) and instance.is_archived:
                raise ValidationError("This record is archived: restore it before changing it.")
            if isinstance(instance, Client) and current.status == instance.status == LET_GO:
                raise ValidationError(
                    f"{current} has been let go: its records are read-only. "
                    "An administrator can reinstate the client."
                )
            if isinstance(instance, Disagreement) and not amending:
                _refuse_locked_changes(current, instance)
            instance.version = current.version + 1
        locked = None
        if isinstance(instance, Disagreement):
            # Always its engagement's client (as save() sets it), taken from
            # the engagement when that has it loaded: nothing reads it again.
            if instance.client_id != instance.engagement.client_id:
                instance.client = instance.engagement.client
            # Lock the client before writing: writes to its log then score and
            # recount one after the other, each seeing the other's committed
            # change; the let-go check reads the status committed last; and
            # the locks come in the order the client's own saves take them
            # (the client's, then the hash chain's), so the two can't deadlock.
            locked = client_lock(instance.client_id)
        if prechecked:
            relations = [f.name for f in instance._meta.concrete_fields if f.is_relation]
            instance.full_clean(exclude=relations, validate_constraints=False)
        else:
            if isinstance(instance, Engagement):
                refuse_if_let_go(instance.client)
            elif locked is not None and locked.status == LET_GO:
                raise _let_go_error(instance.client)
            # A disagreement's clean() states its date rules, the same as its
            # CheckConstraints, which Django would check with a query each.
            instance.full_clean(validate_constraints=not isinstance(instance, Disagreement))
        instance._history_user = by
        instance._change_reason = reason.strip() or None
        instance.save()
        if isinstance(instance, Disagreement):
            health_refresh(instance.client, locked=locked)
            # Under the client's lock too: a write to its log that committed
            # first is counted with this one.
            rollups.months_refresh(instance.client_id, [*months, instance.occurred_on])
        return instance


def _refuse_locked_changes(current: Disagreement, instance: Disagreement) -> None:
    if not current.is_reviewed:
        return
    changed = [f for f in Disagreement.LOCKED_FACTS if getattr(current, f) != getattr(instance, f)]
    if changed:
        raise ValidationError(
            dict.fromkeys(
                changed, "Locked since the manager's review: record a correction as an amendment."
            )
        )


def record_set_archived(
    instance: Versioned, *, by: User, archived: bool, reason: str = "", expected_version: int
) -> Versioned:
    instance.is_archived = archived
    default = "Archived" if archived else "Restored from the archive"
    return record_save(instance, by=by, reason=reason or default, expected_version=expected_version)


def client_save(
    client: Client, *, by: User, reason: str = "", expected_version=None, prechecked=False
) -> Client:
    """Save a client; without a team it joins its lead advisor's first team."""
    if not client.team_id:
        # Prefer a team the person saving can see, so they keep sight of it.
        teams = client.lead_advisor.teams.order_by("name")
        team = teams.filter(pk__in=Team.objects.visible_to(by)).first() or teams.first()
        if team is None:
            raise ValidationError(
                {"team": "The lead advisor is on no team: choose the client's team."}
            )
        client.team = team
    return record_save(
        client, by=by, reason=reason, expected_version=expected_version, prechecked=prechecked
    )


def refuse_if_let_go(client: Client) -> None:
    # Asks the database, not the caller's copy of the client, which may
    # predate the let-go.
    if Client.objects.filter(pk=client.pk, status=Client.Status.LET_GO).exists():
        raise _let_go_error(client)


def _let_go_error(client: Client) -> ValidationError:
    return ValidationError(
        f"{client} has been let go: its records are read-only and nothing new can be added."
    )


def refuse_if_closed(disagreement: Disagreement) -> None:
    """Nothing new is attached to an archived disagreement or a let-go client's."""
    if disagreement.is_archived:
        raise ValidationError("This disagreement is archived: restore it before adding to it.")
    refuse_if_let_go(disagreement.client)


def engagement_save(
    engagement: Engagement,
    *,
    by: User,
    members: list[User] | None = None,
    reason: str = "",
    expected_version=None,
    prechecked: bool = False,
) -> Engagement:
    """Save an engagement and its members as one change in its history."""
    created = engagement.pk is None
    with transaction.atomic(savepoint=not prechecked):
        engagement.skip_history_when_saving = True
        try:
            record_save(
                engagement,
                by=by,
                reason=reason,
                expected_version=expected_version,
                prechecked=prechecked,
            )
            if members and created:
                # A new engagement has no members to compare with, which is
                # what set() would read first; simple-history, the only
                # m2m_changed receiver, records this save itself just below.
                through = Engagement.members.through
                through.objects.bulk_create(
                    through(engagement=engagement, user=member) for member in set(members)
                )
            elif members is not None:
                engagement.members.set(members)
        finally:
            del engagement.skip_history_when_saving
        ENGAGEMENT_HISTORY.create_historical_record(engagement, "+" if created else "~")
    return engagement


def engagements_create_prechecked(
    engagements: list[tuple[Engagement, list[User]]], *, by: User, reason: str
) -> None:
    """Create new engagements with their members in bulk, for an importer.

    The same records, history entries (one per engagement, members included)
    and chain links as `engagement_save` would write one by one, in a few
    batched inserts instead of six round trips an engagement. The caller has
    validated each engagement (`prechecked`: see record_save) and runs this in
    its own transaction.
    """
    if not engagements:
        return
    records = [engagement for engagement, _members in engagements]
    Engagement.objects.bulk_create(records, batch_size=BULK_BATCH)
    through = Engagement.members.through
    rows = through.objects.bulk_create(
        [
            through(engagement=engagement, user=member)
            for engagement, members in engagements
            for member in set(members)
        ],
        batch_size=BULK_BATCH,
    )
    entries = Engagement.history.bulk_history_create(
        records, batch_size=BULK_BATCH, default_user=by, default_change_reason=reason
    )
    # simple-history's snapshot of each entry's members, as create_historical_record writes it.
    snapshot = ENGAGEMENT_HISTORY.m2m_models[Engagement._meta.get_field("members")]
    entry_of = {entry.id: entry for entry in entries}
    snapshot.objects.bulk_create(
        [
            snapshot(
                history=entry_of[row.engagement_id],
                id=row.id,
                engagement_id=row.engagement_id,
                user_id=row.user_id,
            )
            for row in rows
        ],
        batch_size=BULK_BATCH,
    )
    members_of: dict[int, list[int]] = {engagement.pk: [] for engagement in records}
    for row in rows:
        members_of[row.engagement_id].append(row.user_id)
    chain.append_many([(entry, {"members": members_of[entry.id]}) for entry in entries])


def disagreement_log(disagreement: Disagreement, *, by: User) -> Disagreement:
    """Log a new disagreement (by the user logging it)."""
    disagreement.logged_by = by
    return record_save(disagreement, by=by, reason="Logged")


def disagreement_record_decision(
    disagreement: Disagreement, *, by: User, expected_version: int
) -> Disagreement:
    """Save the decision fields already set on `disagreement` (by DecisionForm).

    The acknowledgment belongs to "proceeded against advice" only; another
    decision clears it (the history keeps what it said).
    """
    if disagreement.decision != Disagreement.Decision.PROCEEDED:
        disagreement.risk_acknowledged = None
        disagreement.acknowledged_on = None
        disagreement.acknowledgment_method = ""
        disagreement.client_words = ""
    label = disagreement.get_decision_display()
    return record_save(
        disagreement, by=by, reason=f"Decision: {label}", expected_version=expected_version
    )


def disagreement_record_outcome(
    disagreement: Disagreement, *, by: User, expected_version: int
) -> Disagreement:
    if disagreement.decision == Disagreement.Decision.PENDING:
        raise ValidationError({"verdict": "Record the client's decision before the outcome."})
    if not disagreement.outcome_recorded_on:
        disagreement.outcome_recorded_on = timezone.localdate()
    label = disagreement.get_verdict_display()
    return record_save(
        disagreement, by=by, reason=f"Outcome: {label}", expected_version=expected_version
    )


def disagreement_mark_reviewed(
    disagreement: Disagreement, *, by: User, expected_version: int
) -> Disagreement:
    if not by.has_perm("advisory.review_disagreement"):
        raise PermissionDenied
    if disagreement.is_reviewed:
        raise ValidationError("This disagreement has already been reviewed.")
    disagreement.reviewed_at = timezone.now()
    disagreement.reviewed_by = by
    return record_save(
        disagreement, by=by, reason="Reviewed: facts locked", expected_version=expected_version
    )


@transaction.atomic
def disagreement_amend(
    disagreement: Disagreement,
    *,
    by: User,
    field: str,
    new_value: str | datetime.date,
    reason: str,
    expected_version: int,
) -> Amendment:
    """Correct a locked fact: the record takes the new value and the amendment
    keeps the original beside it, with the reason."""
    if field not in Disagreement.LOCKED_FACTS:
        raise ValidationError({"field": "Only the facts locked by review are amended."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the record needs correcting."})
    current = Disagreement.objects.select_for_update().get(pk=disagreement.pk)
    if current.version != expected_version:
        raise EditConflict(current)
    if not current.is_reviewed:
        raise ValidationError("Only a reviewed disagreement is amended; edit it instead.")
    model_field = Disagreement._meta.get_field(field)
    old_display = _display(current, field)
    old_value = getattr(current, field)
    setattr(current, field, model_field.to_python(new_value))
    if getattr(current, field) == old_value:
        raise ValidationError({"new_value": "The corrected value is the same as the current one."})
    record_save(
        current,
        by=by,
        reason=f"Amended: {reason.strip()}",
        expected_version=expected_version,
        amending=True,
    )
    amendment = Amendment(
        disagreement=current,
        field=field,
        old_value=old_display,
        new_value=_display(current, field),
        reason=reason.strip(),
        amended_by=by,
    )
    amendment.full_clean()
    amendment.save()
    disagreement.refresh_from_db()
    return amendment


def _display(disagreement: Disagreement, field: str) -> str:
    display = getattr(disagreement, f"get_{field}_display", None)
    value = display() if display else getattr(disagreement, field)
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


@transaction.atomic
def comment_add(disagreement: Disagreement, *, by: User, body: str) -> Comment:
    from accounts.permissions import can_comment

    if not can_comment(by, disagreement):
        raise PermissionDenied
    refuse_if_closed(disagreement)
    comment = Comment(disagreement=disagreement, author=by, body=body.strip())
    comment.full_clean()
    comment._history_user = by
    comment.save()
    return comment


# --- Relationship health ------------------------------------------------------


def client_health(client: Client, *, as_of: datetime.date | None = None) -> tuple[Health, Health]:
    """The client's health on `as_of` (default today) and `trend_days` earlier.

    One query: the active disagreements that can count on either date.
    """
    as_of = as_of or timezone.localdate()
    return _client_health(_client_facts(client, as_of=as_of), as_of=as_of)


def _client_facts(client: Client, *, as_of: datetime.date) -> list[Facts]:
    weights = settings.CANDOR_HEALTH
    then = as_of - datetime.timedelta(days=weights["trend_days"])
    earliest = then - datetime.timedelta(days=weights["ignore_after_days"])
    rows = (
        Disagreement.objects.active()
        .filter(client=client, occurred_on__gte=earliest, occurred_on__lte=as_of)
        .values_list(*FACT_FIELDS)
    )
    return [Facts(*row) for row in rows]


def _client_health(facts: list[Facts], *, as_of: datetime.date) -> tuple[Health, Health]:
    then = as_of - datetime.timedelta(days=settings.CANDOR_HEALTH["trend_days"])
    return health.score(facts, as_of=as_of), health.score(facts, as_of=then)


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
    facts = _client_facts(client, as_of=as_of)
    now, then = _client_health(facts, as_of=as_of)
    trend = health.trend(now, then)
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
            # Told once the change commits (notifications.notify), to the
            # people it concerns, whoever's edit caused it.
            if notify:
                notifications.band_worsened(
                    client, before=locked.health[1], after=now.band, score=now.score
                )
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
