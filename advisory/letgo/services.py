"""Letting a client go: propose, decide, offboard, reinstate.

Every transition is checked here, not just hidden in a template: a case moves
proposed → approved / declined / withdrawn, and approved → offboarded once the
checklist is complete. The client's status follows the case. Each change is a
versioned, attributed save, so the case's History tab tells the whole story.
"""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import User
from accounts.permissions import can_view
from advisory.letgo import selectors
from advisory.models import Client, Disagreement, Engagement, LetGoCase
from advisory.notifications import triggers
from advisory.records.services import engagement_save
from advisory.records.versioning import EditConflict, record_save

Status = LetGoCase.Status


class AlreadyDecided(Exception):
    """Someone decided the case first; `case` says who and when. Nothing changed."""

    def __init__(self, case: LetGoCase) -> None:
        super().__init__(f"{case} was already decided")
        self.case = case


class AlreadyCompleted(Exception):
    """Someone completed the offboarding first; `case` says who and when. Nothing changed."""

    def __init__(self, case: LetGoCase) -> None:
        super().__init__(f"{case} was already completed")
        self.case = case


def _locked(case: LetGoCase, expected_version: int | None) -> LetGoCase:
    current = LetGoCase.objects.select_for_update().select_related("client").get(pk=case.pk)
    if expected_version is not None and current.version != expected_version:
        raise EditConflict(current)
    return current


def _require(user: User, perm: str) -> None:
    if not user.has_perm(perm):
        raise PermissionDenied


def _set_client_status(client: Client, status: str, *, by: User, reason: str) -> None:
    client.refresh_from_db()
    client.status = status
    record_save(client, by=by, reason=reason)


@transaction.atomic
def letgo_propose(
    client: Client,
    *,
    by: User,
    reason: str,
    justification: str,
    evidence: list[Disagreement],
    notify: bool = True,
) -> LetGoCase:
    _require(by, "advisory.add_letgocase")
    if not can_view(by, client):
        raise PermissionDenied
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.status != Client.Status.ACTIVE:
        raise ValidationError(
            f"{client} is already {client.get_status_display().lower()}: "
            "there can be only one let-go case at a time."
        )
    errors = {}
    if not justification.strip():
        errors["justification"] = "Explain why the relationship cannot continue."
    if not evidence:
        errors["evidence"] = "Link at least one disagreement from the client's log as evidence."
    elif any(d.client_id != client.pk for d in evidence):
        errors["evidence"] = "Evidence must come from this client's log."
    if errors:
        raise ValidationError(errors)
    case = LetGoCase(client=client, proposed_by=by, reason=reason, justification=justification)
    record_save(case, by=by, reason="Proposed")
    case.evidence.set(evidence)
    _set_client_status(client, Client.Status.LETGO_PROPOSED, by=by, reason="Let-go proposed")
    if notify:
        triggers.letgo_proposed(case)
    return case


@transaction.atomic
def letgo_decide(
    case: LetGoCase,
    *,
    by: User,
    approve: bool,
    note: str,
    expected_version: int | None = None,
    notify: bool = True,
) -> LetGoCase:
    """Approve or decline a proposal (admins). A case decided meanwhile raises AlreadyDecided."""
    case = _locked(case, None)
    letgo_decide_check(case, by=by, approve=approve, note=note, expected_version=expected_version)
    case.status = Status.APPROVED if approve else Status.DECLINED
    case.decided_by, case.decided_at, case.decision_note = by, timezone.now(), note.strip()
    if approve:
        case.letter = draft_letter(case)
    record_save(case, by=by, reason="Approved" if approve else "Declined")
    if approve:
        _set_client_status(case.client, Client.Status.FLAGGED, by=by, reason="Let-go approved")
    else:
        _set_client_status(case.client, Client.Status.ACTIVE, by=by, reason="Let-go declined")
    if notify:
        triggers.letgo_decided(case)
    return case


