"""Let-go review: proposals, the admin's decision, offboarding, reinstatement."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from accounts import two_factor
from accounts.permissions import get_visible_or_404, permission_required
from accounts.two_factor import verified_required
from advisory.forms import (
    DeadlineFormSet,
    LetGoDecisionForm,
    LetGoProposalForm,
    LetterChoiceForm,
    OffboardingForm,
    ReinstateForm,
)
from advisory.health import selectors as health_selectors
from advisory.letgo import selectors, services
from advisory.models import Client, LetGoCase
from advisory.records.versioning import EditConflict
from advisory.transfer import exports
from advisory.views.common import (
    add_errors,
    history_page,
    paginate,
    refresh_version,
    wants_csv,
)
from advisory.web.ids import parse_id


def _case(request: HttpRequest, pk: int) -> LetGoCase:
    return get_visible_or_404(
        LetGoCase.objects.select_related("client__lead_advisor", "proposed_by", "decided_by"),
        request.user,
        pk=pk,
    )


@permission_required("accounts.review_letgo")
def letgo_list(request: HttpRequest) -> HttpResponse:
    """Open proposals with what an admin needs to decide; closed cases below."""
    cases = LetGoCase.objects.visible_to(request.user).select_related(
        "client__lead_advisor", "proposed_by", "decided_by"
    )
    closed_cases = cases.exclude(status__in=LetGoCase.OPEN_STATUSES)
    if wants_csv(request):
        # Open cases first, then closed ones, as on the page.
        return exports.LETGO_CASES.response(cases.open(), closed_cases)
    # ?status=proposed: only the proposals waiting for a decision (the
    # admin's dashboard links here).
    waiting = request.GET.get("status") == LetGoCase.Status.PROPOSED
    open_cases = selectors.open_cases(cases)
    context = {
        "open_cases": open_cases.filter(status=LetGoCase.Status.PROPOSED)
        if waiting
        else open_cases,
        "waiting_only": waiting,
        "page_obj": paginate(request, closed_cases),
    }
    return render(request, "advisory/letgo_list.html", context)


@permission_required("advisory.add_letgocase")
def letgo_propose(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    if client.status != Client.Status.ACTIVE or client.is_archived:
        messages.error(
            request,
            f"{client} is {client.get_status_display().lower()}"
            f"{' and archived' if client.is_archived else ''}: no new let-go proposal.",
        )
        return redirect(client)
    form = LetGoProposalForm(request.POST or None, client=client)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                case = services.letgo_propose(client, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, "Proposal recorded; an admin will decide.")
                return redirect(case)
    return render(
        request, "advisory/letgo_propose.html", {"client": client, "form": form}, status=status
    )


@permission_required("advisory.view_letgocase")
def letgo_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    return render(request, "advisory/letgo_detail.html", _detail_context(request, case))


def _detail_context(request: HttpRequest, case: LetGoCase, **forms) -> dict:
    history = health_selectors.band_history(Client.objects.filter(pk=case.client_id))
    offboarding_form = forms.get("offboarding_form") or OffboardingForm(instance=case)
    deadline_forms = forms.get("deadline_forms") or DeadlineFormSet(case=case)
    return {
        "case": case,
        "client": case.client,
        "second_factor": _second_factor_missing(request),
        "evidence": case.evidence.select_related("client", "engagement", "logged_by").order_by(
            "occurred_on", "pk"
        ),
        "decision_form": forms.get("decision_form")
        or LetGoDecisionForm(initial={"version": case.version, "note": _kept_note(request, case)}),
        "offboarding_form": offboarding_form,
        "deadline_forms": deadline_forms,
        "offboarding_errors": _offboarding_errors(offboarding_form, deadline_forms),
        "effective_on": selectors.effective_date(case),
        "engagements_ending": list(selectors.engagements_ending(case.client))
        if case.status == LetGoCase.Status.APPROVED
        else [],
        "deadlines": _deadlines(case),
        "letters_compared": {
            "edited": _paragraphs(case.letter, case.letter_draft),
            "draft": _paragraphs(case.letter_draft, case.letter),
        }
        if case.letter_choice_pending
        else None,
        "reinstate_form": forms.get("reinstate_form") or ReinstateForm(),
        "score_chart": {
            "months": [m.isoformat() for m in history.months],
            "scores": history.scores.get(case.client_id, []),
        },
        "score_rows": list(
            zip(history.months, history.scores.get(case.client_id, []), strict=False)
        ),
    }


def _offboarding_errors(form: OffboardingForm, deadline_forms) -> list[tuple[str, str, str]]:
    """The error summary's rows (id, label, error): the offboarding form's
    fields, then each deadline row's, in the page's order."""
    if not form.is_bound:
        return []
    errors = [
        (field.id_for_label or field.auto_id, field.label, error)
        for field in form.visible_fields()
        for error in field.errors
    ]
    if deadline_forms.is_bound:
        for row in deadline_forms.forms:
            if deadline_forms.can_delete and deadline_forms._should_delete_form(row):
                continue
            errors += [
                (field.id_for_label, f"Deadline {row.number}, {field.label.lower()}", error)
                for field in row.visible_fields()
                for error in field.errors
            ]
    return errors


def _paragraphs(letter: str, other: str) -> list[tuple[str, bool]]:
    """`letter` paragraph by paragraph, each with whether `other` lacks it:
    what the page marks when it shows the two letters side by side."""
    theirs = {paragraph.strip() for paragraph in other.split("\n\n")}
    return [
        (paragraph.strip(), paragraph.strip() not in theirs)
        for paragraph in letter.split("\n\n")
        if paragraph.strip()
    ]


def _deadlines(case: LetGoCase) -> list[dict]:
    """The case's deadlines, dated, soonest first, for the case page once
    the form is gone."""
    rows = [
        {"description": row.get("description", ""), "due_on": services.parse_due(row)}
        for row in case.deadlines
    ]
    return sorted(rows, key=lambda row: row["due_on"] or datetime.date.max)


# --- The decision note, kept while the admin is away setting up two-factor sign-in ---

# In the session: {case id: {"user": user id, "note": text}}. Kept on every
# Approve or Decline, shown again on the case page, dropped once decided.
NOTES_KEY = "_candor_letgo_notes"
NOTE_LIMIT = LetGoDecisionForm.base_fields["note"].max_length


def _keep_note(request: HttpRequest, case: LetGoCase, note: str) -> None:
    notes = dict(request.session.get(NOTES_KEY, {}))
    if note.strip():
        notes[str(case.pk)] = {"user": request.user.pk, "note": note[:NOTE_LIMIT]}
    else:
        notes.pop(str(case.pk), None)
    request.session[NOTES_KEY] = notes


def _kept_note(request: HttpRequest, case: LetGoCase) -> str:
    kept = request.session.get(NOTES_KEY, {}).get(str(case.pk))
    if not isinstance(kept, dict) or kept.get("user") != request.user.pk:
        return ""
    return str(kept.get("note", ""))


def _forget_note(request: HttpRequest, case: LetGoCase) -> None:
    notes = dict(request.session.get(NOTES_KEY, {}))
    if notes.pop(str(case.pk), None) is not None:
        request.session[NOTES_KEY] = notes


def _keeping_the_note(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Keep the typed note before verified_required may send the admin away to
    set up two-factor sign-in: the case page shows it again on their return."""

    @wraps(view)
    def wrapper(request: HttpRequest, pk: int) -> HttpResponse:
        _keep_note(request, _case(request, pk), request.POST.get("note", ""))
        return view(request, pk)

    return wrapper


