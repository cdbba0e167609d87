"""Saved views: save a filtered list under a name, list, rename and delete
one's own. Another person's saved view answers 404, like any record outside
one's scope."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import permission_required
from advisory.filters import ClientFilter, DisagreementFilter, EngagementFilter, HealthFilter
from advisory.models import Client, Disagreement, Engagement, SavedView
from advisory.views.common import add_errors
from advisory.web import chips
from advisory.web import saved_views as services
from advisory.web.saved_views import RenameForm, SavedViewForm

# Each list that can be saved: its filters, over no rows (only the form is used).
FILTERSETS = {
    SavedView.List.CLIENTS: (ClientFilter, Client),
    SavedView.List.ENGAGEMENTS: (EngagementFilter, Engagement),
    SavedView.List.DISAGREEMENTS: (DisagreementFilter, Disagreement),
    SavedView.List.HEALTH_BOARD: (HealthFilter, Client),
}
FILTERS_MISSING = (
    "The list's filters did not come through, so this view was not saved. "
    "Go back to the list and save it from there."
)
FILTERS_UNKNOWN = (
    "Some filters have values Candor doesn't know, so this view was not saved. "
    "Go back to the list, correct the filters, then save it."
)


def _get_own_or_404(request: HttpRequest, pk: int) -> SavedView:
    return get_object_or_404(services.saved_views_of(request.user), pk=pk)


@never_cache
@permission_required("advisory.view_client")
def saved_view_list(request: HttpRequest) -> HttpResponse:
    views = services.saved_views_of(request.user)
    return render(
        request, "advisory/saved_view_list.html", {"views": views, "limit": services.LIMIT}
    )


@require_POST
@permission_required("advisory.view_client")
def saved_view_create(request: HttpRequest) -> HttpResponse:
    """From the "Save this view" form above a filtered list."""
    form = SavedViewForm(request.POST, prefix="saved")
    if form.is_valid():
        list_name = form.cleaned_data["list_name"]
        filterset_class, model = FILTERSETS[list_name]
        params = QueryDict(form.cleaned_data["query"])
        filterset = filterset_class(params, queryset=model.objects.none(), user=request.user)
        if not filterset.is_valid():
            form.add_error(None, FILTERS_UNKNOWN)
        elif not chips.filter_chips(filterset, params):
            form.add_error(None, services.NO_FILTER)
        else:
            try:
                view = services.saved_view_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    list_name=list_name,
                    query=services.normalised_query(filterset, params),
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Saved as “{view.name}”: find it on your dashboard and under Saved views.",
                )
                return redirect(view.get_absolute_url())
    elif any(field.errors for field in form.hidden_fields()):
        form.add_error(None, FILTERS_MISSING)  # a hidden field's error would show nowhere
    return render(
        request,
        "advisory/saved_view_form.html",
        {"form": form, "title": "Save this view", "back_url": _back_url(form)},
        status=400,
    )


def _back_url(form: SavedViewForm) -> str:
    """The list the form came from, as it was filtered (when that can be told)."""
    list_name = form.data.get(form.add_prefix("list_name"), "")
    if list_name not in SavedView.List.values:
        return ""
    query = form.data.get(form.add_prefix("query"), "")
    return SavedView(list_name=list_name, query=QueryDict(query).urlencode()).get_absolute_url()


@never_cache
@require_http_methods(["GET", "POST"])
@permission_required("advisory.view_client")
def saved_view_rename(request: HttpRequest, pk: int) -> HttpResponse:
    view = _get_own_or_404(request, pk)
    current_name = view.name
    form = RenameForm(request.POST or None, initial={"name": view.name})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.saved_view_rename(view, name=form.cleaned_data["name"])
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"Renamed to “{view.name}”.")
                return redirect("saved-view-list")
    return render(
        request,
        "advisory/saved_view_form.html",
        {"form": form, "title": f"Rename “{current_name}”", "back_url": ""},
        status=status,
    )


@never_cache
@require_http_methods(["GET", "POST"])
@permission_required("advisory.view_client")
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation; POST deletes."""
    view = _get_own_or_404(request, pk)
    if request.method == "POST":
        services.saved_view_delete(view)
        messages.success(request, f"Deleted the saved view “{view.name}”.")
        return redirect("saved-view-list")
    return render(request, "advisory/saved_view_confirm_delete.html", {"view": view})
