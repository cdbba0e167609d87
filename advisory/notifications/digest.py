"""The managers' weekly digest: what happened in their teams last week."""

import datetime
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone

from accounts.models import Team, User
from accounts.roles import Role
from advisory.models import (
    Band,
    Client,
    Disagreement,
    HealthSnapshot,
    LetGoCase,
    NotificationKind,
)
from advisory.notifications.triggers import notify

logger = logging.getLogger(__name__)

Kind = NotificationKind


@dataclass
class Digest:
    start: datetime.date
    end: datetime.date
    teams: list[Team]
    band_changes: list[tuple[Client, str, str, datetime.date]] = field(default_factory=list)
    overridden: list[Disagreement] = field(default_factory=list)
    outcomes: list[Disagreement] = field(default_factory=list)
    open_cases: list[LetGoCase] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.band_changes or self.overridden or self.outcomes or self.open_cases)


def digest_period(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The last full week, Monday to Sunday, before `today`."""
    this_monday = today - datetime.timedelta(days=today.weekday())
    start = this_monday - datetime.timedelta(days=7)
    return start, start + datetime.timedelta(days=6)


def digest_for(manager: User, *, start: datetime.date, end: datetime.date) -> Digest:
    """What happened in the manager's teams (only theirs) between start and end,
    on the clients still theirs to look after: none let go."""
    teams = list(Team.objects.managed_by(manager).filter(managers=manager))
    clients = (
        Client.objects.visible_to(manager)
        .filter(team__in=teams)
        .exclude(status=Client.Status.LET_GO)
    )
    digest = Digest(start=start, end=end, teams=teams)
    before = HealthSnapshot.objects.filter(client=OuterRef("pk"), date__lt=start).order_by("-date")
    previous = dict(
        clients.annotate(band_before=Subquery(before.values("band")[:1])).values_list(
            "pk", "band_before"
        )
    )
    snapshots = (
        HealthSnapshot.objects.filter(client__in=clients, date__range=(start, end))
        .select_related("client")
        .order_by("client__name", "client", "date")
    )
    for snapshot in snapshots:
        was = previous.get(snapshot.client_id)
        if was and was != snapshot.band:
            digest.band_changes.append(
                (snapshot.client, Band(was).label, Band(snapshot.band).label, snapshot.date)
            )
        previous[snapshot.client_id] = snapshot.band
    disagreements = (
        Disagreement.objects.active().filter(client__in=clients).select_related("client")
    )
    digest.overridden = list(
        disagreements.filter(
            decision=Disagreement.Decision.PROCEEDED, decided_on__range=(start, end)
        ).order_by("decided_on", "pk")
    )
    digest.outcomes = list(
        disagreements.exclude(verdict=Disagreement.Verdict.PENDING)
        .filter(outcome_recorded_on__range=(start, end))
        .order_by("outcome_recorded_on", "pk")
    )
    digest.open_cases = list(
        LetGoCase.objects.open()
        .filter(client__in=clients)
        .select_related("client", "proposed_by")
        .order_by("proposed_at", "pk")
    )
    return digest


@transaction.atomic
def send_weekly_digests(*, today: datetime.date | None = None) -> int:
    """One digest per manager and week, only when something happened or a
    let-go case is open. Returns how many digests were created."""
    today = today or timezone.localdate()
    start, end = digest_period(today)
    year, week, _ = start.isocalendar()
    managers = (
        User.objects.with_role(Role.MANAGER)
        .filter(is_active=True, managed_teams__isnull=False)
        .distinct()
        .order_by("pk")
    )
    created = 0
    for manager in managers:
        digest = digest_for(manager, start=start, end=end)
        if digest.is_empty:
            continue
        created += len(
            notify(
                kind=Kind.WEEKLY_DIGEST,
                event_key=f"digest:{year}-W{week:02d}",
                recipients=[manager],
                title=(
                    f"Weekly digest: {formats.date_format(start, 'MONTH_DAY_FORMAT')} "
                    f"to {formats.date_format(end)}"
                ),
                body=render_to_string("advisory/email/digest_body.txt", {"d": digest}).strip(),
                url=reverse("health-board"),
            )
        )
    return created