def _second_factor_missing(request: HttpRequest) -> str:
    """What an admin must do before deciding: "setup" (no authenticator app
    yet), "code" (an app, but this session has not entered a code), or ""."""
    if not request.user.has_perm("accounts.decide_letgo") or two_factor.is_verified(request.user):
        return ""
    return "code" if two_factor.is_enrolled(request.user) else "setup"


# --- Deciding and completing: shown first, done once confirmed -------------------------


def _confirmed(request: HttpRequest) -> bool:
    return request.POST.get("confirm") == "1"


@require_POST
@permission_required("accounts.decide_letgo")
@_keeping_the_note
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Approve or Decline shows what the decision will do; the page's
    confirm=1 makes it."""
    case = _case(request, pk)
    if "approve" not in request.POST and "decline" not in request.POST:
        # The set-up button, pressed once the session is verified (another
        # tab): back to the case, where the kept note is.
        return redirect(case)
    form = LetGoDecisionForm(request.POST)
    approve = "approve" in request.POST
    if form.is_valid():
        note, version = form.cleaned_data["note"], form.cleaned_data["version"]
        try:
            if not _confirmed(request):
                services.letgo_decide_check(
                    case, by=request.user, approve=approve, note=note, expected_version=version
                )
                return _confirm_decision(request, case, approve=approve, note=note, version=version)
            services.letgo_decide(
                case, by=request.user, approve=approve, note=note, expected_version=version
            )
        except services.AlreadyDecided as exc:
            _forget_note(request, case)
            messages.error(request, _already_decided(exc.case))
            return redirect(case)
        except EditConflict:
            messages.error(request, "The case changed while you were reading it; check it again.")
            return redirect(case)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            _forget_note(request, case)
            messages.success(request, "Proposal approved." if approve else "Proposal declined.")
            return redirect(case)
    context = _detail_context(request, case, decision_form=form)
    return render(request, "advisory/letgo_detail.html", context, status=400)


def _confirm_decision(
    request: HttpRequest, case: LetGoCase, *, approve: bool, note: str, version: int
) -> HttpResponse:
    context = {
        "case": case,
        "client": case.client,
        "action": "approve" if approve else "decline",
        "consequences": selectors.decision_consequences(case, approve=approve),
        "note": note,
        "version": version,
        "post_to": reverse("letgo-decide", args=[case.pk]),
    }
    return render(request, "advisory/letgo_confirm.html", context)


def _already_decided(case: LetGoCase) -> str:
    """Who closed the case first and when (local time, as on the case page)."""
    if case.decided_at is None:  # withdrawn: only the proposer withdraws
        return (
            f"{case.proposed_by} withdrew this proposal; it can no longer be decided. "
            "Nothing was changed."
        )
    verdict = "declined" if case.status == LetGoCase.Status.DECLINED else "approved"
    when = formats.date_format(timezone.localtime(case.decided_at), "DATETIME_FORMAT")
    return f"{case.decided_by} already {verdict} this case on {when}; nothing was changed."


@require_POST
@permission_required("advisory.view_letgocase")
def letgo_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    try:
        services.letgo_withdraw(case, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Proposal withdrawn; the client is active again.")
    return redirect(case)


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_offboarding(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the checklist, the letter's fields and the letter. The letter is
    drafted again from the fields (services.letgo_update_offboarding); refused
    input is shown at its field, with nothing saved."""
    case = _case(request, pk)
    if case.status != LetGoCase.Status.APPROVED:
        # The form is not shown then; say why nothing was saved.
        messages.error(request, services.OFFBOARDING_CLOSED)
        return render(
            request, "advisory/letgo_detail.html", _detail_context(request, case), status=400
        )
    stored = LetGoCase.objects.get(pk=case.pk)
    form = OffboardingForm(request.POST, instance=stored)
    deadline_forms = DeadlineFormSet(request.POST, case=case)
    forms_valid = form.is_valid()
    if deadline_forms.is_valid() and forms_valid:
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        fields["deadlines"] = deadline_forms.rows
        try:
            updated = services.letgo_update_offboarding(
                case, by=request.user, expected_version=form.cleaned_data["version"], **fields
            )
        except EditConflict as exc:
            form.add_error(
                None,
                "Someone updated the offboarding meanwhile. Your changes are below; "
                "compare them with the saved case and save again.",
            )
            refresh_version(form, exc.current.version)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                add_errors(form, exc)
            else:
                # E.g. the case is no longer approved: the form is not shown then.
                messages.error(request, " ".join(exc.messages))
        else:
            if updated.letter_choice_pending:
                # Saved: the choice is a next step, not a refusal.
                messages.success(
                    request,
                    "Offboarding saved. Your edited letter is kept; the letter drafted "
                    "from the changed fields is beside it: choose which one to keep.",
                )
                return redirect(f"{case.get_absolute_url()}#letter-choice")
            messages.success(request, "Offboarding saved.")
            return redirect(f"{case.get_absolute_url()}#offboarding")
    context = _detail_context(request, case, offboarding_form=form, deadline_forms=deadline_forms)
    return render(request, "advisory/letgo_detail.html", context, status=400)


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_letter_choice(request: HttpRequest, pk: int) -> HttpResponse:
    """Keep the edited letter or take the new draft beside it."""
    case = _case(request, pk)
    form = LetterChoiceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose which letter to keep: the new draft or your edited one.")
        return redirect(f"{case.get_absolute_url()}#letter-choice")
    keep_draft = form.cleaned_data["keep"] == "draft"
    try:
        services.letgo_choose_letter(
            case,
            by=request.user,
            expected_version=form.cleaned_data["version"],
            keep_draft=keep_draft,
        )
    except EditConflict:
        messages.error(request, "The case changed while you were reading it; check it again.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            "The letter is now the new draft from the case."
            if keep_draft
            else "Your edited letter is kept.",
        )
        return redirect(f"{case.get_absolute_url()}#offboarding")
    return redirect(case)


