"""Everyone's home page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from advisory.records import selectors
from advisory.web.page_cache import cached_page


@login_required
@cached_page
def dashboard(request: HttpRequest) -> HttpResponse:
    """Everyone's home: their own clients, open items and follow-ups; managers
    and admins also get the health board's summary and newly adversarial clients."""
    context = selectors.dashboard(request.user)
    return render(request, "advisory/dashboard.html", context)
