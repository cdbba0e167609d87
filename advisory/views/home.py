from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, InterfaceError, connection
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.log import log_response
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Team
from advisory.health import selectors
from advisory.models import Client, Disagreement
from advisory.web.page_cache import cached_page
from config.middleware import describe

HOME_LIST_LENGTH = 15
FOLLOW_UP_DAYS = 7
NEWLY_ADVERSARIAL_DAYS = 30


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: no session, no database."""
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@never_cache
def healthz_ready(request: HttpRequest) -> HttpResponse:
    """Readiness for load balancers: can this process query the database now?
    No session either. A failure is logged once, without a traceback (probes
    come every few seconds)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DatabaseError, InterfaceError) as exc:
        response = HttpResponse("database unavailable", status=503, content_type="text/plain")
        log_response(
            "%s (database unavailable: %s): %s",
            response.reason_phrase,
            describe(exc),
            request.path,
            response=response,
            request=request,
        )
        return response
    return HttpResponse("ready", content_type="text/plain")


@login_required
@cached_page
def dashboard(request: HttpRequest) -> HttpResponse:
    """Everyone's home: their own clients, open items and follow-ups; managers
    and admins also get the health board's summary and newly adversarial clients."""
    user = request.user
    my_clients = Client.objects.visible_to(user).personal_to(user).active().select_related("team")
    # The ids themselves (a few hundred at most): with a subquery the database
    # can't tell how few clients these are, and reads every open disagreement.
    my_ids = list(my_clients.values_list("pk", flat=True))
    mine = Disagreement.objects.filter(client__in=my_ids).active()
    open_items = mine.open().select_related("client", "engagement", "logged_by")
    horizon = timezone.localdate() + datetime.timedelta(days=FOLLOW_UP_DAYS)
    follow_ups = (
        mine.open()
        .filter(follow_up_on__lte=horizon)
        .select_related("client")
        .order_by("follow_up_on", "pk")
    )
    teams = Team.objects.visible_to(user).prefetch_related("managers")
    if user.has_perm("accounts.view_health_board"):
        scope = Client.objects.visible_to(user).active()
        since = timezone.localdate() - datetime.timedelta(days=NEWLY_ADVERSARIAL_DAYS)
        board = {
            "counts": selectors.band_counts(scope),
            "newly_adversarial": selectors.newly_adversarial(scope, since=since).select_related(
                "lead_advisor"
            )[:HOME_LIST_LENGTH],
            "days": NEWLY_ADVERSARIAL_DAYS,
        }
    else:
        board = None
    context = {
        "my_clients": my_clients[:HOME_LIST_LENGTH],
        "my_client_count": len(my_ids),
        "open_items": open_items[:HOME_LIST_LENGTH],
        "follow_ups": follow_ups[:HOME_LIST_LENGTH],
        **mine.open().aggregate(
            open_count=Count("pk"), follow_up_count=Count("pk", filter=Q(follow_up_on__lte=horizon))
        ),
        "follow_up_days": FOLLOW_UP_DAYS,
        "today": timezone.localdate(),
        "teams": teams,
        "board": board,
        "team_summary": Team.objects.managed_by(user).annotate(
            client_count=Count("clients", filter=Q(clients__is_archived=False), distinct=True)
        ),
    }
    return render(request, "advisory/dashboard.html", context)
