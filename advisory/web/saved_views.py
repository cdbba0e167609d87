"""Saved views: a person's named, filtered lists (the services and the form).

A page preference rather than a record of the firm, so it lives with the
web helpers, not in a domain package: only the pages save, rename or read
them, and only their owner ever sees one.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import QueryDict

from accounts.models import User
from advisory.models import SavedView
from advisory.models.views import SAVED_VIEW_NAME, SAVED_VIEW_QUERY
from advisory.web import chips

LIMIT = 50  # per person; a longer menu of views is no longer a shortcut
NAME_TAKEN = "You already have a saved view called “%(name)s”. Choose another name."
AT_LIMIT = (
    f"You have {LIMIT} saved views, the most Candor keeps for one person. "
    "Delete one you no longer use, then save this one."
)
NO_FILTER = "Set at least one filter first: a saved view is a filtered list."


class SavedViewForm(forms.Form):
    """The name, and (hidden) which list with which filters. The list page
    renders it with the prefix "saved" so its ids never meet the filters'."""

    name = forms.CharField(
        label="Name this view",
        max_length=SAVED_VIEW_NAME,
        help_text=f"Up to {SAVED_VIEW_NAME} characters, e.g. “Critical, awaiting decision”.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "form-control"}),
    )
    list_name = forms.ChoiceField(choices=SavedView.List.choices, widget=forms.HiddenInput)
    query = forms.CharField(
        max_length=SAVED_VIEW_QUERY, required=False, strip=False, widget=forms.HiddenInput
    )


class RenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=SAVED_VIEW_NAME)


def normalised_query(filterset, params: QueryDict) -> str:
    """The list's own filter and sort parameters from `params`, in the filter
    panel's order: no page, no export format, no empty or unknown parameter."""
    form = filterset.form
    keys = [key for name in form.fields for key in chips.filter_keys(form, name)]
    if chips.SORT not in keys:  # the health board sorts outside its filterset
        keys.append(chips.SORT)
    kept = QueryDict(mutable=True)
    for key in keys:
        if values := [value for value in params.getlist(key) if value.strip()]:
            kept.setlist(key, values)
    return kept.urlencode()


def saved_views_of(user: User) -> QuerySet[SavedView]:
    return SavedView.objects.filter(user=user)


def _check_name(user: User, name: str, *, exclude: int | None = None) -> None:
    taken = saved_views_of(user).filter(name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise ValidationError({"name": ValidationError(NAME_TAKEN, params={"name": name})})


def _save(view: SavedView) -> SavedView:
    view.full_clean(validate_constraints=False)  # the name was checked, in words
    try:
        with transaction.atomic():
            view.save()
    except IntegrityError:  # the same name saved meanwhile, in another tab
        raise ValidationError(
            {"name": ValidationError(NAME_TAKEN, params={"name": view.name})}
        ) from None
    return view


def saved_view_create(*, user: User, name: str, list_name: str, query: str) -> SavedView:
    """Save `query` on the list `list_name` as `name`, for `user` alone."""
    name = name.strip()
    if not query:
        raise ValidationError(NO_FILTER)
    if saved_views_of(user).count() >= LIMIT:
        raise ValidationError(AT_LIMIT)
    _check_name(user, name)
    return _save(SavedView(user=user, name=name, list_name=list_name, query=query))


def saved_view_rename(view: SavedView, *, name: str) -> SavedView:
    name = name.strip()
    _check_name(view.user, name, exclude=view.pk)
    view.name = name
    return _save(view)


def saved_view_delete(view: SavedView) -> None:
    view.delete()
