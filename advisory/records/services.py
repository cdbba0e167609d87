"""Writes to clients, engagements and disagreements, each through the
versioned save (advisory.records.versioning), so every change is versioned,
validated and attributed (who, and the reason given) in the record's history."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from advisory.history import log
from advisory.models import (
    ENGAGEMENT_HISTORY,
    Amendment,
    Client,
    Disagreement,
    Engagement,
)
from advisory.notifications import triggers
from advisory.records.versioning import EditConflict, record_save

BULK_BATCH = 500  # rows per INSERT in bulk writes


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
    log.append_many([(entry, {"members": members_of[entry.id]}) for entry in entries])


def disagreement_log(disagreement: Disagreement, *, by: User) -> Disagreement:
    """Log a new disagreement (by the user logging it)."""
    disagreement.logged_by = by
    return record_save(disagreement, by=by, reason="Logged")


def disagreement_save(
    disagreement: Disagreement, *, by: User, reason: str = "", expected_version: int
) -> Disagreement:
    """Save an edit of a disagreement made from its form (facts, decision and
    outcome fields alike); the facts a review locked are refused."""
    return record_save(disagreement, by=by, reason=reason, expected_version=expected_version)


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
        disagreement,
        by=by,
        reason=f"Decision: {label}",
        expected_version=expected_version,
        unchanged=f"Nothing changed: the decision is already “{label}”.",
    )


def disagreement_record_outcome(
    disagreement: Disagreement, *, by: User, expected_version: int
) -> Disagreement:
    if disagreement.decision == Disagreement.Decision.PENDING:
        raise ValidationError({"verdict": "Record the client's decision before the outcome."})
    if disagreement.verdict == Disagreement.Verdict.PENDING and not disagreement.outcome.strip():
        # Nothing to record: no "Outcome: Pending" entry, no outcome date.
        raise ValidationError(
            {"verdict": "Choose who was right, or describe how it has turned out so far."}
        )
    if not disagreement.outcome_recorded_on:
        disagreement.outcome_recorded_on = timezone.localdate()
    label = disagreement.get_verdict_display()
    return record_save(
        disagreement,
        by=by,
        reason=f"Outcome: {label}",
        expected_version=expected_version,
        unchanged=f"Nothing changed: the outcome is already recorded as “{label}”.",
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
def disagreements_close_at_letgo(client: Client, *, by: User, reason: str) -> list[Disagreement]:
    """Close the client's open items as it is let go (letgo.services.letgo_complete),
    before its status changes: after it, its records can no longer be saved.

    Each open disagreement gets a history entry with `reason` ("Let go on
    <date>"), and the one change made to it is its pending follow-up date,
    cleared: nobody follows it up any more. Nothing else is touched: no
    decision, acknowledgment or outcome is invented, and the pages say "Closed
    at let-go" from the client's status. The client's reminders waiting to be
    e-mailed stop too (notifications.triggers.reminders_stop).

    Reinstating the client does not bring the follow-up dates back: whoever
    takes the client up again sets new ones (the history shows the old ones).
    """
    closing = list(
        Disagreement.objects.filter(client=client)
        .active()
        .open()
        # What the save would otherwise look up again, row by row.
        .select_related("engagement__client", "logged_by", "reviewed_by")
        .order_by("pk")
    )
    for disagreement in closing:
        disagreement.follow_up_on = None
        record_save(disagreement, by=by, reason=reason)
    triggers.reminders_stop(client)
    return closing


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
