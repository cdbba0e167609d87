"""List filters (django-filter). Every choice list is limited to the user's scope."""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django_filters.fields import ModelChoiceField

from accounts.models import Team, User
from advisory.health import selectors as health
from advisory.models import FOLLOW_UP_DAYS, Band, Client, Disagreement, Engagement
from advisory.web.ids import parse_id
from advisory.web.widgets import CappedChoiceIterator, LongSelect

DATE_RANGE = filters.widgets.DateRangeWidget(attrs={"type": "date"})
# The range's legend names the pair; each input needs a name of its own.
DATE_RANGE.widgets[0].attrs["aria-label"] = "From"
DATE_RANGE.widgets[1].attrs["aria-label"] = "To"


class StableOrderingFilter(filters.OrderingFilter):
    """Sorts by the chosen column, then by `then`, so rows with equal values keep
    one order and paging never repeats or skips a row."""

    def __init__(self, *args, then: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.then = then

    def filter(self, qs: QuerySet, value) -> QuerySet:
        if not value:
            return qs
        return qs.order_by(*(self.get_ordering_value(param) for param in value), *self.then)


class ArchivedFilter(filters.ChoiceFilter):
    """Archived records stay out of lists unless asked for."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            choices=[("all", "Active and archived"), ("only", "Archived only")],
            empty_label="Active only",
            label="Archived",
            method=self.filter_archived,
            **kwargs,
        )

    @staticmethod
    def filter_archived(queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "all":
            return queryset
        return queryset.filter(is_archived=value == "only")


class IdChoiceField(ModelChoiceField):
    """Refuses what can't be a record's id before asking the database, which
    fails on an id no column holds (SQLite: OverflowError, a 500)."""

    def to_python(self, value):
        if value not in self.empty_values and parse_id(value) is None:
            message = self.error_messages["invalid_choice"]
            raise ValidationError(message, code="invalid_choice", params={"value": value})
        return super().to_python(value)


class IdChoiceFilter(filters.ModelChoiceFilter):
    field_class = IdChoiceField


class ScopedFilterSet(filters.FilterSet):
    """Runs the archived filter even when the form leaves it empty, and limits
    the choices of related-record filters to the user's scope."""

    q = filters.CharFilter(label="Search", method="search")
    archived = ArchivedFilter()

    def __init__(self, data=None, *args, user: User, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        self.user = user

    @property
    def form(self):
        # Built on first use, after the subclasses have set the scoped querysets.
        # The panel is rendered by includes/_filter_field.html, not crispy's
        # per-field templates (slow per field: docs/performance.md, "Measured
        # reasons in the code"), so the widgets get Bootstrap's classes here,
        # and every single <select> is built in Python.
        if not hasattr(self, "_form"):
            for field in super().form.fields.values():
                if getattr(field, "empty_label", None) == "---------":
                    field.empty_label = "Any"
                if isinstance(field, forms.ModelChoiceField) and field.queryset.model is Client:
                    # Beyond 500 clients the select says to search by name,
                    # which every list with a client filter searches.
                    field.iterator = CappedChoiceIterator
                if type(field.widget) is forms.Select or isinstance(field, forms.ModelChoiceField):
                    field.widget = LongSelect(attrs=field.widget.attrs, choices=field.choices)
                for widget in getattr(field.widget, "widgets", [field.widget]):
                    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
                    widget.attrs["class"] = css
        return self._form

    @property
    def active_filters(self) -> int:
        """How many filters other than search and sorting are set."""
        data = self.form.data
        return sum(
            1
            for name in self.form.fields
            if name not in ("q", "o")
            # A range widget submits name_after / name_before.
            and any(
                value for key, value in data.items() if key == name or key.startswith(f"{name}_")
            )
        )

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(is_archived=False)
        return queryset

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        query = Q()
        for lookup in self.search_fields:
            query |= Q(**{f"{lookup}__icontains": value.strip()})
        return queryset.filter(query)


class ClientFilter(ScopedFilterSet):
    search_fields = ["name", "sector", "contact_name"]

    team = IdChoiceFilter(queryset=Team.objects.none())
    lead_advisor = IdChoiceFilter(queryset=User.objects.none(), label="Lead advisor")
    status = filters.ChoiceFilter(choices=Client.Status.choices)
    kind = filters.ChoiceFilter(choices=Client.Kind.choices)
    band = filters.ChoiceFilter(field_name="health_band", choices=Band.choices, label="Band")
    o = StableOrderingFilter(
        fields=[
            ("name", "name"),
            ("sector", "sector"),
            ("lead_advisor__last_name", "lead"),
            ("team__name", "team"),
            ("status", "status"),
            ("health_score", "health"),
        ],
        label="Sort by",
        then=["name", "pk"],
    )

    class Meta:
        model = Client
        fields = ["q", "team", "lead_advisor", "status", "kind", "band", "archived"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["team"].queryset = Team.objects.visible_to(self.user)
        self.filters["lead_advisor"].queryset = User.objects.visible_to(self.user)


class EngagementFilter(ScopedFilterSet):
    search_fields = ["title", "client__name", "service_line"]

    client = IdChoiceFilter(queryset=Client.objects.none())
    lead_advisor = IdChoiceFilter(queryset=User.objects.none(), label="Lead advisor")
    team = IdChoiceFilter(field_name="client__team", queryset=Team.objects.none())
    status = filters.ChoiceFilter(choices=Engagement.Status.choices)
    o = StableOrderingFilter(
        fields=[
            ("title", "title"),
            ("client__name", "client"),
            ("service_line", "service"),
            ("lead_advisor__last_name", "lead"),
            ("status", "status"),
            ("start_date", "start"),
            ("end_date", "end"),
            ("fee", "fee"),
        ],
        label="Sort by",
        then=["client__name", "title", "pk"],
    )

    class Meta:
        model = Engagement
        fields = ["q", "client", "lead_advisor", "team", "status", "archived"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["client"].queryset = Client.objects.visible_to(self.user)
        self.filters["lead_advisor"].queryset = User.objects.visible_to(self.user)
        self.filters["team"].queryset = Team.objects.visible_to(self.user)


class DisagreementFilter(ScopedFilterSet):
    search_fields = ["title", "client_request", "recommendation", "client__name"]
    client = IdChoiceFilter(queryset=Client.objects.none())
    engagement = IdChoiceFilter(queryset=Engagement.objects.none())
    advisor = IdChoiceFilter(
        field_name="logged_by", queryset=User.objects.none(), label="Logged by"
    )
    team = IdChoiceFilter(field_name="client__team", queryset=Team.objects.none())
    topic = filters.ChoiceFilter(choices=Disagreement.Topic.choices)
    severity = filters.ChoiceFilter(choices=Disagreement.Severity.choices)
    tone = filters.ChoiceFilter(choices=Disagreement.Tone.choices)
    decision = filters.ChoiceFilter(
        choices=Disagreement.Decision.choices, label="Client's decision"
    )
    verdict = filters.ChoiceFilter(choices=Disagreement.Verdict.choices)
    occurred = filters.DateFromToRangeFilter(
        field_name="occurred_on", label="Occurred between", widget=DATE_RANGE
    )
    state = filters.ChoiceFilter(
        label="Open / closed",
        method="filter_state",
        choices=[
            ("open", "Open"),
            ("closed", "Closed"),
            ("awaiting_decision", "Awaiting decision"),
            ("awaiting_acknowledgment", "Awaiting acknowledgment"),
            ("awaiting_outcome", "Awaiting outcome"),
            ("follow_up_due", "Follow-up due"),
            ("follow_up_overdue", "Follow-up overdue"),
            ("follow_up_coming", f"Follow-up in the next {FOLLOW_UP_DAYS} days"),
        ],
    )
    review = filters.ChoiceFilter(
        label="Manager's review",
        method="filter_review",
        choices=[("waiting", "Waiting for review"), ("done", "Reviewed")],
    )
    mine = filters.ChoiceFilter(
        label="Whose clients",
        method="filter_mine",
        choices=[("yes", "My clients only")],
        empty_label="Everyone's",
    )
    o = StableOrderingFilter(
        fields=[
            ("occurred_on", "occurred"),
            ("title", "title"),
            ("client__name", "client"),
            ("severity_rank", "severity"),
            ("tone_rank", "tone"),
            ("decision", "decision"),
            ("verdict", "verdict"),
            ("follow_up_on", "follow_up"),
        ],
        label="Sort by",
        then=["-occurred_on", "-pk"],
    )

    class Meta:
        model = Disagreement
        fields = [
            "q",
            "client",
            "engagement",
            "advisor",
            "team",
            "topic",
            "severity",
            "tone",
            "decision",
            "verdict",
            "occurred",
            "state",
            "review",
            "mine",
            "archived",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.filters["client"].queryset = Client.objects.visible_to(self.user)
        self.filters["engagement"].queryset = self._engagement_choices()
        self.filters["engagement"].extra["help_text"] = "Choose a client first."
        self.filters["advisor"].queryset = User.objects.visible_to(self.user)
        self.filters["team"].queryset = Team.objects.visible_to(self.user)

    def _engagement_choices(self) -> QuerySet[Engagement]:
        """The chosen client's engagements (or the one asked for by id), not
        every engagement in scope: a firm's log has tens of thousands."""
        engagements = Engagement.objects.visible_to(self.user).select_related("client")
        client, engagement = (parse_id(self.data.get(key, "")) for key in ("client", "engagement"))
        if client is not None:
            return engagements.filter(client_id=client)
        if engagement is not None:
            return engagements.filter(pk=engagement)
        return engagements.none()

    def filter_state(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The choices are DisagreementQuerySet methods of the same names.
        return getattr(queryset, value)()

    def filter_review(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "waiting":
            return queryset.awaiting_review()  # as the manager's dashboard counts it
        return queryset.filter(reviewed_at__isnull=False)

    def filter_mine(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """The disagreements on the clients the user works on personally (the
        dashboard's "my" lists)."""
        return queryset.filter(client__in=Client.objects.my_clients(self.user))


class HealthFilter(ScopedFilterSet):
    """The health board's filters; sorting is the board's own (annotated columns)."""

    search_fields = ["name", "sector"]

    team = IdChoiceFilter(queryset=Team.objects.none())
    lead_advisor = IdChoiceFilter(queryset=User.objects.none(), label="Lead advisor")
    sector = filters.ChoiceFilter(choices=[])
    band = filters.ChoiceFilter(field_name="health_band", choices=Band.choices, label="Band")
    # Let-go clients leave the board, its counts and charts; this shows them.
    relationship = filters.ChoiceFilter(
        label="Relationship",
        method="filter_relationship",
        choices=[("let_go", "Let go")],
        empty_label="Current clients",
    )
    attention = filters.ChoiceFilter(
        label="Needs attention",
        method="filter_attention",
        choices=[
            (
                "turned_adversarial",
                f"Turned adversarial in the last {health.NEWLY_ADVERSARIAL_DAYS} days",
            ),
            ("override_ending", f"Override ending within {health.OVERRIDE_ENDING_DAYS} days"),
        ],
    )

    class Meta:
        model = Client
        fields = ["q", "team", "lead_advisor", "sector", "band", "relationship", "attention"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        del self.filters["archived"]  # the board shows active clients only
        self.filters["team"].queryset = Team.objects.visible_to(self.user)
        self.filters["lead_advisor"].queryset = User.objects.visible_to(self.user)
        sectors = (
            Client.objects.visible_to(self.user)
            .exclude(sector="")
            .order_by("sector")
            .values_list("sector", flat=True)
            .distinct()
        )
        self.filters["sector"].extra["choices"] = [(s, s) for s in sectors]

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Current clients unless "Let go" is asked for (a method filter runs
        # only for a value).
        if not self.form.cleaned_data.get("relationship"):
            queryset = queryset.exclude(status=Client.Status.LET_GO)
        return super().filter_queryset(queryset)

    def filter_relationship(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(status=Client.Status.LET_GO)

    def filter_attention(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        """The clients a manager's dashboard lists under the same words."""
        if value == "turned_adversarial":
            return queryset.filter(pk__in=health.turned_adversarial(queryset).values("pk"))
        return queryset.filter(pk__in=health.overrides_ending(queryset).values("client"))
