from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.permissions import get_visible_or_404, permission_required
from advisory.filters import EngagementFilter
from advisory.forms import EngagementForm
from advisory.models import Client, Engagement
from advisory.records import services
from advisory.transfer import exports
from advisory.views.common import archive_toggle, history_page, list_page, save_form
from advisory.web.ids import parse_id
from advisory.web.page_cache import cached_page

TIMELINE_LENGTH = 50


def _save(request: HttpRequest, form: EngagementForm) -> Engagement:
    return services.engagement_save(
        form.save(commit=False),
        by=request.user,
        members=list(form.cleaned_data["members"]),
        reason=form.cleaned_data.get("change_reason", ""),
        expected_version=form.cleaned_data["version"],
    )


@permission_required("advisory.view_engagement")
@cached_page
def engagement_list(request: HttpRequest) -> HttpResponse:
    engagements = Engagement.objects.visible_to(request.user).select_related(
        "client", "lead_advisor"
    )
    filterset = EngagementFilter(request.GET, queryset=engagements, user=request.user)
    return list_page(
        request,
        filterset=filterset,
        template="advisory/engagement_list.html",
        noun="engagements",
        export=exports.ENGAGEMENTS,
    )


@permission_required("advisory.add_engagement")
def engagement_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    client_id = parse_id(request.GET.get("client", ""))
    if client_id is not None:
        client = get_visible_or_404(Client, request.user, pk=client_id)
        if client.is_read_only:
            state = "let go" if client.status == Client.Status.LET_GO else "archived"
            messages.error(request, f"{client} is {state}: no new engagement can be added.")
            return redirect(client)
        initial["client"] = client.pk
    form = EngagementForm(request.POST or None, initial=initial, user=request.user)
    return save_form(
        request,
        form,
        lambda: _save(request, form),
        template="advisory/record_form.html",
        context={"title": "New engagement", "cancel_url": reverse("engagement-list")},
        success="Engagement created.",
    )


@permission_required("advisory.view_engagement")
def engagement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_visible_or_404(
        Engagement.objects.select_related("client", "lead_advisor"), request.user, pk=pk
    )
    disagreements = engagement.disagreements.active().select_related(
        "client", "engagement", "logged_by"
    )
    context = {
        "engagement": engagement,
        "members": engagement.members.all(),
        "timeline": disagreements[:TIMELINE_LENGTH],
        "disagreement_count": disagreements.count(),
    }
    return render(request, "advisory/engagement_detail.html", context)


@permission_required("advisory.change_engagement")
def engagement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_visible_or_404(Engagement, request.user, pk=pk)
    form = EngagementForm(request.POST or None, instance=engagement, user=request.user)
    return save_form(
        request,
        form,
        lambda: _save(request, form),
        template="advisory/record_form.html",
        context={"title": f"Edit {engagement}", "cancel_url": engagement.get_absolute_url()},
        success="Engagement saved.",
    )


@permission_required("advisory.view_engagement")
def engagement_history(request: HttpRequest, pk: int) -> HttpResponse:
    engagement = get_visible_or_404(Engagement, request.user, pk=pk)
    return history_page(request, engagement, tabs="advisory/_engagement_tabs.html")


@require_POST
@permission_required("advisory.change_engagement")
def engagement_archive(request: HttpRequest, pk: int) -> HttpResponse:
    return archive_toggle(request, get_visible_or_404(Engagement, request.user, pk=pk))
