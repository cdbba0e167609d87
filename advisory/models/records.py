"""Candor's records: clients, engagements and the disagreement log.

Every model that is evidence keeps its full history (django-simple-history)
and a `version` for optimistic locking; records are archived, never deleted
through the UI.
"""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.models import Team, User
from accounts.scoping import personally, scope

SHORT_TEXT = 200
LONG_TEXT = 5000

# History keeps who and when itself; these change on every save and would
# only add noise to the History tab.
HISTORY_EXCLUDED = ["version", "updated_at"]


def long_text(verbose_name: str, *, blank: bool = False, help_text: str = "") -> models.TextField:
    return models.TextField(verbose_name, max_length=LONG_TEXT, blank=blank, help_text=help_text)


class Band(models.TextChoices):
    HEALTHY = "healthy", "Healthy"
    STRAINED = "strained", "Strained"
    ADVERSARIAL = "adversarial", "Adversarial"


# --- Clients -----------------------------------------------------------------

# Client names are unique firm-wide (duplicates are worse than the nuisance),
# so a taken name must not tell an advisor which team, if any they can't see,
# has that client: one message, whoever asks and however (form, API, import).
NAME_TAKEN = (
    "That name is already in use in the firm; ask an admin if you believe this is your client."
)


class ClientQuerySet(models.QuerySet):
    # The ways a person works on a client personally.
    PEOPLE = ["lead_advisor", "engagements__lead_advisor", "engagements__members"]

    def visible_to(self, user: User) -> ClientQuerySet:
        """Advisors: clients they lead or whose engagements they lead or work on.
        Managers: also every client of the teams they manage. Admins: all."""
        return scope(self, user, team="team", people=self.PEOPLE)

    def active(self) -> ClientQuerySet:
        return self.filter(is_archived=False)

    def open_for_work(self) -> ClientQuerySet:
        """Clients that can take new engagements and disagreements: not
        archived, not let go."""
        return self.active().exclude(status=Client.Status.LET_GO)

    def personal_to(self, user: User) -> ClientQuerySet:
        """The clients a user works on personally, whatever their role."""
        return self.filter(personally(self.model, user, self.PEOPLE))

    def my_clients(self, user: User) -> ClientQuerySet:
        """The dashboard's "my clients": in scope, worked on personally, and
        open for work (not archived, not let go: a client let go is no longer
        anyone's to work on; the client list's status filter finds it)."""
        return self.visible_to(user).personal_to(user).open_for_work()