def letgo_decide_check(
    case: LetGoCase, *, by: User, approve: bool, note: str, expected_version: int | None = None
) -> None:
    """What letgo_decide refuses, without changing anything: the confirmation
    step asks it before showing what a decision will do. `case` as read now."""
    _require(by, "accounts.decide_letgo")
    if case.status != Status.PROPOSED:
        raise AlreadyDecided(case)
    if expected_version is not None and case.version != expected_version:
        raise EditConflict(case)
    if not approve and not note.strip():
        raise ValidationError({"note": "Say why the proposal is declined."})


@transaction.atomic
def letgo_withdraw(case: LetGoCase, *, by: User) -> LetGoCase:
    case = _locked(case, None)
    if case.proposed_by_id != by.pk:
        raise PermissionDenied
    if case.status != Status.PROPOSED:
        raise ValidationError(
            f"Only a proposal can be withdrawn; this case is {case.get_status_display().lower()}."
        )
    case.status = Status.WITHDRAWN
    record_save(case, by=by, reason="Withdrawn by the proposer")
    _set_client_status(case.client, Client.Status.ACTIVE, by=by, reason="Let-go withdrawn")
    return case


@transaction.atomic
def letgo_update_offboarding(
    case: LetGoCase, *, by: User, expected_version: int, **fields
) -> LetGoCase:
    """Tick checklist items and edit the notice period, referral note and letter."""
    _require(by, "accounts.decide_letgo")
    current = _locked(case, expected_version)
    if current.status != Status.APPROVED:
        raise ValidationError("Offboarding is recorded only while the case is approved.")
    allowed = {*LetGoCase.CHECKLIST, "referral_note", "notice_days", "letter"}
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(f"{name} is not an offboarding field")
        setattr(current, name, value)
    return record_save(current, by=by, reason="Offboarding updated")


@transaction.atomic
def letgo_complete(case: LetGoCase, *, by: User, expected_version: int) -> LetGoCase:
    """Complete the offboarding: what the checklist says, in one transaction.

    Each of the client's open engagements ends: terminated, with the letter's
    effective date as its end date (or its own end date, if earlier). Then the
    client is let go. Each change is a history entry with the reason "Let go on
    <date>". With the client let go, its disagreements stop being anyone's open
    items (`DisagreementQuerySet`: open() and the awaiting_… filters leave a
    let-go client out) and reminders stop (`triggers` reads `open_for_work`),
    while the records stay as they were, read-only, with their history; the
    health board leaves the client out unless asked for "Let go"
    (`filters.HealthFilter`).
    """
    current = _locked(case, None)
    letgo_complete_check(current, by=by, expected_version=expected_version)
    today = timezone.localdate()
    reason = selectors.letgo_reason(today)
    effective = selectors.effective_date(current) or today
    # Before the client is let go: its engagements are read-only from then on.
    for engagement in selectors.engagements_ending(current.client):
        engagement.status = Engagement.Status.TERMINATED
        engagement.end_date = _end_date(engagement, effective)
        engagement_save(engagement, by=by, reason=reason)
    current.status = Status.OFFBOARDED
    current.completed_by, current.completed_at = by, timezone.now()
    record_save(current, by=by, reason="Offboarding completed")
    _set_client_status(current.client, Client.Status.LET_GO, by=by, reason=reason)
    return current


def _end_date(engagement: Engagement, effective: datetime.date) -> datetime.date:
    """The effective date, or the engagement's own end if that comes first; an
    engagement not started by then ends the day it was to start (never before)."""
    end = min(engagement.end_date, effective) if engagement.end_date else effective
    if engagement.start_date and end < engagement.start_date:
        return engagement.start_date
    return end


# Text in square brackets is a placeholder left for the admin to fill in, as
# the drafted letter's "[list the filing, payment or regulatory deadlines …]".
PLACEHOLDER = re.compile(r"\[[^\[\]]*\]")

