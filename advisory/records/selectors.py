"""Reads of the log that pages show: what waits on a person.

The dashboard is a list of panels, most urgent first. Each says exactly what
it lists, counts all of it (not only the rows shown) and links to the list
page filtered to the same rows, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import itemgetter, or_
from typing import NamedTuple
from urllib.parse import urlencode

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber
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
    (up to Panel.limit: the database stops counting there). Fewer rows than a
    panel shows are all of them: then nothing more is counted."""
    shown = list(rows[:HOME_LIST_LENGTH])
    if len(shown) < HOME_LIST_LENGTH:
        count = len(shown)
    else:
        count = rows.order_by()[: Panel.limit + 1].count()
    return Panel(key=key, title=title, rows=shown, count=count, url=url, **fields)


def _list_url(name: str, **query: str) -> str:
    return f"{reverse(name)}?{urlencode(query)}"


def _ordering(order: str) -> list[str]:
    """How the disagreement list orders by `order` (its `o` parameter), with
    its own tie-breakers."""
    column = {"occurred": "occurred_on", "follow_up": "follow_up_on"}[order.removeprefix("-")]
    return [f"-{column}" if order.startswith("-") else column, "-occurred_on", "-pk"]


def _disagreements(
    key: str, title: str, rows: QuerySet, *, order: str, empty: str, urgent: bool = False, **query
) -> Panel:
    """A panel of disagreements, ordered as the disagreement list orders by `order`."""
    rows = rows.select_related("client").order_by(*_ordering(order))
    url = _list_url("disagreement-list", **query, o=order)
    return _panel(key, title, rows, url=url, kind="disagreements", empty=empty, urgent=urgent)


class Waiting(NamedTuple):
    """A kind of open item that waits on a person: one panel of theirs."""

    key: str  # the panel's
    state: str  # the disagreement list's `state` filter showing the same rows
    title: str
    condition: Callable[[], Q]
    order: str  # the list's `o`
    empty: str
    urgent: bool = False


WAITING = [
    Waiting(
        "acknowledgment",
        "awaiting_acknowledgment",
        "Awaiting the client's acknowledgment of risk",
        Disagreement.awaiting_acknowledgment_q,
        "occurred",
        "No client owes you an acknowledgment.",
        urgent=True,
    ),
    Waiting(
        "overdue",
        "follow_up_overdue",
        "Follow-ups overdue",
        Disagreement.follow_up_overdue_q,
        "follow_up",
        "No follow-up is overdue.",
        urgent=True,
    ),
    Waiting(
        "followup",
        "follow_up_coming",
        f"Follow-ups due today or in the next {FOLLOW_UP_DAYS} days",
        Disagreement.follow_up_coming_q,
        "follow_up",
        f"No follow-up is due in the next {FOLLOW_UP_DAYS} days.",
    ),
    Waiting(
        "decision",
        "awaiting_decision",
        "Awaiting the client's decision",
        Disagreement.awaiting_decision_q,
        "occurred",
        "No client's decision is awaited.",
    ),
]


def waiting_on(mine: QuerySet[Disagreement]) -> tuple[list[Panel], int]:
    """What waits on a person in `mine` (the disagreements on their own
    clients), most urgent first (WAITING), and how many open items they have
    in all.

    Two queries, however many panels (_first_rows): every panel lists open
    items, and only those are read, from the index of open disagreements (a
    small part of a long log)."""
    places, rows = _first_rows(mine.open())
    panels = []
    for w in WAITING:
        shown = sorted(
            (p for p in places if p[f"in_{w.key}"] and p[f"at_{w.key}"] <= HOME_LIST_LENGTH),
            key=itemgetter(f"at_{w.key}"),
        )
        panels.append(
            Panel(
                key=w.key,
                title=w.title,
                kind="disagreements",
                # One archived between the two queries is simply not shown.
                rows=[rows[p["pk"]] for p in shown if p["pk"] in rows],
                count=shown[0][f"of_{w.key}"] if shown else 0,
                url=_list_url("disagreement-list", state=w.state, mine="yes", o=w.order),
                empty=w.empty,
                urgent=w.urgent,
            )
        )
    return panels, places[0]["of_all"] if places else 0


def _first_rows(open_items: QuerySet[Disagreement]) -> tuple[list[dict], dict]:
    """Each WAITING panel's first HOME_LIST_LENGTH rows, and the counts.

    The first query reads only what orders the open items, and window
    functions tell for each: whether it is in a panel (`in_<key>`), its place
    there in the panel's order (`at_<key>`) and how many the panel holds
    (`of_<key>`), and how many open items there are (`of_all`); it keeps the
    rows some panel shows (and one, for the count, if none does). The second
    reads those rows in full, by id."""
    annotations = {"of_all": Window(Count("pk")), "any": Window(RowNumber())}
    for w in WAITING:
        member = ExpressionWrapper(w.condition(), output_field=BooleanField())
        annotations[f"in_{w.key}"] = member
        annotations[f"at_{w.key}"] = Window(
            RowNumber(), partition_by=[member], order_by=_ordering(w.order)
        )
        annotations[f"of_{w.key}"] = Window(Count("pk"), partition_by=[member])
    shown = [Q(any=1)] + [
        Q(**{f"in_{w.key}": True, f"at_{w.key}__lte": HOME_LIST_LENGTH}) for w in WAITING
    ]
    places = list(
        open_items.annotate(**annotations).filter(reduce(or_, shown)).values("pk", *annotations)
    )
    rows = open_items.select_related("client").in_bulk([p["pk"] for p in places])
    return places, rows


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
    # All of them, read once (a few hundred at most): the first few are shown,
    # and their ids select the disagreements, as a list: with a subquery the
    # database can't tell how few clients these are, and reads every open
    # disagreement. A let-go client is not among my clients
    # (ClientQuerySet.my_clients); the panels' filters would leave its
    # disagreements out anyway (DisagreementQuerySet).
    my_clients = list(
        Client.objects.my_clients(user)
        .select_related("team")
        .only("name", "health_band", "team__name")
    )
    my_ids = [client.pk for client in my_clients]
    mine = Disagreement.objects.filter(client__in=my_ids).active()
    waiting, open_count = waiting_on(mine)
    # The teams they are on, and of those the ones they manage, with their
    # active clients counted: one query (and one for the managers' names).
    teams = list(
        Team.objects.visible_to(user)
        .annotate(
            client_count=Count("clients", filter=Q(clients__is_archived=False), distinct=True),
            managed=Exists(Team.objects.managed_by(user).filter(pk=OuterRef("pk"))),
        )
        .prefetch_related("managers")
    )
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
        "waiting": waiting,
        "open_count": open_count,
        "open_url": _list_url("disagreement-list", mine="yes", state="open"),
        "my_clients": my_clients[:HOME_LIST_LENGTH],
        "my_client_count": len(my_ids),
        "today": timezone.localdate(),
        "teams": teams,
        "team_summary": [team for team in teams if team.managed],
    }
