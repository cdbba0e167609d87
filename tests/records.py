"""Record helpers shared by test files: reload a record, review a disagreement,
get a let-go case ready to complete."""

from __future__ import annotations

from advisory.letgo.services import PLACEHOLDER, letgo_update_offboarding
from advisory.models import Disagreement, LetGoCase
from advisory.records.services import disagreement_mark_reviewed


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


def ready_letter(case: LetGoCase) -> str:
    """The case's letter with every placeholder ("[…]") filled in."""
    return PLACEHOLDER.sub(DEADLINES, fresh(case).letter)


def tick_all(case: LetGoCase, admin) -> LetGoCase:
    """The case ready to complete, by `admin`: every offboarding checklist item
    ticked, and the letter's deadlines filled in."""
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    return letgo_update_offboarding(
        case, by=admin, expected_version=case.version, letter=ready_letter(case), **ticks
    )
