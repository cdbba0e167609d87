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
from advisory.models import SHORT_TEXT, Client, Disagreement, Engagement, LetGoCase
from advisory.models.letgo import (
    LETTER_LIMIT,
    NOTICE_DAYS_MAX,
    NOTICE_DAYS_MESSAGE,
    NOTICE_DAYS_MIN,
)
from advisory.notifications import triggers
from advisory.records.services import disagreements_close_at_letgo, engagement_save
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
        case.letter = case.letter_draft = draft_letter(case)
        case.letter_choice_pending = False
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


# What the offboarding form edits: the checklist, the fields the letter is
# drafted from, and the letter itself.
LETTER_FIELDS = ("notice_days", "deadlines", "files_note", "fees_note", "referral_note")
OFFBOARDING_FIELDS = frozenset({*LetGoCase.CHECKLIST, *LETTER_FIELDS, "letter"})
DEADLINES_LIMIT = 20  # rows
OFFBOARDING_CLOSED = "Offboarding is recorded only while the case is approved."
BRACKETS = "Square brackets mark text still to be filled in: write this without them."


def has_brackets(text: str) -> bool:
    """Whether a field the letter is drafted from has a square bracket: even
    one alone could pair with another in the letter and read as a placeholder."""
    return "[" in text or "]" in text


@transaction.atomic
def letgo_update_offboarding(
    case: LetGoCase, *, by: User, expected_version: int, **fields
) -> LetGoCase:
    """Tick checklist items, edit the fields the letter is drafted from (the
    notice period, the deadlines, what happens to files and fees, the
    referral) and the letter. Refused input raises ValidationError keyed by
    field, and nothing changes.

    The letter is drafted again from the fields each time (`_redraft`): a
    letter nobody edited follows the new draft; one edited by hand is kept, and
    a new draft waits beside it for the admin's choice (`letgo_choose_letter`).
    """
    _require(by, "accounts.decide_letgo")
    current = _locked(case, expected_version)
    if current.status != Status.APPROVED:
        raise ValidationError(OFFBOARDING_CLOSED)
    for name in fields:
        if name not in OFFBOARDING_FIELDS:
            raise ValueError(f"{name} is not an offboarding field")
    if "deadlines" in fields:
        fields["deadlines"] = clean_deadlines(fields["deadlines"])
    if "letter" in fields:
        fields["letter"] = normalise_text(fields["letter"])
    offboarding_errors(fields)
    letter = fields.pop("letter", current.letter)
    for name, value in fields.items():
        setattr(current, name, value)
    _redraft(current, letter)
    return record_save(current, by=by, reason="Offboarding updated")


