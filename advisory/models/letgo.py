"""Letting a client go: the case, from proposal to offboarding."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import formats, timezone
from simple_history.models import HistoricalRecords

from accounts.models import User
from advisory.models.records import LONG_TEXT, Client, Disagreement, long_text

# The notice a letter may give, in days, and the longest letter Candor keeps.
NOTICE_DAYS_MIN, NOTICE_DAYS_MAX = 1, 365
NOTICE_DAYS_MESSAGE = (
    f"The notice period must be between {NOTICE_DAYS_MIN} and {NOTICE_DAYS_MAX} days."
)
LETTER_LIMIT = 20_000

# What the letter says by default about the client's files and the fees; the
# admin may change either on the case, and the letter is drafted from it.
FILES_DEFAULT = (
    "We will return your original documents and any property we hold for you. "
    "Copies we must keep by law or professional rules will be kept securely for "
    "the required period."
)
FEES_DEFAULT = (
    "We will refund any fees paid for work not yet done, or send a final invoice "
    "for work done up to the effective date."
)


class DeadlinesField(models.JSONField):
    """The deadlines the client must watch, as a list of rows
    {"description": text, "due_on": "YYYY-MM-DD"}, as the admin entered them
    (the letter lists them soonest first). Kept on the case itself, so that
    every change is one attributed entry in the case's history and the
    evidence log."""

    def history_display(self, value: Any) -> str:
        """One line per deadline, dated as on every other page, for the History tab."""
        lines = []
        for row in value or []:
            if not isinstance(row, dict):
                lines.append(str(row))
                continue
            try:
                due = formats.date_format(datetime.date.fromisoformat(row.get("due_on") or ""))
            except (TypeError, ValueError):
                due = "no date"
            lines.append(f"{row.get('description') or '(no description)'}: {due}")
        return "\n".join(lines)


class LetGoCaseQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> LetGoCaseQuerySet:
        """A case is visible with its client."""
        return self.filter(client__in=Client.objects.visible_to(user))

    def open(self) -> LetGoCaseQuerySet:
        return self.filter(status__in=LetGoCase.OPEN_STATUSES)


class LetGoCase(models.Model):
    """A proposal to end a client relationship, the admin's decision, and the
    professional offboarding that follows an approval."""

    class Reason(models.TextChoices):
        OVERRIDDEN_ADVICE = "overridden_advice", "Repeated overridden advice"
        HOSTILE_CONDUCT = "hostile_conduct", "Hostile conduct"
        NON_PAYMENT = "non_payment", "Non-payment"
        ETHICAL_CONFLICT = "ethical_conflict", "Ethical conflict"
        SCOPE_ABUSE = "scope_abuse", "Scope abuse"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved — offboarding"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"
        OFFBOARDED = "offboarded", "Offboarded"

    OPEN_STATUSES = [Status.PROPOSED, Status.APPROVED]
    # The offboarding checklist: field name -> what it asks.
    CHECKLIST = {
        "check_conflicts": "Duty-to-report and conflict obligations consulted",
        "check_notice_sent": "Written notice with a reasonable notice period sent",
        "check_deadlines_stated": "Deadlines the client must watch stated in writing",
        "check_files_returned": "Files and property returned",
        "check_fees_settled": "Unearned fees refunded or final invoice sent",
        "check_engagements_closed": "Open engagements closed",
        "check_referral": "Another firm suggested",
    }

    client = models.ForeignKey(Client, models.PROTECT, related_name="letgo_cases")
    proposed_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=30, choices=Reason)
    justification = long_text("justification")
    evidence = models.ManyToManyField(
        Disagreement, related_name="letgo_cases", verbose_name="disagreements as evidence"
    )
    status = models.CharField(max_length=20, choices=Status, default=Status.PROPOSED)
    decided_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decision_note = long_text("decision note", blank=True)
    check_conflicts = models.BooleanField(CHECKLIST["check_conflicts"], default=False)
    check_notice_sent = models.BooleanField(CHECKLIST["check_notice_sent"], default=False)
    check_deadlines_stated = models.BooleanField(CHECKLIST["check_deadlines_stated"], default=False)
    check_files_returned = models.BooleanField(CHECKLIST["check_files_returned"], default=False)
    check_fees_settled = models.BooleanField(CHECKLIST["check_fees_settled"], default=False)
    check_engagements_closed = models.BooleanField(
        CHECKLIST["check_engagements_closed"], default=False
    )
    check_referral = models.BooleanField(CHECKLIST["check_referral"], default=False)
    referral_note = long_text("referral note", blank=True)
    notice_days = models.PositiveSmallIntegerField(
        "notice period (days)",
        default=30,
        validators=[
            MinValueValidator(NOTICE_DAYS_MIN, NOTICE_DAYS_MESSAGE),
            MaxValueValidator(NOTICE_DAYS_MAX, NOTICE_DAYS_MESSAGE),
        ],
    )
    # The letter is drafted from these fields (letgo.services.draft_letter)
    # each time one of them changes; see letter_draft below.
    deadlines = DeadlinesField(
        "deadlines the client must watch", default=list, blank=True, editable=False
    )
    files_note = models.TextField(
        "what happens to the client's files and property",
        max_length=LONG_TEXT,
        blank=True,
        default=FILES_DEFAULT,
    )
    fees_note = models.TextField(
        "what happens to fees", max_length=LONG_TEXT, blank=True, default=FEES_DEFAULT
    )
    letter = models.TextField("disengagement letter", max_length=LETTER_LIMIT, blank=True)
    # The letter as Candor last drafted it from the fields. `letter` equal to
    # it: not edited by hand, so the next draft replaces it. Different: edited
    # by hand and kept; a newer draft then waits beside it for the admin's
    # choice (`letter_choice_pending`) instead of overwriting it.
    letter_draft = models.TextField(
        "letter as drafted from the case", max_length=LETTER_LIMIT, blank=True, editable=False
    )
    letter_choice_pending = models.BooleanField(
        "a newer draft waits for the admin's choice", default=False, editable=False
    )
    completed_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    reinstated_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    reinstated_at = models.DateTimeField(null=True, blank=True, editable=False)
    reinstatement_reason = long_text("reason for reinstating", blank=True)

    # --- Sending the letter (advisory/letgo/sending.py) ---------------------------
    # How the letter went (or is going) out, to whom and when; the case's
    # history keeps every attempt. `letter_sent_digest` is the SHA-256 of the
    # letter text that went: a letter changed after that is not the one sent.
    class LetterDelivery(models.TextChoices):
        NOT_SENT = "unsent", "Not sent"
        SENDING = "sending", "Being e-mailed"
        EMAILED = "emailed", "E-mailed"
        FAILED = "failed", "E-mail failed"
        POSTED = "posted", "Sent by post"

    letter_delivery = models.CharField(
        "letter sent",
        max_length=20,
        choices=LetterDelivery,
        default=LetterDelivery.NOT_SENT,
        editable=False,
    )
    letter_sent_to = models.TextField(
        "letter sent to", max_length=LONG_TEXT, blank=True, editable=False
    )
    letter_sent_on = models.DateField("letter sent on", null=True, blank=True, editable=False)
    letter_sent_at = models.DateTimeField(
        "letter's e-mail accepted at", null=True, blank=True, editable=False
    )
    letter_sent_by = models.ForeignKey(
        User, models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )
    letter_message_id = models.CharField(
        "letter's e-mail Message-ID", max_length=255, blank=True, editable=False
    )
    letter_sent_digest = models.CharField(
        "SHA-256 of the letter sent", max_length=64, blank=True, editable=False
    )
    letter_send_attempts = models.PositiveSmallIntegerField(
        "letter's e-mail attempts", default=0, editable=False
    )
    letter_send_error = models.CharField(
        "letter's last e-mail failure", max_length=500, blank=True, editable=False
    )
    # --- end of sending the letter -------------------------------------------------

    version = models.PositiveIntegerField(default=1, editable=False)

    history = HistoricalRecords(excluded_fields=["version"], m2m_fields=[evidence])
    objects = LetGoCaseQuerySet.as_manager()

    class Meta:
        ordering = ["-proposed_at", "-pk"]
        verbose_name = "let-go case"
        constraints = [
            models.UniqueConstraint(
                fields=["client"],
                condition=Q(status__in=["proposed", "approved"]),
                name="one_open_letgo_case_per_client",
                violation_error_message="This client already has an open let-go case.",
            )
        ]
        indexes = [models.Index(fields=["status", "-proposed_at"])]

    def __str__(self) -> str:
        return f"Let go {self.client}?"

    def get_absolute_url(self) -> str:
        return reverse("letgo-detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def checklist(self) -> list[tuple[str, str, bool]]:
        return [(name, label, getattr(self, name)) for name, label in self.CHECKLIST.items()]

    @property
    def checklist_complete(self) -> bool:
        return all(getattr(self, name) for name in self.CHECKLIST)

    # --- Sending the letter ---------------------------------------------------------

    @property
    def letter_digest(self) -> str:
        """SHA-256 of the letter's text as it stands (line endings as a form sends them aside)."""
        text = self.letter.replace("\r\n", "\n").strip()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def letter_sent(self) -> bool:
        """The letter as it stands went out: e-mailed (the mail server took
        it) or posted, and not changed since."""
        delivered = self.letter_delivery in (
            self.LetterDelivery.EMAILED,
            self.LetterDelivery.POSTED,
        )
        return delivered and self.letter_sent_digest == self.letter_digest

    def letter_unsent_reason(self) -> str:
        """Why the letter does not count as sent yet ("" once it does): what
        completing the offboarding says until it is."""
        if self.letter_sent:
            return ""
        Delivery = self.LetterDelivery
        how = "record the day it went by post"
        if self.letter_delivery == Delivery.SENDING:
            failed = (
                f" (attempt {self.letter_send_attempts} failed)"
                if self.letter_send_attempts
                else ""
            )
            return (
                f"The letter's e-mail to {self.letter_sent_to} has not gone yet{failed}: "
                f"wait until it has, or {how}."
            )
        if self.letter_delivery == Delivery.FAILED:
            return f"The letter's e-mail to {self.letter_sent_to} failed: send it again, or {how}."
        if self.letter_delivery in (Delivery.EMAILED, Delivery.POSTED):
            return (
                f"The letter was changed after it was sent: send the letter as it is now, or {how}."
            )
        return f"Send the letter first: e-mail it from Candor, or {how}."
