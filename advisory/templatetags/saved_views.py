"""The dashboard's panel of the person's saved views:
`{% load saved_views %}{% saved_views_panel %}`."""

from __future__ import annotations

from django import template

from advisory.web import saved_views

register = template.Library()


@register.inclusion_tag("advisory/_saved_views_panel.html", takes_context=True)
def saved_views_panel(context) -> dict:
    """One query: the signed-in person's saved views, by name, each a link to
    its list as it was filtered. Nobody else's are ever listed."""
    user = context["request"].user
    views = list(saved_views.saved_views_of(user)) if user.is_authenticated else []
    return {"views": views}