class Client(models.Model):
    class Kind(models.TextChoices):
        ORGANIZATION = "organization", "Organization"
        INDIVIDUAL = "individual", "Individual"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        LETGO_PROPOSED = "letgo_proposed", "Let-go proposed"
        FLAGGED = "flagged", "Flagged to let go"
        LET_GO = "let_go", "Let go"

    name = models.CharField(max_length=SHORT_TEXT)
    kind = models.CharField(max_length=20, choices=Kind, default=Kind.ORGANIZATION)
    sector = models.CharField(max_length=100, blank=True)
    contact_name = models.CharField("primary contact", max_length=SHORT_TEXT, blank=True)
    contact_email = models.EmailField("contact e-mail", blank=True)
    contact_phone = models.CharField("contact phone", max_length=50, blank=True)
    postal_address = models.TextField(
        "postal address",
        max_length=500,
        blank=True,
        help_text="Where letters go: the disengagement letter's PDF shows it.",
    )
    lead_advisor = models.ForeignKey(User, models.PROTECT, related_name="led_clients")
    team = models.ForeignKey(
        Team,
        models.PROTECT,
        related_name="clients",
        blank=True,
        help_text="Leave empty to use the lead advisor's team.",
    )
    client_since = models.DateField(null=True, blank=True)
    notes = long_text("notes", blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.ACTIVE)
    # Denormalised relationship health, kept current by the scoring service.
    health_score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    health_band = models.CharField(max_length=20, choices=Band, blank=True, editable=False)
    health_trend = models.SmallIntegerField(
        null=True, blank=True, editable=False, help_text="Score now minus score 90 days earlier."
    )
    health_updated_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_archived = models.BooleanField("archived", default=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)
    # Tracked, but refreshed in place by health.services without a history
    # entry (derived numbers, not evidence): the log's check that a record
    # equals its latest entry leaves them out.
    DERIVED_FIELDS = ("health_score", "health_band", "health_trend", "health_updated_at")
    objects = ClientQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="client_name_unique_ci",
                violation_error_message=NAME_TAKEN,
            ),
        ]
        indexes = [
            models.Index(fields=["team", "is_archived"]),
            models.Index(fields=["health_band", "health_score"]),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("client-detail", args=[self.pk])

    def get_log_disagreement_url(self) -> str:
        return f"{reverse('disagreement-create')}?client={self.pk}"

    @property
    def is_read_only(self) -> bool:
        """Archived, or let go: nothing is changed or added until restored."""
        return self.is_archived or self.status == self.Status.LET_GO

    def clean(self) -> None:
        if self.client_since and self.client_since > timezone.localdate():
            raise ValidationError({"client_since": "The date cannot be in the future."})


# --- Engagements -------------------------------------------------------------


class EngagementQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> EngagementQuerySet:
        """An engagement is visible with its client."""
        return self.filter(client__in=Client.objects.visible_to(user))

    def active(self) -> EngagementQuerySet:
        return self.filter(is_archived=False)

    def open_for_work(self) -> EngagementQuerySet:
        """Engagements a disagreement can be logged on: not archived, and their
        client neither archived nor let go."""
        return (
            self.active()
            .filter(client__is_archived=False)
            .exclude(client__status=Client.Status.LET_GO)
        )


# Kept at module level so the service can write one history entry for a save
# that changes both fields and members (simple-history alone writes one per
# save and one per add or remove).
ENGAGEMENT_HISTORY = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED, m2m_fields=["members"])


class Engagement(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        ACTIVE = "active", "Active"
        ON_HOLD = "on_hold", "On hold"
        COMPLETED = "completed", "Completed"
        TERMINATED = "terminated", "Terminated"

    client = models.ForeignKey(Client, models.PROTECT, related_name="engagements")
    title = models.CharField(max_length=SHORT_TEXT)
    service_line = models.CharField(max_length=100, blank=True)
    lead_advisor = models.ForeignKey(User, models.PROTECT, related_name="led_engagements")
    members = models.ManyToManyField(User, related_name="engagements", blank=True)
    status = models.CharField(max_length=20, choices=Status, default=Status.ACTIVE)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    fee = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0, "The fee cannot be negative.")],
    )
    description = long_text("description", blank=True)
    is_archived = models.BooleanField("archived", default=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = ENGAGEMENT_HISTORY
    objects = EngagementQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "title", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fee__isnull=True) | Q(fee__gte=0),
                name="engagement_fee_not_negative",
                violation_error_message="The fee cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=F("start_date")),
                name="engagement_ends_after_start",
                violation_error_message="The end date cannot be before the start date.",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["lead_advisor", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.client} · {self.title}" if self.client_id else self.title

    def get_absolute_url(self) -> str:
        return reverse("engagement-detail", args=[self.pk])

    def get_log_disagreement_url(self) -> str:
        return f"{reverse('disagreement-create')}?engagement={self.pk}"

    @property
    def is_read_only(self) -> bool:
        return self.is_archived or self.client.status == Client.Status.LET_GO

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "The end date cannot be before the start date."})


# --- Disagreements -----------------------------------------------------------


# "Coming up" for follow-ups: today and the next this many days.
FOLLOW_UP_DAYS = 7


class DisagreementQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> DisagreementQuerySet:
        """A disagreement is visible with its client."""
        return self.filter(client__in=Client.objects.visible_to(user))

    def active(self) -> DisagreementQuerySet:
        return self.filter(is_archived=False)

    def open_for_work(self) -> DisagreementQuerySet:
        """Disagreements someone can still act on: not archived, and their
        client neither archived nor let go."""
        return (
            self.active()
            .filter(client__is_archived=False)
            .exclude(client__status=Client.Status.LET_GO)
        )

    # The open items: each of these, like open(), leaves out the disagreements
    # of a client let go. The let-go ended what they waited for; their records
    # stay as they were (services.letgo_complete).

    def awaiting_decision(self) -> DisagreementQuerySet:
        return self.filter(Disagreement.awaiting_decision_q())

    def awaiting_acknowledgment(self) -> DisagreementQuerySet:
        return self.filter(Disagreement.awaiting_acknowledgment_q())

    def awaiting_outcome(self) -> DisagreementQuerySet:
        return self.filter(
            NOT_LET_GO,
            decision__in=Disagreement.DECISIONS_WITH_OUTCOME,
            verdict=Disagreement.Verdict.PENDING,
        )

    def follow_up_due(self, *, within_days: int = 0) -> DisagreementQuerySet:
        """Open disagreements whose follow-up date is today or earlier (or within N days)."""
        horizon = timezone.localdate() + datetime.timedelta(days=within_days)
        return self.open().filter(follow_up_on__lte=horizon)

    def follow_up_overdue(self) -> DisagreementQuerySet:
        """Open disagreements whose follow-up date has passed."""
        return self.filter(Disagreement.follow_up_overdue_q())

    def follow_up_coming(self) -> DisagreementQuerySet:
        """Open disagreements to follow up today or in the next FOLLOW_UP_DAYS days."""
        return self.filter(Disagreement.follow_up_coming_q())

    def awaiting_review(self) -> DisagreementQuerySet:
        """Not yet reviewed by a manager (review locks the facts), on a client
        not let go (whose log can no longer be reviewed)."""
        return self.filter(NOT_LET_GO, reviewed_at__isnull=True)

    def with_ranks(self) -> DisagreementQuerySet:
        """`severity_rank` and `tone_rank`, so sorting goes by weight, not alphabetically."""

        def rank(field: str, choices) -> models.Case:
            whens = [models.When(**{field: v}, then=i) for i, v in enumerate(choices.values)]
            return models.Case(*whens, output_field=models.IntegerField())

        return self.annotate(
            severity_rank=rank("severity", Disagreement.Severity),
            tone_rank=rank("tone", Disagreement.Tone),
        )

    def open(self) -> DisagreementQuerySet:
        """Anything still waiting for the client, the acknowledgment or the
        outcome, on a client not let go."""
        return self.filter(Disagreement.open_q())

    def closed(self) -> DisagreementQuerySet:
        """Everything else, a let-go client's whole log included."""
        return self.exclude(Disagreement.open_q())


# What "open" means (Disagreement.open_q()): still waiting for the client's
# decision, the acknowledgment of a decision against advice, or the outcome.
# Written with the stored values so that the partial index on open
# disagreements (Disagreement.Meta) can use it before the class exists.
DISAGREEMENT_OPEN = (
    Q(decision="pending")
    | (Q(decision="proceeded") & ~Q(risk_acknowledged=True))
    | Q(decision__in=["accepted", "compromise", "proceeded"], verdict="pending")
)
# ... and the client has not been let go: nobody can act on its log any more.
NOT_LET_GO = ~Q(client__status="let_go")


