"""Record helpers shared by test files: reload a record, review a disagreement,
get a let-go case ready to complete (its letter sent by post)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from advisory.letgo.sending import letter_record_posted
from advisory.letgo.services import PLACEHOLDER, letgo_update_offboarding
from advisory.models import Disagreement, LetGoCase
from advisory.records.services import disagreement_mark_reviewed
from advisory.records.versioning import record_save


def fresh(obj):
    """The row as the database holds it now, loaded anew through the base manager."""
    return type(obj)._base_manager.get(pk=obj.pk)


def reviewed(disagreement: Disagreement, manager) -> Disagreement:
    """The disagreement marked reviewed by `manager`, through the service."""
    return disagreement_mark_reviewed(
        disagreement, by=manager, expected_version=disagreement.version
    )


# What an admin writes over the drafted letter's deadlines placeholder.
DEADLINES = "the VAT return for the quarter to 31 March, due on 7 May"


def deadline(description: str = "File the VAT return for the quarter to 31 March", days=60):
    """A deadline row as the offboarding form gives it: due `days` from today."""
    return {"description": description, "due_on": timezone.localdate() + datetime.timedelta(days)}


def ready_letter(case: LetGoCase) -> str:
    """The case's letter with every placeholder ("[…]") filled in."""
    return PLACEHOLDER.sub(DEADLINES, fresh(case).letter)


def tick_all(case: LetGoCase, admin) -> LetGoCase:
    """The case ready to complete, by `admin`: every offboarding checklist item
    ticked, and a deadline the client must watch, which the letter drafted
    from the case then states."""
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    ticked = letgo_update_offboarding(
        case, by=admin, expected_version=case.version, deadlines=[deadline()], **ticks
    )
    return letter_posted(ticked, admin)


POSTAL_ADDRESS = "1 Dock Road\nBristol BS1 4XX"


def letter_posted(case: LetGoCase, admin) -> LetGoCase:
    """The case's letter as it stands, recorded as posted today by `admin`
    (to the client's postal address; POSTAL_ADDRESS if it has none)."""
    client = fresh(case.client)
    if not client.postal_address:
        client.postal_address = POSTAL_ADDRESS
        record_save(client, by=admin, reason="Where letters go")
    return letter_record_posted(
        case, by=admin, posted_on=timezone.localdate(), expected_version=fresh(case).version
    )


def offboarding_data(case: LetGoCase, *, deadlines: list[dict] | None = None, **overrides) -> dict:
    """What the case page's offboarding form posts for `case` as saved: the
    checklist, the letter's fields, the letter, and the deadline rows
    (`deadlines`, or the case's own) with two blank rows after them, as the
    page shows them. `overrides` replace fields; a False one is left out, as an
    unticked box is. `case` as given: a stale copy posts its old version."""
    rows = case.deadlines if deadlines is None else deadlines
    data = {
        "version": case.version,
        "notice_days": case.notice_days,
        "files_note": case.files_note,
        "fees_note": case.fees_note,
        "referral_note": case.referral_note,
        "letter": case.letter,
        "deadlines-TOTAL_FORMS": len(rows) + 2,
        "deadlines-INITIAL_FORMS": len(case.deadlines),
        "deadlines-MIN_NUM_FORMS": 0,
        "deadlines-MAX_NUM_FORMS": 1000,
    }
    for number, row in enumerate([*rows, {}, {}]):
        data[f"deadlines-{number}-description"] = row.get("description", "")
        data[f"deadlines-{number}-due_on"] = str(row.get("due_on") or "")
        if row.get("DELETE"):
            data[f"deadlines-{number}-DELETE"] = "on"
    data.update({name: "on" for name in LetGoCase.CHECKLIST if getattr(case, name)})
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not False}