# The checklist, item by item: what Candor checks for itself before completing,
# and what rests on the admin's word.
#   check_notice_sent       the letter is written, no placeholder is left in it
#                           and it gives the effective date the notice period
#                           sets (checked); that it went out is the admin's word.
#   check_deadlines_stated  the deadlines paragraph is filled in: no placeholder
#                           is left in the letter (checked).
#   check_engagements_closed  completing closes them itself (terminated, ending
#                           on the letter's effective date); checked beforehand
#                           that the letter names each engagement it ends.
#   check_conflicts, check_files_returned, check_fees_settled, check_referral
#                           the admin's word: nothing in Candor records them.


def letgo_complete_check(case: LetGoCase, *, by: User, expected_version: int) -> None:
    """What letgo_complete refuses, without changing anything (for the
    confirmation step). `case` as read now.

    A case completed meanwhile raises AlreadyCompleted, whatever the version:
    the admin who comes second is told who did it."""
    _require(by, "accounts.decide_letgo")
    if case.status == Status.OFFBOARDED:
        raise AlreadyCompleted(case)
    if case.version != expected_version:
        raise EditConflict(case)
    if case.status != Status.APPROVED:
        raise ValidationError("Only an approved case can be completed.")
    problems = []
    missing = [label for name, label, done in case.checklist if not done]
    if missing:
        problems.append("Complete the offboarding checklist first: " + "; ".join(missing) + ".")
    letter = letter_problems(case)
    if letter:
        problems.append("The letter is not ready: " + "; ".join(letter) + ".")
    if problems:
        raise ValidationError(" ".join(problems))


def letter_problems(case: LetGoCase) -> list[str]:
    """What the letter lacks for the checklist to be true (see above)."""
    letter = case.letter.strip()
    if not letter:
        return ["it is empty"]
    problems = [
        f"replace the placeholder {placeholder} with the real text"
        for placeholder in dict.fromkeys(PLACEHOLDER.findall(letter))
    ]
    effective = selectors.effective_date(case)
    if effective is not None:
        # Written as the drafted letter writes it (letters/disengagement.txt).
        day = formats.date_format(effective, "j F Y")
        if day not in letter:
            problems.append(
                f"it does not give the effective date, {day} "
                f"({case.notice_days} days' notice from the approval), "
                "on which completing ends the engagements"
            )
    problems += [
        f"it does not name the engagement “{engagement.title}”, which completing ends"
        for engagement in selectors.engagements_ending(case.client)
        if engagement.title not in letter
    ]
    return problems


@transaction.atomic
def client_reinstate(client: Client, *, by: User, reason: str) -> Client:
    """Bring a let-go client back (admins), with the reason kept in history."""
    _require(by, "accounts.decide_letgo")
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.status != Client.Status.LET_GO:
        raise ValidationError(f"{client} has not been let go.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the client is reinstated."})
    case = client.letgo_cases.filter(status=Status.OFFBOARDED).first()
    if case is not None:
        case.reinstated_by, case.reinstated_at = by, timezone.now()
        case.reinstatement_reason = reason.strip()
        record_save(case, by=by, reason=f"Client reinstated: {reason.strip()}")
    client.status = Client.Status.ACTIVE
    # Only the status: the engagements the let-go ended stay terminated, for an
    # advisor to reopen by hand (selectors.ended_at_letgo names them).
    return record_save(client, by=by, reason=f"Reinstated: {reason.strip()}")


def draft_letter(case: LetGoCase, *, today: datetime.date | None = None) -> str:
    """A disengagement letter drafted from the case, to edit before it is sent."""
    today = today or timezone.localdate()
    ending = selectors.engagements_ending(case.client)
    return render_to_string(
        "advisory/letters/disengagement.txt",
        {
            "case": case,
            "client": case.client,
            "engagements": list(ending),
            "today": today,
            "effective": today + datetime.timedelta(days=case.notice_days),
        },
    ).strip()