class Disagreement(models.Model):
    class Topic(models.TextChoices):
        SCOPE = "scope", "Scope"
        FEES = "fees", "Fees & billing"
        TIMELINE = "timeline", "Timeline"
        APPROACH = "approach", "Approach"
        RISK = "risk", "Risk & compliance"
        ETHICS = "ethics", "Ethics"
        STAFFING = "staffing", "Staffing"
        COMMUNICATION = "communication", "Communication"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MODERATE = "moderate", "Moderate"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Tone(models.TextChoices):
        COLLABORATIVE = "collaborative", "Collaborative"
        TENSE = "tense", "Tense"
        HOSTILE = "hostile", "Hostile"

    class Decision(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted advice"
        COMPROMISE = "compromise", "Compromise"
        PROCEEDED = "proceeded", "Proceeded against advice"
        WITHDREW = "withdrew", "Withdrew request"

    class AcknowledgmentMethod(models.TextChoices):
        EMAIL = "email", "E-mail"
        SIGNED_LETTER = "signed_letter", "Signed letter"
        MEETING_MINUTES = "meeting_minutes", "Meeting minutes"
        VERBAL = "verbal", "Verbal"

    class Verdict(models.TextChoices):
        PENDING = "pending", "Pending"
        ADVICE_VINDICATED = "advice_vindicated", "Advice vindicated"
        CLIENT_VINDICATED = "client_vindicated", "Client vindicated"
        MIXED = "mixed", "Mixed"
        INCONCLUSIVE = "inconclusive", "Inconclusive"

    # Decisions after which there is an outcome to wait for.
    DECISIONS_WITH_OUTCOME = [Decision.ACCEPTED, Decision.COMPROMISE, Decision.PROCEEDED]
    # The facts a manager's review locks; corrections become amendments.
    LOCKED_FACTS = ["client_request", "recommendation", "occurred_on", "severity", "tone"]

    engagement = models.ForeignKey(Engagement, models.PROTECT, related_name="disagreements")
    # Denormalised from the engagement (always equal) so lists and health
    # scoring filter by client without a join.
    client = models.ForeignKey(Client, models.PROTECT, related_name="disagreements", editable=False)
    logged_by = models.ForeignKey(User, models.PROTECT, related_name="logged_disagreements")
    occurred_on = models.DateField("occurred on")
    title = models.CharField("short title", max_length=SHORT_TEXT)
    topic = models.CharField(max_length=20, choices=Topic)
    client_request = long_text("Client's request", help_text="In the client's own words.")
    recommendation = long_text("Our recommendation")
    rationale = long_text("Rationale and risks explained", blank=True)
    severity = models.CharField(
        "Severity",
        max_length=20,
        choices=Severity,
        help_text="The harm if the client's route goes wrong.",
    )
    tone = models.CharField(
        "Tone", max_length=20, choices=Tone, help_text="How the conversation went."
    )
    decision = models.CharField(
        "Client's decision", max_length=20, choices=Decision, default=Decision.PENDING
    )
    decided_on = models.DateField("decided on", null=True, blank=True)
    risk_acknowledged = models.BooleanField(
        "Risk acknowledged by the client", null=True, blank=True
    )
    acknowledged_on = models.DateField("acknowledged on", null=True, blank=True)
    acknowledgment_method = models.CharField(
        "acknowledged how", max_length=20, choices=AcknowledgmentMethod, blank=True
    )
    client_words = long_text("The client's own words", blank=True)
    outcome = long_text("outcome", blank=True)
    verdict = models.CharField(max_length=20, choices=Verdict, default=Verdict.PENDING)
    outcome_recorded_on = models.DateField("outcome recorded on", null=True, blank=True)
    follow_up_on = models.DateField("follow-up date", null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    is_archived = models.BooleanField("archived", default=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=HISTORY_EXCLUDED)
    objects = DisagreementQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_on__isnull=True) | Q(decided_on__gte=F("occurred_on")),
                name="disagreement_decided_after_occurred",
                violation_error_message="The decision cannot come before the disagreement.",
            ),
            models.CheckConstraint(
                condition=Q(outcome_recorded_on__isnull=True)
                | Q(outcome_recorded_on__gte=F("occurred_on")),
                name="disagreement_outcome_after_occurred",
                violation_error_message="The outcome cannot come before the disagreement.",
            ),
        ]
        indexes = [
            models.Index(fields=["client", "-occurred_on"]),
            models.Index(fields=["engagement", "-occurred_on"]),
            models.Index(fields=["logged_by", "-occurred_on"]),
            models.Index(fields=["-occurred_on", "-id"]),
            models.Index(fields=["decision", "verdict"]),
            models.Index(
                fields=["follow_up_on"],
                condition=Q(follow_up_on__isnull=False, is_archived=False),
                name="disagreement_follow_up_idx",
            ),
            # Open items and follow-ups per client (home pages, reminders):
            # a small fraction of a long log.
            models.Index(
                fields=["client", "follow_up_on"],
                condition=DISAGREEMENT_OPEN & Q(is_archived=False),
                name="disagreement_open_idx",
            ),
            # The list's usual filters within a scope of clients: lets the
            # database count matches from the index alone (docs/performance.md,
            # "Measured reasons in the code").
            models.Index(
                fields=["client", "severity", "tone", "decision"],
                condition=Q(is_archived=False),
                name="disagreement_filters_idx",
            ),
        ]
        permissions = [("review_disagreement", "Can mark a disagreement reviewed")]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        if self.engagement_id:
            self.client_id = self.engagement.client_id
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("disagreement-detail", args=[self.pk])

    @staticmethod
    def open_q() -> Q:
        """An open item: DISAGREEMENT_OPEN, on a client not let go (a join)."""
        return DISAGREEMENT_OPEN & NOT_LET_GO

    # The open items a person works from, as conditions: each is a filter of
    # DisagreementQuerySet and, in one query, a conditional count of several
    # (the dashboard's panels: records.selectors.waiting_on).

    @staticmethod
    def awaiting_decision_q() -> Q:
        return NOT_LET_GO & Q(decision=Disagreement.Decision.PENDING)

    @staticmethod
    def awaiting_acknowledgment_q() -> Q:
        return NOT_LET_GO & Q(decision=Disagreement.Decision.PROCEEDED) & ~Q(risk_acknowledged=True)

    @staticmethod
    def follow_up_overdue_q() -> Q:
        """Open, and the follow-up date has passed."""
        return Disagreement.open_q() & Q(follow_up_on__lt=timezone.localdate())

    @staticmethod
    def follow_up_coming_q() -> Q:
        """Open, to follow up today or in the next FOLLOW_UP_DAYS days."""
        today = timezone.localdate()
        horizon = today + datetime.timedelta(days=FOLLOW_UP_DAYS)
        return Disagreement.open_q() & Q(follow_up_on__gte=today, follow_up_on__lte=horizon)

    def clean_fields(self, exclude=None) -> None:
        # A relation whose record is loaded on this instance (the form's
        # engagement, read through the user's scope; the user logging it) is
        # not looked up again to prove that it exists: it was read from the
        # database, and the foreign key still refuses an id gone since.
        loaded = {
            field.name
            for field in self._meta.concrete_fields
            if field.is_relation
            and not field.remote_field.limit_choices_to  # which only the lookup checks
            and getattr(self, field.attname) is not None
            and getattr(field.get_cached_value(self, None), field.target_field.attname, None)
            == getattr(self, field.attname)
        }
        super().clean_fields(exclude={*(exclude or ()), *loaded})

    def clean(self) -> None:
        errors: dict[str, str] = {}
        today = timezone.localdate()
        if self.occurred_on and self.occurred_on > today:
            errors["occurred_on"] = "The date cannot be in the future."
        for field in ("decided_on", "acknowledged_on", "outcome_recorded_on"):
            value = getattr(self, field)
            if value and self.occurred_on and value < self.occurred_on:
                errors[field] = "This cannot be before the disagreement occurred."
            elif value and value > today:
                errors[field] = "The date cannot be in the future."
        if self.follow_up_on and self.occurred_on and self.follow_up_on < self.occurred_on:
            errors["follow_up_on"] = "The follow-up cannot be before the disagreement occurred."
        if self.decision == self.Decision.PENDING and self.decided_on:
            errors["decided_on"] = "Leave this empty while the decision is pending."
        if self.decision != self.Decision.PROCEEDED and self._acknowledgment_given():
            errors["risk_acknowledged"] = (
                "An acknowledgment of risk only applies when the client proceeded against advice."
            )
        if self.risk_acknowledged:
            for field, message in [
                ("acknowledged_on", "Say when the client acknowledged the risk."),
                ("acknowledgment_method", "Say how the client acknowledged the risk."),
                ("client_words", "Quote the client's acknowledgment in their own words."),
            ]:
                if not getattr(self, field):
                    errors.setdefault(field, message)
        if self.verdict != self.Verdict.PENDING and not self.outcome.strip():
            errors["outcome"] = "Describe how it turned out."
        if errors:
            raise ValidationError(errors)

    def _acknowledgment_given(self) -> bool:
        return (
            self.risk_acknowledged is not None
            or self.acknowledged_on is not None
            or bool(self.acknowledgment_method)
            or bool(self.client_words)
        )

    # Open items, from this row alone.
    @property
    def awaiting_decision(self) -> bool:
        return self.decision == self.Decision.PENDING

    @property
    def awaiting_acknowledgment(self) -> bool:
        return self.decision == self.Decision.PROCEEDED and self.risk_acknowledged is not True

    @property
    def awaiting_outcome(self) -> bool:
        return self.decision in self.DECISIONS_WITH_OUTCOME and self.verdict == self.Verdict.PENDING

    @property
    def follow_up_due(self) -> bool:
        return (
            self.is_open
            and self.follow_up_on is not None
            and self.follow_up_on <= timezone.localdate()
        )

    @property
    def is_open(self) -> bool:
        return self.awaiting_decision or self.awaiting_acknowledgment or self.awaiting_outcome

    @property
    def is_open_item(self) -> bool:
        """Open, and its client not let go: still waiting on someone, as
        DisagreementQuerySet.open() counts it. Reads the client: load it with
        the row (select_related) in a list."""
        return self.is_open and self.client.status != Client.Status.LET_GO

    @property
    def is_reviewed(self) -> bool:
        return self.reviewed_at is not None

    @property
    def is_read_only(self) -> bool:
        return self.is_archived or self.client.status == Client.Status.LET_GO


