"""Reads of the log that pages show: what waits on a person.

The dashboard is a list of panels, most urgent first. Each says exactly what
it lists, counts all of it (not only the rows shown) and links to the list
page filtered to the same rows, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import Team, User
from advisory.health import selectors as health
from advisory.models import FOLLOW_UP_DAYS, Client, Disagreement, LetGoCase

HOME_LIST_LENGTH = 15
# Counting every matching row reads them all; beyond this many, a panel (and a
# list: views.common.CappedPaginator) says "more than 1,000" instead.
COUNT_UP_TO = 1000


@dataclass(frozen=True)
class Panel:
    """One list on the dashboard. `kind` names the template of its rows
    (advisory/dashboard/_<kind>.html); `urgent` colours a non-zero count."""

    key: str
    title: str
    kind: str
    rows: list
    count: int  # at most COUNT_UP_TO + 1
    url: str
    empty: str
    urgent: bool = False

    limit = COUNT_UP_TO

    @property
    def exact(self) -> bool:
        """False when there are more than `limit` rows (the count stops there)."""
        return self.count <= self.limit


def _panel(key: str, title: str, rows: QuerySet, *, url: str, **fields) -> Panel:
    """The panel's first HOME_LIST_LENGTH rows, and how many there are in all
    (up to Panel.limit: the database stops counting there)."""
    shown = list(rows[:HOME_LIST_LENGTH])
    count = rows.order_by()[: Panel.limit + 1].count()
    return Panel(key=key, title=title, rows=shown, count=count, url=url, **fields)


def _list_url(name: str, **query: str) -> str:
    return f"{reverse(name)}?{urlencode(query)}"


def _disagreements(
    key: str, title: str, rows: QuerySet, *, order: str, empty: str, urgent: bool = False, **query
) -> Panel:
    """A panel of disagreements, ordered as the disagreement list orders by
    `order` (its `o` parameter, then its own tie-breakers)."""
    field = order.removeprefix("-")
    column = {"occurred": "occurred_on", "follow_up": "follow_up_on"}[field]
    rows = rows.select_related("client").order_by(
        f"-{column}" if order.startswith("-") else column, "-occurred_on", "-pk"
    )
    url = _list_url("disagreement-list", **query, o=order)
    return _panel(key, title, rows, url=url, kind="disagreements", empty=empty, urgent=urgent)


def waiting_on(mine: QuerySet[Disagreement]) -> list[Panel]:
    """What waits on a person in `mine` (the disagreements on their own
    clients), most urgent first: the client's acknowledgment of a risk they
    took against advice, follow-ups overdue, follow-ups coming up, the
    client's decision."""
    me = {"mine": "yes"}
    return [
        _disagreements(
            "acknowledgment",
            "Awaiting the client's acknowledgment of risk",
            mine.awaiting_acknowledgment(),
            empty="No client owes you an acknowledgment.",
            order="occurred",
            urgent=True,
            state="awaiting_acknowledgment",
            **me,
        ),
        _disagreements(
            "overdue",
            "Follow-ups overdue",
            mine.follow_up_overdue(),
            empty="No follow-up is overdue.",
            order="follow_up",
            urgent=True,
            state="follow_up_overdue",
            **me,
        ),
        _disagreements(
            "followup",
            f"Follow-ups due today or in the next {FOLLOW_UP_DAYS} days",
            mine.follow_up_coming(),
            empty=f"No follow-up is due in the next {FOLLOW_UP_DAYS} days.",
            order="follow_up",
            state="follow_up_coming",
            **me,
        ),
        _disagreements(
            "decision",
            "Awaiting the client's decision",
            mine.awaiting_decision(),
            empty="No client's decision is awaited.",
            order="occurred",
            state="awaiting_decision",
            **me,
        ),
    ]


def for_managers(user: User) -> list[Panel]:
    """What a manager (or an admin, firm-wide) looks after: clients newly
    adversarial, band overrides about to end, disagreements not yet reviewed;
    none of a client let go."""
    scope = Client.objects.visible_to(user).open_for_work()
    panels = [
        _panel(
            "adversarial",
            f"Clients turned adversarial in the last {health.NEWLY_ADVERSARIAL_DAYS} days",
            health.turned_adversarial(scope).select_related("lead_advisor"),
            url=_list_url("health-board", attention="turned_adversarial"),
            kind="clients",
            empty="No client turned adversarial in that time.",
        ),
        _panel(
            "overrides",
            f"Band overrides ending within {health.OVERRIDE_ENDING_DAYS} days",
            health.overrides_ending(scope).select_related("client", "set_by"),
            url=_list_url("health-board", attention="override_ending"),
            kind="overrides",
            empty="No override ends in that time.",
        ),
    ]
    if user.has_perm("advisory.review_disagreement"):
        panels.append(
            _disagreements(
                "review",
                "Disagreements waiting for review",
                Disagreement.objects.visible_to(user).active().awaiting_review(),
                empty="Nothing is waiting for review.",
                order="occurred",
                review="waiting",
            )
        )
    return panels


def letgo_waiting(user: User) -> Panel:
    """Let-go proposals waiting for an admin's decision, oldest first."""
    cases = (
        LetGoCase.objects.visible_to(user)
        .filter(status=LetGoCase.Status.PROPOSED)
        .select_related("client", "proposed_by")
        .order_by("proposed_at", "pk")
    )
    return _panel(
        "letgo",
        "Let-go proposals waiting for your decision",
        cases,
        url=_list_url("letgo-list", status=LetGoCase.Status.PROPOSED),
        kind="letgo",
        empty="No proposal is waiting for a decision.",
        urgent=True,
    )


def dashboard(user: User) -> dict:
    """The home page for `user`: an admin's let-go decisions first; with the
    health board, the board's band counts and the manager's panels; then what
    waits on them on their own clients, their clients and their teams."""
    my_clients = Client.objects.my_clients(user).select_related("team")
    # The ids themselves (a few hundred at most): with a subquery the database
    # can't tell how few clients these are, and reads every open disagreement.
    # A let-go client stays among my clients, but has no open items: the
    # panels' filters leave its disagreements out (DisagreementQuerySet).
    my_ids = list(my_clients.values_list("pk", flat=True))
    mine = Disagreement.objects.filter(client__in=my_ids).active()
    return {
        "letgo": letgo_waiting(user) if user.has_perm("accounts.decide_letgo") else None,
        "board": (
            {
                # As the health board's default view counts them: no let-go client.
                "counts": health.band_counts(Client.objects.visible_to(user).open_for_work()),
                "panels": for_managers(user),
            }
            if user.has_perm("accounts.view_health_board")
            else None
        ),
        "waiting": waiting_on(mine),
        "open_count": mine.open().count(),
        "open_url": _list_url("disagreement-list", mine="yes", state="open"),
        "my_clients": my_clients[:HOME_LIST_LENGTH],
        "my_client_count": len(my_ids),
        "today": timezone.localdate(),
        "teams": Team.objects.visible_to(user).prefetch_related("managers"),
        "team_summary": Team.objects.managed_by(user).annotate(
            client_count=Count("clients", filter=Q(clients__is_archived=False), distinct=True)
        ),
    }
