"""What the API reads and writes. Explicit fields; related records by id.

Choices of related records (lead advisor, team, client, engagement, members)
are limited to what the user may see, with the same rules as the forms in
advisory/forms.py. Writes themselves happen in the views, through the services.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import AnonymousUser
from rest_framework import serializers

from accounts.models import User
from advisory.models import (
    LONG_TEXT,
    NAME_TAKEN,
    Band,
    BandOverride,
    Client,
    Comment,
    Disagreement,
    Engagement,
    LetGoCase,
)
from advisory.records import choices

# --- Building blocks -------------------------------------------------------------


class StrictFieldsMixin:
    """Refuses keys the serializer does not accept.

    A misspelt field, or a read-only one such as `decision` sent to the
    disagreement itself, is reported (400) instead of being silently ignored,
    so a caller never believes it recorded something it did not.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for key in data:
                field = self.fields.get(key)
                if field is None:
                    errors[key] = ["Unknown field."]
                elif field.read_only:
                    errors[key] = ["This field is read-only."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class VersionedUpdateMixin(serializers.Serializer):
    """PATCH of a versioned record: `version` is required (the one the change
    is based on); every other field is optional and only what is sent changes."""

    version = serializers.IntegerField(
        min_value=1,
        help_text="The version this change is based on (from the last read). "
        "If the record has moved on since, nothing is saved and the answer is 409.",
    )
    change_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why the record is changed; kept in its history beside the change.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in fields.items():
            if name != "version" and not field.read_only:
                field.required = False
        return fields


def is_write(serializer: serializers.Serializer) -> bool:
    """Choices only matter when data is being validated, not when reading."""
    return hasattr(serializer, "initial_data")


def request_user(serializer: serializers.Serializer) -> User | AnonymousUser:
    request = serializer.context.get("request")
    return getattr(request, "user", None) or AnonymousUser()


# --- Clients -----------------------------------------------------------------------


class ClientSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    health_band = serializers.ChoiceField(
        choices=Band.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty until the health is first computed.",
    )

    class Meta:
        model = Client
        fields = [
            "id",
            "name",
            "kind",
            "sector",
            "contact_name",
            "contact_email",
            "contact_phone",
            "postal_address",
            "lead_advisor",
            "team",
            "client_since",
            "notes",
            "status",
            "is_archived",
            "health_score",
            "health_band",
            "health_trend",
            "health_updated_at",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "is_archived"]
        extra_kwargs = {
            "lead_advisor": {
                "required": False,
                "help_text": "User id. Defaults to the user creating the client; "
                "an advisor always leads the clients they create.",
            },
            "team": {"help_text": "Team id. Leave out to use the lead advisor's team."},
        }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if not is_write(self):
            return fields
        user = request_user(self)
        client = self.instance if isinstance(self.instance, Client) else None
        fields["lead_advisor"].queryset = choices.lead_choices(
            user, current=client.lead_advisor_id if client else None
        )
        fields["team"].queryset = choices.team_choices(
            user, current=client.team_id if client else None
        )
        return fields

    def validate_name(self, value: str) -> str:
        name = choices.normalise_name(value)
        client = self.instance if isinstance(self.instance, Client) else None
        if choices.name_taken(name, exclude=client.pk if client else None):
            raise serializers.ValidationError(NAME_TAKEN)
        return name


class ClientUpdateSerializer(VersionedUpdateMixin, ClientSerializer):
    class Meta(ClientSerializer.Meta):
        fields = [*ClientSerializer.Meta.fields, "change_reason"]


# --- Engagements -------------------------------------------------------------------


class EngagementSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Engagement
        fields = [
            "id",
            "client",
            "title",
            "service_line",
            "lead_advisor",
            "members",
            "status",
            "start_date",
            "end_date",
            "fee",
            "description",
            "is_archived",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["is_archived"]
        extra_kwargs = {
            "client": {"help_text": "Client id; cannot change once the engagement exists."},
            "lead_advisor": {
                "required": False,
                "help_text": "User id. Defaults to the user creating the engagement.",
            },
            "members": {"help_text": "User ids of the people working on it."},
        }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if not is_write(self):
            return fields
        user = request_user(self)
        engagement = self.instance if isinstance(self.instance, Engagement) else None
        if engagement:
            fields["client"].queryset = Client.objects.filter(pk=engagement.client_id)
            current = [engagement.lead_advisor_id, *(m.pk for m in engagement.members.all())]
        else:
            fields["client"].queryset = choices.clients_open_for_work(user)
            current = []
        fields["lead_advisor"].queryset = choices.with_current(choices.colleagues(user), current)
        fields["members"].child_relation.queryset = choices.with_current(
            choices.colleagues(user), current
        )
        return fields


class EngagementUpdateSerializer(VersionedUpdateMixin, EngagementSerializer):
    class Meta(EngagementSerializer.Meta):
        fields = [*EngagementSerializer.Meta.fields, "change_reason"]


# --- Disagreements -----------------------------------------------------------------

FACT_FIELDS = [
    "engagement",
    "occurred_on",
    "title",
    "topic",
    "client_request",
    "recommendation",
    "rationale",
    "severity",
    "tone",
    "follow_up_on",
]
DECISION_FIELDS = [
    "decision",
    "decided_on",
    "risk_acknowledged",
    "acknowledged_on",
    "acknowledgment_method",
    "client_words",
]
OUTCOME_FIELDS = ["verdict", "outcome", "outcome_recorded_on"]


class DisagreementSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    # Read-only, so DRF would drop `allow_blank` and the schema would not admit "".
    acknowledgment_method = serializers.ChoiceField(
        choices=Disagreement.AcknowledgmentMethod.choices, allow_blank=True, read_only=True
    )
    is_open = serializers.BooleanField(
        source="is_open_item",
        read_only=True,
        help_text=(
            "Still waiting for the client's decision, the acknowledgment or the outcome; "
            "false once the client has been let go (nobody can act on it any more)."
        ),
    )

    class Meta:
        model = Disagreement
        fields = [
            "id",
            *FACT_FIELDS,
            "client",
            "logged_by",
            *DECISION_FIELDS,
            *OUTCOME_FIELDS,
            "is_open",
            "reviewed_at",
            "reviewed_by",
            "is_archived",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [*DECISION_FIELDS, *OUTCOME_FIELDS, "logged_by", "is_archived"]
        extra_kwargs = {
            "engagement": {"help_text": "Engagement id; the client follows from it."},
            "client": {"help_text": "Client id, from the engagement."},
            "logged_by": {"help_text": "User id of whoever logged it."},
        }

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if not is_write(self):
            return fields
        disagreement = self.instance if isinstance(self.instance, Disagreement) else None
        if disagreement:
            fields["engagement"].queryset = Engagement.objects.filter(pk=disagreement.engagement_id)
        else:
            fields["engagement"].queryset = choices.engagements_open_for_work(request_user(self))
        return fields


class DisagreementUpdateSerializer(VersionedUpdateMixin, DisagreementSerializer):
    """After a manager's review the facts are locked: changing one answers 400."""

    class Meta(DisagreementSerializer.Meta):
        fields = [*DisagreementSerializer.Meta.fields, "change_reason"]


class DecisionSerializer(StrictFieldsMixin, serializers.Serializer):
    """The client's decision as a whole: a field left out is recorded empty.

    The acknowledgment belongs to "proceeded against advice" only, in the
    client's own words; nothing here is filled in for the client.
    """

    version = serializers.IntegerField(
        min_value=1, help_text="The disagreement's version this decision is based on."
    )
    decision = serializers.ChoiceField(
        choices=[c for c in Disagreement.Decision.choices if c[0] != Disagreement.Decision.PENDING],
        help_text="The client's decision.",
    )
    decided_on = serializers.DateField(required=False, allow_null=True)
    risk_acknowledged = serializers.BooleanField(
        required=False,
        allow_null=True,
        help_text="Only when the client proceeded against advice; null while not yet known.",
    )
    acknowledged_on = serializers.DateField(required=False, allow_null=True)
    acknowledgment_method = serializers.ChoiceField(
        choices=Disagreement.AcknowledgmentMethod.choices, required=False, allow_blank=True
    )
    client_words = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=LONG_TEXT,
        help_text="The client's acknowledgment quoted exactly (e-mail, letter, minutes).",
    )


class OutcomeSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The disagreement's version this outcome is based on."
    )
    verdict = serializers.ChoiceField(
        choices=Disagreement.Verdict.choices, help_text="Who turned out to be right."
    )
    outcome = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=LONG_TEXT,
        help_text="How it turned out; required once the verdict is not pending.",
    )
    outcome_recorded_on = serializers.DateField(
        required=False, allow_null=True, help_text="Defaults to today."
    )


class CommentSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = ["id", "disagreement", "author", "body", "created_at"]
        read_only_fields = ["disagreement", "author", "created_at"]


# --- Let-go cases ------------------------------------------------------------------


class LetGoDeadlineSerializer(serializers.Serializer):
    """A deadline the client must watch, as the letter states it."""

    description = serializers.CharField(help_text="What the client must do.")
    due_on = serializers.DateField(help_text="By when.")


class LetGoCaseSerializer(serializers.ModelSerializer):
    deadlines = LetGoDeadlineSerializer(
        many=True,
        read_only=True,
        help_text="The deadlines the client must watch, as entered (the letter lists them "
        "soonest first).",
    )

    class Meta:
        model = LetGoCase
        fields = [
            "id",
            "client",
            "proposed_by",
            "proposed_at",
            "reason",
            "justification",
            "evidence",
            "status",
            "decided_by",
            "decided_at",
            "decision_note",
            *LetGoCase.CHECKLIST,
            "notice_days",
            "deadlines",
            "files_note",
            "fees_note",
            "referral_note",
            "letter",
            "letter_choice_pending",
            "completed_by",
            "completed_at",
            "reinstated_by",
            "reinstated_at",
            "reinstatement_reason",
            "version",
        ]
        read_only_fields = fields
        extra_kwargs = {"evidence": {"help_text": "Ids of the disagreements given as evidence."}}


