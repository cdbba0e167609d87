"""Reads for let-go review."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import formats, timezone

from accounts.models import User
from advisory.models import Client, Disagreement, Engagement, LetGoCase

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


def engagements_ending(client: Client) -> QuerySet[Engagement]:
    """The client's engagements still open: the ones a let-go letter ends."""
    return client.engagements.filter(
        is_archived=False,
        status__in=[
            Engagement.Status.PROPOSED,
            Engagement.Status.ACTIVE,
            Engagement.Status.ON_HOLD,
        ],
    ).order_by("title", "pk")


@dataclass(frozen=True)
class Consequences:
    """What a decision on a case will do, shown before it is confirmed."""

    engagements: list[Engagement]  # those the letter ends (none for a decline)
    effective_on: datetime.date | None  # when the work ends, if the case sets a date
    notified: list[User]  # who Candor tells


def decision_consequences(case: LetGoCase, *, approve: bool) -> Consequences:
    """Approving drafts the letter today, with the case's notice period; either
    decision is sent to whoever proposed the case and the client's lead advisor
    (notifications.triggers.letgo_decided)."""
    notified = list(dict.fromkeys([case.proposed_by, case.client.lead_advisor]))
    if not approve:
        return Consequences(engagements=[], effective_on=None, notified=notified)
    return Consequences(
        engagements=list(engagements_ending(case.client)),
        effective_on=timezone.localdate() + datetime.timedelta(days=case.notice_days),
        notified=notified,
    )


def letgo_reason(day: datetime.date) -> str:
    """The reason on every history entry a completion writes for the client's
    records (services.letgo_complete)."""
    return f"Let go on {formats.date_format(day)}"


def effective_date(case: LetGoCase) -> datetime.date | None:
    """When the work ends: the notice period after the approval, the day the
    letter was drafted (None before a decision)."""
    if case.decided_at is None:
        return None
    return timezone.localdate(case.decided_at) + datetime.timedelta(days=case.notice_days)


def completion_consequences(case: LetGoCase) -> Consequences:
    """Completing notifies nobody: the client hears from the letter. The
    engagements still open end on the effective date (services.letgo_complete)."""
    return Consequences(
        engagements=list(engagements_ending(case.client)),
        effective_on=effective_date(case),
        notified=[],
    )


def ended_at_letgo(client: Client) -> list[Engagement]:
    """The engagements the client's last completed let-go terminated and that
    are still terminated: those to reopen by hand after a reinstatement. Found
    by the reason of their history entry."""
    case = client.letgo_cases.filter(status=LetGoCase.Status.OFFBOARDED).first()
    if case is None or case.completed_at is None:
        return []
    reason = letgo_reason(timezone.localdate(case.completed_at))
    ended = Engagement.history.filter(
        client_id=client.pk,
        status=Engagement.Status.TERMINATED,
        history_change_reason=reason,
    ).values("id")
    return list(
        client.engagements.filter(pk__in=ended, status=Engagement.Status.TERMINATED).order_by(
            "title", "pk"
        )
    )
