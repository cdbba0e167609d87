from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.routers import DefaultRouter

from advisory.api import views

app_name = "api"

router = DefaultRouter(use_regex_path=False)
router.include_format_suffixes = False
router.register("clients", views.ClientViewSet, basename="client")
router.register("engagements", views.EngagementViewSet, basename="engagement")
router.register("disagreements", views.DisagreementViewSet, basename="disagreement")
router.register("letgo-cases", views.LetGoCaseViewSet, basename="letgo-case")


@csrf_exempt  # like the API views: it changes nothing, and a PATCH gets 404 rather than 403
def not_found(request: HttpRequest, path: str) -> JsonResponse:
    """Anything else under /api/ (e.g. /api/clients/abc/) answers in JSON, as the
    API does, rather than with the site's HTML 404 page. Paths without the
    trailing slash still get CommonMiddleware's redirect first."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [*router.urls, re_path(r"^(?P<path>.*/)$", not_found, name="not-found")]