class Amendment(models.Model):
    """A correction to a fact locked by review, shown beside the original."""

    disagreement = models.ForeignKey(Disagreement, models.PROTECT, related_name="amendments")
    field = models.CharField(max_length=50)
    old_value = models.TextField()
    new_value = models.TextField()
    reason = models.TextField(max_length=LONG_TEXT)
    amended_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    amended_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["amended_at", "pk"]

    def __str__(self) -> str:
        return f"{self.field} amended on {self.disagreement}"

    @property
    def field_label(self) -> str:
        return Disagreement._meta.get_field(self.field).verbose_name


class Comment(models.Model):
    """A manager's review note (or the logging advisor's reply) on a disagreement."""

    disagreement = models.ForeignKey(Disagreement, models.PROTECT, related_name="comments")
    author = models.ForeignKey(User, models.PROTECT, related_name="+")
    body = long_text("comment")
    created_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Comment by {self.author} on {self.disagreement}"


def evidence_path(instance: EvidenceFile, filename: str) -> str:
    # The stored name is random; the original name is kept in a field and
    # restored on download.
    return f"evidence/{instance.disagreement_id}/{uuid.uuid4().hex}"


class EvidenceFile(models.Model):
    disagreement = models.ForeignKey(Disagreement, models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=evidence_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    description = models.CharField(max_length=SHORT_TEXT, blank=True)
    uploaded_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["uploaded_at", "pk"]
        verbose_name = "evidence file"

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("evidence-download", args=[self.pk])


class EvidenceCheck(models.Model):
    """The last comparison of an evidence file's stored bytes with the SHA-256
    recorded at upload (advisory.evidence.integrity: downloads, the evidence
    pack and `verify_log` make it). An observation about the storage, not part
    of the record, so not history-tracked: the file's own entry is untouched."""

    class Result(models.TextChoices):
        MATCH = "match", "Matches its SHA-256"
        CHANGED = "changed", "Changed since upload"
        MISSING = "missing", "Missing from storage"

    evidence = models.OneToOneField(
        EvidenceFile, models.CASCADE, primary_key=True, related_name="integrity"
    )
    result = models.CharField(max_length=10, choices=Result)
    found_sha256 = models.CharField(max_length=64, blank=True)  # of the bytes found, if any
    checked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.evidence_id}: {self.result}"

    @property
    def failed(self) -> bool:
        return self.result != self.Result.MATCH