@permission_required("advisory.view_letgocase")
def letgo_history(request: HttpRequest, pk: int) -> HttpResponse:
    """The case's History tab: every change, who made it, when and why."""
    return history_page(request, _case(request, pk), tabs="advisory/_letgo_tabs.html")


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_complete(request: HttpRequest, pk: int) -> HttpResponse:
    """Complete offboarding shows what completing will do; the page's confirm=1
    does it."""
    case = _case(request, pk)
    version = parse_id(request.POST.get("version", ""))
    version = -1 if version is None else version
    try:
        if not _confirmed(request):
            services.letgo_complete_check(case, by=request.user, expected_version=version)
            context = {
                "case": case,
                "client": case.client,
                "action": "complete",
                "consequences": selectors.completion_consequences(case),
                "deadlines": _deadlines(case),
                "version": version,
                "post_to": reverse("letgo-complete", args=[case.pk]),
            }
            return render(request, "advisory/letgo_confirm.html", context)
        services.letgo_complete(case, by=request.user, expected_version=version)
    except services.AlreadyCompleted as exc:
        when = formats.date_format(timezone.localtime(exc.case.completed_at), "DATETIME_FORMAT")
        messages.error(
            request,
            f"{exc.case.completed_by} already completed this case on {when}; nothing was changed.",
        )
    except EditConflict:
        messages.error(request, "The case changed while you were reading it; check it again.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{case.client} has been let go. Its open engagements are terminated and its "
            "records are now read-only.",
        )
    return redirect(case)


@permission_required("advisory.view_letgocase")
def letgo_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The disengagement letter on its own, to print."""
    return render(request, "advisory/letgo_letter.html", {"case": _case(request, pk)})


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="client-detail", purpose="reinstate clients")
def client_reinstate(request: HttpRequest, pk: int) -> HttpResponse:
    client = get_visible_or_404(Client, request.user, pk=pk)
    form = ReinstateForm(request.POST)
    if form.is_valid():
        try:
            services.client_reinstate(client, by=request.user, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _reinstated(client))
    else:
        messages.error(request, "Say why the client is reinstated.")
    return redirect(client)


def _reinstated(client: Client) -> str:
    """Reinstating changes only the client's status: say which engagements the
    let-go ended, for someone to reopen by hand."""
    ended = selectors.ended_at_letgo(client)
    if not ended:
        return f"{client} is reinstated. The let-go ended no engagement."
    titles = ", ".join(f"“{engagement.title}”" for engagement in ended)
    return (
        f"{client} is reinstated. The engagements the let-go ended stay terminated: "
        f"reopen by hand those that go on ({titles})."
    )
