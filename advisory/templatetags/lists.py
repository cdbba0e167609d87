"""Template helpers for the list pages: the filters shown as chips, and what
"Save this view" sends."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from advisory.models import SavedView
from advisory.web import chips
from advisory.web.saved_views import SavedViewForm

register = template.Library()


@register.simple_tag(takes_context=True)
def active_filters(context, filterset) -> dict:
    """The list's filters as chips, the query string of "Clear all", and the
    form that saves the list as it is filtered (None without filters).

    Read from the request, not from the view's context, so every list —
    list_page's and the health board's own — gets them the same way."""
    request: HttpRequest = context["request"]
    found = chips.filter_chips(filterset, request.GET)
    list_name = request.resolver_match.url_name if request.resolver_match else None
    save_form = None
    if found and list_name in SavedView.List.values:
        save_form = SavedViewForm(
            prefix="saved", initial={"list_name": list_name, "query": chips.without(request.GET)}
        )
    return {"chips": found, "clear": chips.clear_all(request.GET), "save_form": save_form}
