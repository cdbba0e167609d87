"""Reads of the log that pages show: what waits on a person."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import Team, User
from advisory.health import selectors as health_selectors
from advisory.models import Client, Disagreement

HOME_LIST_LENGTH = 15
FOLLOW_UP_DAYS = 7
NEWLY_ADVERSARIAL_DAYS = 30


def dashboard(user: User) -> dict:
    """The home page's lists and counts for `user`: their own clients, open
    items and follow-ups due, their teams; with the health board permission,
    the board's band counts and the newly adversarial clients."""
    my_clients = Client.objects.visible_to(user).personal_to(user).active().select_related("team")
    # The ids themselves (a few hundred at most): with a subquery the database
    # can't tell how few clients these are, and reads every open disagreement.
    my_ids = list(my_clients.values_list("pk", flat=True))
    mine = Disagreement.objects.filter(client__in=my_ids).active()
    open_items = mine.open().select_related("client", "engagement", "logged_by")
    today = timezone.localdate()
    horizon = today + datetime.timedelta(days=FOLLOW_UP_DAYS)
    # Overdue and coming up are two lists: one list of both, oldest first,
    # showed only long-overdue items under "due in the next 7 days".
    follow_ups = mine.open().select_related("client").order_by("follow_up_on", "pk")
    overdue = follow_ups.filter(follow_up_on__lt=today)
    due_soon = follow_ups.filter(follow_up_on__gte=today, follow_up_on__lte=horizon)
    teams = Team.objects.visible_to(user).prefetch_related("managers")
    if user.has_perm("accounts.view_health_board"):
        scope = Client.objects.visible_to(user).active()
        since = timezone.localdate() - datetime.timedelta(days=NEWLY_ADVERSARIAL_DAYS)
        board = {
            "counts": health_selectors.band_counts(scope),
            "newly_adversarial": health_selectors.newly_adversarial(
                scope, since=since
            ).select_related("lead_advisor")[:HOME_LIST_LENGTH],
            "days": NEWLY_ADVERSARIAL_DAYS,
        }
    else:
        board = None
    context = {
        "my_clients": my_clients[:HOME_LIST_LENGTH],
        "my_client_count": len(my_ids),
        "open_items": open_items[:HOME_LIST_LENGTH],
        "overdue": overdue[:HOME_LIST_LENGTH],
        "due_soon": due_soon[:HOME_LIST_LENGTH],
        **mine.open().aggregate(
            open_count=Count("pk"),
            overdue_count=Count("pk", filter=Q(follow_up_on__lt=today)),
            due_soon_count=Count(
                "pk", filter=Q(follow_up_on__gte=today, follow_up_on__lte=horizon)
            ),
        ),
        "follow_up_days": FOLLOW_UP_DAYS,
        "today": today,
        "teams": teams,
        "board": board,
        "team_summary": Team.objects.managed_by(user).annotate(
            client_count=Count("clients", filter=Q(clients__is_archived=False), distinct=True)
        ),
    }
    return context
