from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.permissions import get_visible_or_404, permission_required
from advisory.filters import ClientFilter
from advisory.forms import BandOverrideForm, ClientForm
from advisory.health import selectors
from advisory.models import Client, Disagreement
from advisory.records import services
from advisory.transfer import exports
from advisory.views.common import archive_toggle, history_page, list_page, save_form
from advisory.web.page_cache import cached_page

TIMELINE_LENGTH = 50
TOP_CONTRIBUTORS = 10


@permission_required("advisory.view_client")
@cached_page
def client_list(request: HttpRequest) -> HttpResponse:
    clients = Client.objects.visible_to(request.user).select_related("lead_advisor", "team")
    filterset = ClientFilter(request.GET, queryset=clients, user=request.user)
    return list_page(
        request,
        filterset=filterset,
        template="advisory/client_list.html",
        noun="clients",
        export=exports.CLIENTS,
    )


@permission_required("advisory.add_client")
def client_create(request: HttpRequest) -> HttpResponse:
    form = ClientForm(request.POST or None, user=request.user)
    return save_form(
        request,
        form,
        lambda: services.client_save(form.save(commit=False), by=request.user),
        template="advisory/record_form.html",
        context={"title": "New client", "cancel_url": reverse("client-list")},
        success="Client created.",
    )


@permission_required("advisory.view_client")
@cached_page
def client_detail(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(
        Client.objects.select_related("lead_advisor", "team"), request.user, pk=pk
    )
    engagements = client.engagements.select_related("lead_advisor").order_by(
        "is_archived", "-start_date", "title"
    )
    disagreements = client.disagreements.active().select_related("engagement", "logged_by")
    now, _then = selectors.client_health(client)
    history = selectors.band_history(Client.objects.filter(pk=client.pk))
    context = {
        "client": client,
        "health": now,
        "top_contributors": now.contributions[:TOP_CONTRIBUTORS],
        "override": client.band_overrides.in_force().select_related("set_by").first(),
        "override_form": BandOverrideForm(),
        "letgo_case": client.letgo_cases.first(),
        "score_chart": {
            "months": [m.isoformat() for m in history.months],
            "scores": history.scores.get(client.pk, []),
        },
        "score_rows": list(zip(history.months, history.scores.get(client.pk, []), strict=False)),
        "engagements": engagements,
        "timeline": disagreements[:TIMELINE_LENGTH],
        **disagreements.aggregate(
            disagreement_count=Count("pk"), open_count=Count("pk", filter=Disagreement.open_q())
        ),
    }
    return render(request, "advisory/client_detail.html", context)


@permission_required("advisory.change_client")
def client_edit(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    form = ClientForm(request.POST or None, instance=client, user=request.user)
    return save_form(
        request,
        form,
        lambda: services.client_save(
            form.save(commit=False),
            by=request.user,
            reason=form.cleaned_data.get("change_reason", ""),
            expected_version=form.cleaned_data["version"],
        ),
        template="advisory/record_form.html",
        context={"title": f"Edit {client}", "cancel_url": client.get_absolute_url()},
        success="Client saved.",
    )


@permission_required("advisory.view_client")
def client_history(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    return history_page(request, client, tabs="advisory/_client_tabs.html")


@require_POST
@permission_required("advisory.change_client")
def client_archive(request: HttpRequest, pk: int) -> HttpResponse:
    return archive_toggle(request, get_visible_or_404(Client, request.user, pk=pk))
