"""Forms for the log. Choices are always limited to what the user may see."""

from __future__ import annotations

import datetime

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Fieldset, Layout
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.text import capfirst

from accounts.models import User
from advisory.evidence.files import ACCEPT, MAX_EVIDENCE_BYTES, evidence_content_type, format_size
from advisory.letgo import services as letgo_services
from advisory.models import (
    NAME_TAKEN,
    SHORT_TEXT,
    Band,
    Client,
    Disagreement,
    Engagement,
    LetGoCase,
)
from advisory.models.letgo import (
    LETTER_LIMIT,
    NOTICE_DAYS_MAX,
    NOTICE_DAYS_MESSAGE,
    NOTICE_DAYS_MIN,
)
from advisory.records import choices
from advisory.transfer import imports
from advisory.web.ids import MAX_ID

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ModelMultipleChoices(forms.ModelMultipleChoiceField):
    """Refuses an id no column can hold as an invalid choice: Django's `__in`
    lookup would hand it to the database, which fails (SQLite: OverflowError)."""

    def _check_values(self, value) -> QuerySet:
        for pk in value:
            text = str(pk).strip().removeprefix("-").removeprefix("+")
            if text.isascii() and text.isdigit() and (len(text) > 19 or int(text) > MAX_ID):
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": pk},
                )
        return super()._check_values(value)


class HiddenFieldErrors:
    """A hidden field's error (a missing or garbled `version`) has no place on
    the page: say what to do for the whole form instead of failing silently."""

    def clean(self) -> dict:
        cleaned = super().clean()
        if any(self.fields[name].widget.is_hidden for name in self.errors if name in self.fields):
            self.add_error(
                None,
                "This page's form was incomplete or out of date: reload the page and try again.",
            )
        return cleaned


class VersionedForm(HiddenFieldErrors, forms.ModelForm):
    """A record form that carries the version it was opened at (optimistic
    locking) and, when editing, the reason for the change."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(
        label="Reason for this change",
        required=False,
        max_length=500,
        help_text="Kept in the record's history beside the change.",
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            self.fields["version"].initial = self.instance.version
            self.fields["version"].required = True
        else:
            del self.fields["change_reason"]

    def _update_errors(self, errors: ValidationError) -> None:
        # A model rule about a field this form doesn't show (editing the date
        # of a disagreement already decided) is reported for the whole form.
        if hasattr(errors, "error_dict"):
            moved: dict[str, list] = {}
            for field, field_errors in errors.error_dict.items():
                if field == NON_FIELD_ERRORS or field in self.fields:
                    moved.setdefault(field, []).extend(field_errors)
                else:
                    label = capfirst(self._meta.model._meta.get_field(field).verbose_name)
                    moved.setdefault(NON_FIELD_ERRORS, []).extend(
                        ValidationError(f"{label}: {message}")
                        for error in field_errors
                        for message in error.messages
                    )
            errors = ValidationError(moved)
        super()._update_errors(errors)


class ClientForm(VersionedForm):
    class Meta:
        model = Client
        fields = [
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
        ]
        widgets = {
            "client_since": DATE,
            "postal_address": forms.Textarea(attrs={"rows": 3}),
            "notes": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        existing = self.instance.pk is not None
        lead = self.instance.lead_advisor_id if existing else None
        team = self.instance.team_id if existing else None
        self.fields["lead_advisor"].queryset = choices.lead_choices(user, current=lead)
        self.fields["team"].queryset = choices.team_choices(user, current=team)
        if existing and not choices.may_reassign(user):
            self.fields["lead_advisor"].disabled = True
            self.fields["team"].disabled = True
        if not existing:
            self.fields["lead_advisor"].initial = user.pk

    def clean_name(self) -> str:
        name = choices.normalise_name(self.cleaned_data["name"])
        if choices.name_taken(name, exclude=self.instance.pk):
            raise forms.ValidationError(NAME_TAKEN)
        return name


class EngagementForm(VersionedForm):
    class Meta:
        model = Engagement
        fields = [
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
        ]
        widgets = {
            "start_date": DATE,
            "end_date": DATE,
            "description": forms.Textarea(attrs={"rows": 4}),
            "members": forms.SelectMultiple(attrs={"size": 6}),
        }
        help_texts = {"members": "Hold Ctrl (⌘ on a Mac) to choose several."}
        field_classes = {"members": ModelMultipleChoices}

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        clients = choices.clients_open_for_work(user)
        if self.instance.pk:
            clients = Client.objects.filter(pk=self.instance.client_id)
            self.fields["client"].disabled = True
        self.fields["client"].queryset = clients
        people = choices.colleagues(user)
        current = (
            [self.instance.lead_advisor_id, *self.instance.members.values_list("pk", flat=True)]
            if self.instance.pk
            else []
        )
        # The current lead and members stay choosable even if the editor
        # can't otherwise see them, so a save never drops anyone silently.
        self.fields["lead_advisor"].queryset = choices.with_current(people, current)
        self.fields["members"].queryset = choices.with_current(people, current)
        if not self.instance.pk:
            self.fields["lead_advisor"].initial = user.pk


YES_NO = [("", "Not yet known"), ("True", "Yes"), ("False", "No")]
DECISION_FIELDS = [
    "decision",
    "decided_on",
    "risk_acknowledged",
    "acknowledged_on",
    "acknowledgment_method",
    "client_words",
]
DECISION_WIDGETS = {
    "decided_on": DATE,
    "acknowledged_on": DATE,
    "client_words": forms.Textarea(attrs={"rows": 3}),
}
DECISION_HELP = {
    "client_words": "Quote the client exactly (e-mail, letter, minutes). Never paraphrase.",
}


def risk_acknowledged_field() -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label="Risk acknowledged by the client",
        choices=YES_NO,
        coerce=lambda value: value == "True",
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        help_text="Only when the client proceeded against advice.",
    )


def decision_layout() -> list:
    """The decision, then the acknowledgment in a fieldset of its own, which
    static/js/disagreement.js hides (and disables, so nothing hidden is sent)
    unless the client proceeded against advice; without JavaScript it stays
    visible and the model's rules say what does not belong."""
    return [
        "decision",
        "decided_on",
        Fieldset(
            "If the client proceeded against advice",
            "risk_acknowledged",
            "acknowledged_on",
            "acknowledgment_method",
            "client_words",
            css_class="acknowledgment border rounded p-3 mb-3",
        ),
    ]