# --- Relationship health -----------------------------------------------------------


class ContributorSerializer(serializers.Serializer):
    """One line of "Why this score": the factors and their product."""

    disagreement = serializers.IntegerField(source="facts.id")
    title = serializers.CharField(source="facts.title")
    occurred_on = serializers.DateField(source="facts.occurred_on")
    age_days = serializers.IntegerField()
    severity_weight = serializers.FloatField()
    tone_factor = serializers.FloatField()
    decision_factor = serializers.FloatField()
    outcome_factor = serializers.FloatField()
    decay = serializers.FloatField(help_text="0.5 ^ (age in days / half-life).")
    friction = serializers.FloatField(help_text="The product of the factors above.")


class BandOverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = BandOverride
        fields = ["band", "reason", "expires_on", "set_by", "set_at"]
        read_only_fields = fields


class HealthSerializer(serializers.Serializer):
    """A client's relationship health today, explained (docs/scoring.md)."""

    client = serializers.IntegerField()
    as_of = serializers.DateField()
    score = serializers.IntegerField(help_text="0 to 100, higher is healthier.")
    band = serializers.ChoiceField(choices=Band.choices, help_text="After the guardrails.")
    computed_band = serializers.ChoiceField(choices=Band.choices, help_text="From the score alone.")
    cap_reason = serializers.CharField(
        help_text="Why a guardrail lowered the band; empty when none did."
    )
    trend = serializers.IntegerField(help_text="Score now minus the score 90 days earlier.")
    total_friction = serializers.FloatField()
    contributor_count = serializers.IntegerField()
    contributors = ContributorSerializer(many=True, help_text="The largest contributions first.")
    override = BandOverrideSerializer(
        allow_null=True,
        help_text="A manager's band in force, shown beside the computed one; null if none.",
    )
