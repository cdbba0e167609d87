"""The app's URLs plus the benchmark's baseline page (bench/settings.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as app_urlpatterns

BASELINE = engines["django"].from_string(
    '{% extends "base.html" %}{% block title %}Baseline{% endblock %}'
)


@login_required
def baseline(request: HttpRequest) -> HttpResponse:
    """A logged-in page that renders the base template and nothing else."""
    return HttpResponse(BASELINE.render({}, request))


urlpatterns = [path("bench/baseline/", baseline, name="bench-baseline"), *app_urlpatterns]
