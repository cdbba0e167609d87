"""Let-go review: proposals, the admin's decision, offboarding, reinstatement."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.views.decorators.http import require_POST

from accounts.permissions import get_visible_or_404, permission_required
from accounts.two_factor import verified_required
from advisory.forms import LetGoDecisionForm, LetGoProposalForm, OffboardingForm, ReinstateForm
from advisory.health import selectors as health_selectors
from advisory.letgo import selectors, services
from advisory.models import Client, LetGoCase
from advisory.records.versioning import EditConflict
from advisory.transfer import exports
from advisory.views.common import add_errors, paginate, refresh_version, wants_csv
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
    return render(request, "advisory/letgo_detail.html", _detail_context(case))


def _detail_context(case: LetGoCase, **forms) -> dict:
    history = health_selectors.band_history(Client.objects.filter(pk=case.client_id))
    return {
        "case": case,
        "client": case.client,
        "evidence": case.evidence.select_related("engagement", "logged_by").order_by(
            "occurred_on", "pk"
        ),
        "decision_form": forms.get("decision_form")
        or LetGoDecisionForm(initial={"version": case.version}),
        "offboarding_form": forms.get("offboarding_form") or OffboardingForm(instance=case),
        "reinstate_form": forms.get("reinstate_form") or ReinstateForm(),
        "score_chart": {
            "months": [m.isoformat() for m in history.months],
            "scores": history.scores.get(case.client_id, []),
        },
        "score_rows": list(
            zip(history.months, history.scores.get(case.client_id, []), strict=False)
        ),
    }


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_decide(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    form = LetGoDecisionForm(request.POST)
    approve = "approve" in request.POST
    if form.is_valid():
        try:
            services.letgo_decide(
                case,
                by=request.user,
                approve=approve,
                note=form.cleaned_data["note"],
                expected_version=form.cleaned_data["version"],
            )
        except services.AlreadyDecided as exc:
            messages.error(request, _already_decided(exc.case))
            return redirect(case)
        except EditConflict:
            messages.error(request, "The case changed while you were reading it; check it again.")
            return redirect(case)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Proposal approved." if approve else "Proposal declined.")
            return redirect(case)
    context = _detail_context(case, decision_form=form)
    return render(request, "advisory/letgo_detail.html", context, status=400)


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
    case = _case(request, pk)
    form = OffboardingForm(request.POST, instance=LetGoCase.objects.get(pk=case.pk))
    if form.is_valid():
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            services.letgo_update_offboarding(
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
            messages.success(request, "Offboarding saved.")
            return redirect(f"{case.get_absolute_url()}#offboarding")
    context = _detail_context(case, offboarding_form=form)
    return render(request, "advisory/letgo_detail.html", context, status=400)


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_complete(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case(request, pk)
    version = parse_id(request.POST.get("version", ""))
    try:
        services.letgo_complete(
            case, by=request.user, expected_version=-1 if version is None else version
        )
    except EditConflict:
        messages.error(request, "The case changed while you were reading it; check it again.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{case.client} has been let go. Its records are now read-only.")
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
            messages.success(request, f"{client} is reinstated.")
    else:
        messages.error(request, "Say why the client is reinstated.")
    return redirect(client)
