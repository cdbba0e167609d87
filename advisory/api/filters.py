"""List filtering with the pages' own FilterSets (advisory/filters.py)."""

from __future__ import annotations

import django_filters as filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.contrib.django_filters import DjangoFilterExtension

from accounts.models import User
from advisory.filters import IdChoiceFilter, ScopedFilterSet
from advisory.models import Client, LetGoCase


class ScopedFilterBackend(DjangoFilterBackend):
    """Gives the FilterSets the user they limit their choices to (their `user=`
    argument); an invalid filter value answers 400 with the errors keyed by
    parameter. An empty parameter (`?band=`) means "not filtered", as on the pages."""

    def get_filterset_kwargs(self, request, queryset, view) -> dict:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        if issubclass(filterset_class, ScopedFilterSet | LetGoCaseFilter):
            kwargs["user"] = request.user
        return kwargs


class ScopedFilterSchema(DjangoFilterExtension):
    """The filters as drf-spectacular describes them, saying that an empty value
    is accepted (and ignored)."""

    target_class = ScopedFilterBackend
    priority = 1

    def get_schema_operation_parameters(self, auto_schema, *args, **kwargs) -> list[dict]:
        parameters = super().get_schema_operation_parameters(auto_schema, *args, **kwargs)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True
        return parameters


class LetGoCaseFilter(filters.FilterSet):
    """The let-go queue has no filter form; the API offers the obvious few."""

    status = filters.ChoiceFilter(choices=LetGoCase.Status.choices)
    reason = filters.ChoiceFilter(choices=LetGoCase.Reason.choices)
    client = IdChoiceFilter(queryset=Client.objects.none())

    class Meta:
        model = LetGoCase
        fields = ["status", "reason", "client"]

    def __init__(self, data=None, *args, user: User, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        self.filters["client"].queryset = Client.objects.visible_to(user)
