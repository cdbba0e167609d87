from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import Role, Team
from accounts.permissions import permission_required


@require_GET
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: no session, no database."""
    return HttpResponse("ok", content_type="text/plain")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "teams": Team.objects.visible_to(user).prefetch_related("managers"),
        "managed_teams": Team.objects.managed_by(user),
        "is_advisor_home": user.role in (Role.ADVISOR, None),
    }
    return render(request, "advisory/dashboard.html", context)


def _coming(request: HttpRequest, title: str, issue: str) -> HttpResponse:
    return render(request, "advisory/coming.html", {"title": title, "issue": issue})


@login_required
def client_list(request: HttpRequest) -> HttpResponse:
    return _coming(request, "Clients", "the client register")


@login_required
def disagreement_list(request: HttpRequest) -> HttpResponse:
    return _coming(request, "Disagreements", "the disagreement log")


@login_required
def disagreement_create(request: HttpRequest) -> HttpResponse:
    return _coming(request, "Log disagreement", "the disagreement form")


@login_required
def health_board(request: HttpRequest) -> HttpResponse:
    return _coming(request, "Relationship health", "the health board")


@permission_required("accounts.review_letgo")
def letgo_list(request: HttpRequest) -> HttpResponse:
    return _coming(request, "Let-go review", "the let-go review queue")
