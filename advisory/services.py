"""Writes to the log. Every change goes through here so that it is versioned,
validated and attributed (who, and the reason given) in the record's history."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from accounts.models import Team, User
from advisory.models import (
    ENGAGEMENT_HISTORY,
    Amendment,
    Client,
    Comment,
    Disagreement,
    Engagement,
)

type Versioned = Client | Engagement | Disagreement


class EditConflict(Exception):
    """Someone saved the record after the form was opened.

    `current` is the record as it is now in the database; nothing was written.
    """

    def __init__(self, current: models.Model) -> None:
        super().__init__(f"{current} was changed by someone else")
        self.current = current


@transaction.atomic
def record_save(
    instance: Versioned,
    *,
    by: User,
    reason: str = "",
    expected_version: int | None = None,
) -> Versioned:
    """Validate and save a new or changed record, keeping its history.

    With `expected_version`, the save is refused with EditConflict when the
    stored record has moved on (optimistic locking). A reviewed disagreement's
    locked facts cannot change here: that takes an amendment.
    """
    if instance.pk:
        current = type(instance)._base_manager.select_for_update().get(pk=instance.pk)
        if expected_version is not None and current.version != expected_version:
            raise EditConflict(current)
        if current.is_archived and instance.is_archived:
            raise ValidationError("This record is archived: restore it before changing it.")
        if isinstance(instance, Disagreement):
            _refuse_locked_changes(current, instance)
        instance.version = current.version + 1
    instance.full_clean()
    instance._history_user = by
    instance._change_reason = reason.strip() or None
    instance.save()
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


def client_save(client: Client, *, by: User, reason: str = "", expected_version=None) -> Client:
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
    return record_save(client, by=by, reason=reason, expected_version=expected_version)


def refuse_if_let_go(client: Client) -> None:
    if client.status == Client.Status.LET_GO:
        raise ValidationError(
            f"{client} has been let go: its records are read-only and nothing new can be added."
        )


def engagement_save(
    engagement: Engagement,
    *,
    by: User,
    members: list[User] | None = None,
    reason: str = "",
    expected_version=None,
) -> Engagement:
    """Save an engagement and its members as one change in its history."""
    refuse_if_let_go(engagement.client)
    created = engagement.pk is None
    with transaction.atomic():
        engagement.skip_history_when_saving = True
        try:
            record_save(engagement, by=by, reason=reason, expected_version=expected_version)
            if members is not None:
                engagement.members.set(members)
        finally:
            del engagement.skip_history_when_saving
        ENGAGEMENT_HISTORY.create_historical_record(engagement, "+" if created else "~")
    return engagement


def disagreement_log(disagreement: Disagreement, *, by: User) -> Disagreement:
    """Log a new disagreement (by the user logging it)."""
    refuse_if_let_go(disagreement.engagement.client)
    disagreement.logged_by = by
    return record_save(disagreement, by=by, reason="Logged")


def disagreement_record_decision(
    disagreement: Disagreement, *, by: User, expected_version: int
) -> Disagreement:
    """Save the decision fields already set on `disagreement` (by DecisionForm)."""
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
    setattr(current, field, model_field.to_python(new_value))
    if getattr(current, field) == getattr(disagreement, field):
        raise ValidationError({"new_value": "The corrected value is the same as the current one."})
    current.version += 1
    current.full_clean()
    current._history_user = by
    current._change_reason = f"Amended: {reason.strip()}"
    current.save()
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


def comment_add(disagreement: Disagreement, *, by: User, body: str) -> Comment:
    from accounts.permissions import can_comment

    if not can_comment(by, disagreement):
        raise PermissionDenied
    comment = Comment(disagreement=disagreement, author=by, body=body.strip())
    comment.full_clean()
    comment._history_user = by
    comment.save()
    return comment