def normalise_text(text: str) -> str:
    """A letter as stored and compared: line ends as "\\n" (a browser sends
    "\\r\\n"), no trailing blanks."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()


def clean_deadlines(rows: list) -> list[dict[str, str]]:
    """The deadlines as stored: {"description", "due_on" (ISO date or "")} rows
    with the description trimmed. A row with neither is dropped; a row missing
    one of them is kept, for offboarding_errors to refuse."""
    cleaned = []
    for row in rows or []:
        description = " ".join(str(row.get("description") or "").split())
        due_on = row.get("due_on") or ""
        if isinstance(due_on, datetime.date):
            due_on = due_on.isoformat()
        if description or due_on:
            cleaned.append({"description": description, "due_on": str(due_on)})
    return cleaned


def parse_due(row: dict) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(row.get("due_on") or "")
    except (TypeError, ValueError):
        return None


def deadline_errors(row: dict, *, today: datetime.date) -> dict[str, str]:
    """What is wrong with one deadline row, by the row's field ("description",
    "due_on"), in the words shown beside that field."""
    errors = {}
    description = row.get("description") or ""
    if not description:
        errors["description"] = "Say what the client must do by this date."
    elif len(description) > SHORT_TEXT:
        errors["description"] = f"Keep the description to {SHORT_TEXT} characters."
    elif has_brackets(description):
        errors["description"] = BRACKETS
    due = parse_due(row)
    if due is None:
        errors["due_on"] = "Give the date of this deadline."
    elif due < today:
        errors["due_on"] = (
            f"This date ({formats.date_format(due)}) has passed: "
            "give the deadline's date from today on, or remove the row."
        )
    return errors


def offboarding_errors(fields: dict) -> None:
    """Refuse what the offboarding form must not save, field by field."""
    errors: dict[str, list[str]] = {}
    notice = fields.get("notice_days")
    if notice is not None and not NOTICE_DAYS_MIN <= notice <= NOTICE_DAYS_MAX:
        errors["notice_days"] = [NOTICE_DAYS_MESSAGE]
    if "letter" in fields:
        letter = fields["letter"]
        if not letter:
            errors["letter"] = ["The letter is empty: write it, or draft it again from the case."]
        elif len(letter) > LETTER_LIMIT:
            errors["letter"] = [
                f"The letter is {len(letter):,} characters long; keep it to {LETTER_LIMIT:,}."
            ]
    for name in ("files_note", "fees_note", "referral_note"):
        if has_brackets(fields.get(name) or ""):
            errors[name] = [BRACKETS]
    rows = fields.get("deadlines") or []
    if len(rows) > DEADLINES_LIMIT:
        errors["deadlines"] = [f"State at most {DEADLINES_LIMIT} deadlines."]
    today = timezone.localdate()
    for number, row in enumerate(rows, 1):
        for problem in deadline_errors(row, today=today).values():
            errors.setdefault("deadlines", []).append(f"Deadline {number}: {problem}")
    if errors:
        raise ValidationError(errors)


def _redraft(case: LetGoCase, letter: str) -> None:
    """Draft the letter again from the case's fields and decide what becomes
    of `letter`, the one the admin submitted (or the one in force):

    - the draft is as before (no field the letter shows changed): `letter` is
      kept as it is; choosing it when it equals the draft ends a pending choice;
    - the draft changed and `letter` is the previous draft (not edited by
      hand): the new draft replaces it;
    - the draft changed and `letter` was edited by hand: it is kept, and the
      new draft waits beside it for the admin's choice. Nothing is overwritten.
    """
    draft = draft_letter(case)
    if draft == case.letter_draft:
        case.letter = letter
        if letter == draft:
            case.letter_choice_pending = False
        return
    edited = letter != case.letter_draft
    case.letter = letter if edited else draft
    case.letter_draft = draft
    case.letter_choice_pending = edited and letter != draft


@transaction.atomic
def letgo_choose_letter(
    case: LetGoCase, *, by: User, expected_version: int, keep_draft: bool
) -> LetGoCase:
    """The admin's choice between the letter they edited and the newer draft
    from the case's fields: `keep_draft` replaces the edited letter with the
    draft; otherwise the edited letter stays (and the next change to a field
    asks again)."""
    _require(by, "accounts.decide_letgo")
    current = _locked(case, expected_version)
    if current.status != Status.APPROVED:
        raise ValidationError("The letter can be changed only while the case is approved.")
    if not current.letter_choice_pending:
        raise ValidationError("No newer draft is waiting: the letter is as you saved it.")
    if keep_draft:
        current.letter = current.letter_draft
    current.letter_choice_pending = False
    reason = (
        "Letter: the new draft from the case replaces the edited letter"
        if keep_draft
        else "Letter: the edited letter is kept over the new draft from the case"
    )
    return record_save(current, by=by, reason=reason)


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
    # Its open items close (follow-ups cleared, reminders stopped), each with a history entry.
    disagreements_close_at_letgo(current.client, by=by, reason=reason)
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
# the drafted letter's "[list the filing, payment or regulatory deadlines …]"
# while the case has no deadline yet. The fields the letter is drafted from
# refuse square brackets, and those in the records' names it quotes do not
# count (`placeholders`), so a letter drafted from a complete set of fields
# has none.
PLACEHOLDER = re.compile(r"\[[^\[\]]*\]")

# The checklist, item by item: what Candor checks for itself before completing,
# and what rests on the admin's word.
#   check_notice_sent       the letter is written, no placeholder is left in it,
#                           no newer draft waits for the admin's choice, and it
#                           gives the effective date the notice period sets
#                           (checked); that it went out is the admin's word.
#   check_deadlines_stated  checked from the case's deadline rows: there is at
#                           least one, each has a description and a date that
#                           has not passed, and the letter states each one, its
#                           description and its date as the draft writes it.
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
    # The letter as it stands went out, by e-mail or post (letgo/sending.py).
    elif unsent := case.letter_unsent_reason():
        problems.append(unsent)
    if problems:
        raise ValidationError(" ".join(problems))


def letter_problems(case: LetGoCase) -> list[str]:
    """What the letter lacks for the checklist to be true (see above)."""
    letter = case.letter.strip()
    if not letter:
        return ["it is empty"]
    problems = []
    if len(letter) > LETTER_LIMIT:
        problems.append(f"it is longer than {LETTER_LIMIT:,} characters")
    if case.letter_choice_pending:
        problems.append(
            "a newer draft from the case's fields waits beside your edited letter: "
            "choose which one to keep"
        )
    problems += [
        f"replace the placeholder {placeholder} with the real text"
        for placeholder in placeholders(case, letter)
    ]
    effective = selectors.effective_date(case)
    if effective is not None:
        # Written as the drafted letter writes it (letters/disengagement.txt).
        day = letter_date(effective)
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
    return problems + deadlines_problems(case, letter)


def placeholders(case: LetGoCase, letter: str) -> list[str]:
    """The placeholders left in `letter`, each once. Square brackets in the
    names the letter quotes from the records (the client's, its contact's,
    the lead advisor's, an engagement's title or service line) are not
    placeholders: the admin could not remove them from the letter."""
    advisor = case.client.lead_advisor
    names = [
        case.client.name,
        case.client.contact_name,
        advisor.get_full_name() if advisor else "",
        advisor.username if advisor else "",
    ]
    for engagement in selectors.engagements_ending(case.client):
        names += [engagement.title, engagement.service_line]
    for name in sorted(filter(None, names), key=len, reverse=True):
        if "[" in name or "]" in name:
            letter = letter.replace(name, "")
    return list(dict.fromkeys(PLACEHOLDER.findall(letter)))


def deadlines_problems(case: LetGoCase, letter: str) -> list[str]:
    """What keeps "Deadlines stated in writing" from being true: no deadline
    row, a row without its description or date or whose date has passed, or a
    deadline the letter does not state."""
    if not case.deadlines:
        return [
            "it states no deadline the client must watch: add each one "
            "(what the client must do, and by when) under “Deadlines the client must watch”"
        ]
    today = timezone.localdate()
    problems = []
    for number, row in enumerate(case.deadlines, 1):
        wrong = deadline_errors(row, today=today)
        if wrong:
            problems += [f"deadline {number}: {problem.rstrip('.')}" for problem in wrong.values()]
            continue
        day = letter_date(parse_due(row))
        if row["description"] not in letter or day not in letter:
            problems.append(f"it does not state the deadline “{row['description']}” on {day}")
    return problems


def letter_date(day: datetime.date) -> str:
    """A date as the letter writes it (letters/disengagement.txt): 7 May 2027."""
    return formats.date_format(day, "j F Y")


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


def draft_letter(case: LetGoCase) -> str:
    """The disengagement letter drafted from the case: dated the day of the
    approval, with the effective date the notice period sets from it, the
    engagements that end, the deadlines the client must watch, what happens to
    the files and fees, and the referral. Where a field the letter needs is
    empty, a placeholder in square brackets says what to write (and
    completion is refused until it is gone)."""
    dated = timezone.localdate(case.decided_at) if case.decided_at else timezone.localdate()
    deadlines = sorted(
        ((parse_due(row), row.get("description", "")) for row in case.deadlines),
        key=lambda deadline: (deadline[0] is None, deadline[0] or dated, deadline[1]),
    )
    text = render_to_string(
        "advisory/letters/disengagement.txt",
        {
            "case": case,
            "client": case.client,
            "engagements": list(selectors.engagements_ending(case.client)),
            "deadlines": [
                {"description": description, "due_on": due} for due, description in deadlines
            ],
            "today": dated,
            "effective": dated + datetime.timedelta(days=case.notice_days),
        },
    )
    return normalise_text(text)