class DisagreementForm(VersionedForm):
    """Log or edit a disagreement. After review the facts are read-only here."""

    class Meta:
        model = Disagreement
        fields = [
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
        widgets = {
            "occurred_on": DATE,
            "follow_up_on": DATE,
            "client_request": forms.Textarea(attrs={"rows": 4}),
            "recommendation": forms.Textarea(attrs={"rows": 4}),
            "rationale": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user: User, client: Client | None = None, **kwargs) -> None:
        super().__init__(*args, user=user, **kwargs)
        field = self.fields["engagement"]
        if self.instance.pk:
            field.queryset = Engagement.objects.filter(pk=self.instance.engagement_id)
            field.disabled = True
        else:
            engagements = choices.engagements_open_for_work(user).select_related("client")
            if client is not None:
                engagements = engagements.filter(client=client)
            field.queryset = engagements
            field.label_from_instance = lambda e: f"{e.client.name} — {e.title}"
            self.fields["occurred_on"].initial = timezone.localdate()
        if self.instance.is_reviewed:
            for name in Disagreement.LOCKED_FACTS:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Locked since the manager's review; amend it instead."


class DisagreementLogForm(DisagreementForm):
    """Log a disagreement in one pass: the facts and, when the client has
    already decided (often in the same meeting), the decision and the
    acknowledgment. Without a client chosen, the engagement is found with
    the picker (`picker`, see records.choices.engagement_picker)."""

    risk_acknowledged = risk_acknowledged_field()

    class Meta(DisagreementForm.Meta):
        fields = [*DisagreementForm.Meta.fields, *DECISION_FIELDS]
        widgets = {**DisagreementForm.Meta.widgets, **DECISION_WIDGETS}
        help_texts = DECISION_HELP

    def __init__(self, *args, picker: choices.EngagementPicker | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.picker = picker
        decision = self.fields["decision"]
        decision.label = "The client's decision"
        decision.choices = [
            (value, "Not decided yet" if value == Disagreement.Decision.PENDING else label)
            for value, label in Disagreement.Decision.choices
        ]
        decision.required = False  # not sent (the API's form, older pages): not decided yet
        engagement = (
            Field("engagement", template="advisory/_engagement_picker.html")
            if picker is not None
            else "engagement"
        )
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            "version",
            engagement,
            *[name for name in DisagreementForm.Meta.fields if name != "engagement"],
            Fieldset(
                "If the client has already decided",
                *decision_layout(),
                css_class="border-top pt-3",
            ),
        )

    def validate_constraints(self) -> None:
        """The dates' check constraints are not asked of the database (three
        queries per log): Disagreement.clean applies the same rules first,
        with messages at the fields, and the constraints still guard the row."""

    def clean_decision(self) -> str:
        return self.cleaned_data["decision"] or Disagreement.Decision.PENDING

    def clean(self) -> dict:
        cleaned = super().clean()
        decided = cleaned.get("decision") not in (None, Disagreement.Decision.PENDING)
        if decided and not cleaned.get("decided_on") and "decided_on" not in self.errors:
            self.add_error("decided_on", "Say when the client decided.")
        return cleaned


class DecisionForm(HiddenFieldErrors, forms.ModelForm):
    """Record the client's decision; the acknowledgment only when they
    proceeded against advice. Nothing here is pre-filled for the client."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    risk_acknowledged = risk_acknowledged_field()

    class Meta:
        model = Disagreement
        fields = DECISION_FIELDS
        widgets = DECISION_WIDGETS
        help_texts = DECISION_HELP

    def __init__(self, *args, **kwargs) -> None:
        # Its own ids: the disagreement page shows it beside the outcome form.
        kwargs.setdefault("auto_id", "decision-%s")
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version
        self.fields["decision"].choices = [("", "Choose the client's decision")] + [
            c for c in Disagreement.Decision.choices if c[0] != Disagreement.Decision.PENDING
        ]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout("version", *decision_layout())
        if not self.instance.decided_on:
            self.initial["decided_on"] = timezone.localdate()


class OutcomeForm(HiddenFieldErrors, forms.ModelForm):
    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Disagreement
        fields = ["verdict", "outcome", "outcome_recorded_on"]
        widgets = {
            "outcome_recorded_on": DATE,
            "outcome": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"verdict": "Who was right?", "outcome": "How it turned out"}

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "outcome-%s")  # beside the decision form, see there
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version
        if not self.instance.outcome_recorded_on:
            self.initial["outcome_recorded_on"] = timezone.localdate()


class AmendmentForm(HiddenFieldErrors, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    field = forms.ChoiceField(
        label="Fact to correct",
        choices=[
            (name, Disagreement._meta.get_field(name).verbose_name.capitalize())
            for name in Disagreement.LOCKED_FACTS
        ],
    )
    new_value = forms.CharField(
        label="Corrected value",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="Dates as YYYY-MM-DD; severity low/moderate/high/critical; "
        "tone collaborative/tense/hostile.",
    )
    reason = forms.CharField(
        label="Reason for the correction",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
    )

    def clean_new_value(self) -> str:
        return self.cleaned_data["new_value"].strip()


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class ArchiveForm(HiddenFieldErrors, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    archive = forms.BooleanField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(label="Reason", required=False, max_length=500)


class BandOverrideForm(forms.Form):
    """A manager's band for a client, with a reason and an expiry; never pre-filled."""

    band = forms.ChoiceField(choices=[("", "Choose a band"), *Band.choices])
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        help_text="Shown beside the computed score to everyone who sees this client.",
    )
    expires_on = forms.DateField(
        label="Expires on", widget=DATE, help_text="The override lapses by itself after this day."
    )

    def clean_expires_on(self) -> datetime.date:
        expires_on = self.cleaned_data["expires_on"]
        if expires_on < timezone.localdate():
            raise forms.ValidationError("The expiry date cannot be in the past.")
        return expires_on


