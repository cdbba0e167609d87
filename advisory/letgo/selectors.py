"""Reads for let-go review."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from advisory.models import Disagreement, LetGoCase

D = Disagreement


def _count(**lookups) -> Count:
    """Count the client's active disagreements matching `lookups`."""
    condition = Q(client__disagreements__is_archived=False) & Q(
        **{f"client__disagreements__{field}": value for field, value in lookups.items()}
    )
    return Count("client__disagreements", filter=condition, distinct=True)


def open_cases(cases: QuerySet[LetGoCase]) -> QuerySet[LetGoCase]:
    """The open ones of `cases`, newest first, each with what an admin needs to
    decide: its evidence and how the client's disagreements turned out
    (`overridden`, `advice_right`, `client_right`, `mixed`)."""
    evidence = Prefetch("evidence", queryset=Disagreement.objects.order_by("-occurred_on"))
    outcomes = {
        "overridden": _count(decision=D.Decision.PROCEEDED),
        "advice_right": _count(verdict=D.Verdict.ADVICE_VINDICATED),
        "client_right": _count(verdict=D.Verdict.CLIENT_VINDICATED),
        "mixed": _count(verdict=D.Verdict.MIXED),
    }
    # Newest first, as in the export: Meta.ordering does not apply once counts are annotated.
    return (
        cases.open().annotate(**outcomes).order_by("-proposed_at", "-pk").prefetch_related(evidence)
    )
