"""Record helpers shared by test files: reload a record, review a disagreement,
tick a let-go case's checklist."""

from __future__ import annotations

from advisory.letgo.services import letgo_update_offboarding
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


def tick_all(case: LetGoCase, admin) -> LetGoCase:
    """The case with every offboarding checklist item ticked by `admin`."""
    ticks = dict.fromkeys(LetGoCase.CHECKLIST, True)
    return letgo_update_offboarding(case, by=admin, expected_version=case.version, **ticks)