class LetGoProposalForm(forms.Form):
    reason = forms.ChoiceField(choices=[("", "Choose a reason"), *LetGoCase.Reason.choices])
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
        help_text="What the admin deciding the case needs to know, in your own words.",
    )
    evidence = ModelMultipleChoices(
        queryset=Disagreement.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Disagreements as evidence",
        help_text="Choose from this client's log.",
    )

    def __init__(self, *args, client: Client, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["evidence"]
        field.queryset = client.disagreements.active().order_by("-occurred_on", "-pk")
        field.label_from_instance = lambda d: (
            f"{d.occurred_on:%d %b %Y} — {d.title} ({d.get_severity_display()}, "
            f"{d.get_tone_display()}, {d.get_decision_display()})"
        )


class LetGoDecisionForm(HiddenFieldErrors, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        label="Decision note",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
        help_text="Required when declining; shown to the proposer and the lead advisor.",
    )


class OffboardingForm(HiddenFieldErrors, forms.ModelForm):
    """The checklist, the fields the letter is drafted from, and the letter.
    The deadlines come with it as DeadlineFormSet (prefix "deadlines")."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    notice_days = forms.IntegerField(
        label="Notice period (days)",
        min_value=NOTICE_DAYS_MIN,
        max_value=NOTICE_DAYS_MAX,
        error_messages={
            "min_value": NOTICE_DAYS_MESSAGE,
            "max_value": NOTICE_DAYS_MESSAGE,
            "invalid": f"Enter the notice period as a whole number of days: {NOTICE_DAYS_MESSAGE}",
            "required": f"Enter the notice period. {NOTICE_DAYS_MESSAGE}",
        },
        help_text=(
            f"From {NOTICE_DAYS_MIN} to {NOTICE_DAYS_MAX} days after the approval; "
            "the effective date follows from it."
        ),
    )
    letter = forms.CharField(
        label="Disengagement letter",
        required=False,  # clean_letter says what is wrong with an empty one
        strip=False,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text=(
            "Drafted from the fields above each time one changes. Your own wording is "
            "kept: when a field changes after you edit the letter, the new draft is "
            "shown beside yours for you to choose."
        ),
    )

    class Meta:
        model = LetGoCase
        fields = [
            *LetGoCase.CHECKLIST,
            "notice_days",
            "files_note",
            "fees_note",
            "referral_note",
            "letter",
        ]
        labels = {
            "files_note": "What happens to the client's files and property",
            "fees_note": "What happens to fees",
            "referral_note": "Referral: another firm or adviser",
        }
        widgets = {
            "files_note": forms.Textarea(attrs={"rows": 2}),
            "fees_note": forms.Textarea(attrs={"rows": 2}),
            "referral_note": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "files_note": "The letter's “Your files and property” paragraph.",
            "fees_note": "The letter's “Fees” paragraph.",
            "referral_note": "Added to the letter's “Another adviser” paragraph; optional.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].initial = self.instance.version

    @property
    def checklist_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in LetGoCase.CHECKLIST]

    def clean_letter(self) -> str:
        letter = letgo_services.normalise_text(self.cleaned_data["letter"])
        if not letter:
            raise forms.ValidationError(
                "The letter is empty: write it, or draft it again from the case."
            )
        if len(letter) > LETTER_LIMIT:
            raise forms.ValidationError(
                f"The letter is {len(letter):,} characters long; keep it to {LETTER_LIMIT:,}."
            )
        return letter

    def _clean_note(self, name: str) -> str:
        text = self.cleaned_data[name].strip()
        if letgo_services.has_brackets(text):
            raise forms.ValidationError(letgo_services.BRACKETS)
        return text

    def clean_files_note(self) -> str:
        return self._clean_note("files_note")

    def clean_fees_note(self) -> str:
        return self._clean_note("fees_note")

    def clean_referral_note(self) -> str:
        return self._clean_note("referral_note")


class DeadlineForm(forms.Form):
    """One deadline the client must watch. A row left blank is ignored."""

    description = forms.CharField(
        label="What the client must do",
        max_length=SHORT_TEXT,
        required=False,
    )
    due_on = forms.DateField(label="By", required=False, widget=DATE)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        description = " ".join((cleaned.get("description") or "").split())
        due_on = cleaned.get("due_on")
        cleaned["description"] = description
        if not description and not due_on:
            return cleaned  # an empty row: nothing to state
        row = {"description": description, "due_on": due_on.isoformat() if due_on else ""}
        for name, message in letgo_services.deadline_errors(
            row, today=timezone.localdate()
        ).items():
            self.add_error(name, message)
        return cleaned

    @property
    def row(self) -> dict[str, str] | None:
        """The row to keep: None when it is blank or marked for removal."""
        data = self.cleaned_data
        if data.get("DELETE") or not (data.get("description") or data.get("due_on")):
            return None
        return {"description": data["description"], "due_on": data["due_on"].isoformat()}


class BaseDeadlineFormSet(forms.BaseFormSet):
    default_error_messages = {
        "missing_management_form": (
            "This page's form was incomplete or out of date: reload the page and try again."
        ),
        "too_many_forms": "State at most %(num)d deadlines: the letter lists each one.",
    }

    def __init__(self, *args, case: LetGoCase, **kwargs) -> None:
        kwargs.setdefault("prefix", "deadlines")
        kwargs.setdefault(
            "initial",
            [
                {"description": row.get("description", ""), "due_on": row.get("due_on") or None}
                for row in case.deadlines
            ],
        )
        super().__init__(*args, **kwargs)
        for number, form in enumerate(self.forms, 1):
            form.number = number

    @property
    def rows(self) -> list[dict[str, str]]:
        """The deadlines to save, in the order given."""
        return [form.row for form in self.forms if form.row is not None]


DeadlineFormSet = forms.formset_factory(
    DeadlineForm,
    formset=BaseDeadlineFormSet,
    extra=2,
    can_delete=True,
    max_num=letgo_services.DEADLINES_LIMIT,
    validate_max=True,
)


class LetterChoiceForm(HiddenFieldErrors, forms.Form):
    """Which letter to keep when a new draft waits beside an edited one."""

    version = forms.IntegerField(widget=forms.HiddenInput)
    keep = forms.ChoiceField(choices=[("draft", "The new draft"), ("edited", "My edited letter")])


class ReinstateForm(forms.Form):
    reason = forms.CharField(
        label="Reason for reinstating",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
    )


class EvidenceForm(forms.Form):
    """Attach a file to a disagreement; evidence_attach() does the work."""

    file = forms.FileField(
        label="Evidence file",
        help_text=(
            "PDF, PNG, JPEG, e-mail (.eml, .msg) or plain text (.txt); "
            f"at most {format_size(MAX_EVIDENCE_BYTES)}."
        ),
        error_messages={"empty": "The file is empty."},
        widget=forms.FileInput(attrs={"accept": ACCEPT}),
    )
    description = forms.CharField(
        max_length=SHORT_TEXT,
        required=False,
        help_text="Optional: what the file shows, e.g. “Client's e-mail declining the count”.",
    )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        # Checked here too so that the error shows next to the field.
        evidence_content_type(upload)
        return upload


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds",
        choices=list(imports.KINDS.items()),
        widget=forms.RadioSelect,
        initial=imports.CLIENTS,
    )
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # read_table says "The file is empty." itself
        help_text="UTF-8, values separated by commas or semicolons, the header on the first line.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None or "kind" not in cleaned:
            return cleaned
        if upload.size > imports.MAX_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {imports.MAX_BYTES // (1024 * 1024)} MB: "
                "split it into smaller files."
            )
        data = upload.read()
        try:
            imports.read_table(data, cleaned["kind"])
        except imports.ImportFileError as exc:
            self.add_error("file", str(exc))
        cleaned["data"] = data
        return cleaned


class LetterPostedForm(HiddenFieldErrors, forms.Form):
    """The letter went by post (letgo.sending.letter_record_posted checks the day)."""

    posted_on = forms.DateField(label="Sent by post on", widget=DATE)
    version = forms.IntegerField(widget=forms.HiddenInput)
