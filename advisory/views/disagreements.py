from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.permissions import can_comment, get_visible_or_404, permission_required
from advisory.filters import DisagreementFilter
from advisory.forms import (
    AmendmentForm,
    CommentForm,
    DecisionForm,
    DisagreementForm,
    DisagreementLogForm,
    EvidenceForm,
    OutcomeForm,
)
from advisory.models import Client, Disagreement, Engagement
from advisory.records import choices, comments, services
from advisory.records.versioning import EditConflict, let_go_read_only
from advisory.transfer import exports
from advisory.views.common import (
    archive_toggle,
    history_page,
    list_page,
    refresh_version,
    save_form,
)
from advisory.web.ids import parse_id
from advisory.web.page_cache import cached_page


def _get(request: HttpRequest, pk: int) -> Disagreement:
    return get_visible_or_404(
        Disagreement.objects.select_related(
            "client", "engagement__client", "logged_by", "reviewed_by"
        ),
        request.user,
        pk=pk,
    )


@permission_required("advisory.view_disagreement")
@cached_page
def disagreement_list(request: HttpRequest) -> HttpResponse:
    disagreements = (
        Disagreement.objects.visible_to(request.user)
        .with_ranks()
        .select_related("client", "engagement", "logged_by")
    )
    filterset = DisagreementFilter(request.GET, queryset=disagreements, user=request.user)
    return list_page(
        request,
        filterset=filterset,
        template="advisory/disagreement_list.html",
        noun="disagreements",
        export=exports.DISAGREEMENTS,
    )


@permission_required("advisory.add_disagreement")
def disagreement_create(request: HttpRequest) -> HttpResponse:
    """Log a disagreement, with the client's decision when it is already known.

    `?client=` or `?engagement=` preselect from those pages; otherwise the
    engagement is found with the picker: typing a name asks `engagement_pick`
    (htmx), and without JavaScript its "Find" button reloads this page with
    `?q=` (nothing typed is lost: the engagement comes first).
    """
    client, initial = None, {}
    engagement_id = parse_id(request.GET.get("engagement", ""))
    client_id = parse_id(request.GET.get("client", ""))
    if engagement_id is not None:
        engagement = get_visible_or_404(Engagement, request.user, pk=engagement_id)
        client, initial["engagement"] = engagement.client, engagement.pk
    elif client_id is not None:
        client = get_visible_or_404(Client, request.user, pk=client_id)
    if client is not None and client.is_read_only:
        messages.error(
            request, f"{client} is {_closed(client)}: no new disagreement can be logged."
        )
        return redirect(client)
    picker = None
    if client is None:
        chosen = parse_id(request.POST.get("engagement", "")) if request.method == "POST" else None
        picker = choices.EngagementPicker(
            request.user, query=request.GET.get("q", ""), chosen=chosen
        )
    form = DisagreementLogForm(
        request.POST or None, initial=initial, user=request.user, client=client, picker=picker
    )
    if client is not None and "engagement" not in initial:
        engagements = list(form.fields["engagement"].queryset[:2])
        if len(engagements) == 1:
            form.initial["engagement"] = engagements[0].pk
    return save_form(
        request,
        form,
        lambda: services.disagreement_log(form.save(commit=False), by=request.user),
        template="advisory/disagreement_form.html",
        context={
            "title": "Log disagreement",
            "for_client": client,
            "cancel_url": client.get_absolute_url() if client else reverse("disagreement-list"),
            "button": "Log disagreement",
        },
        success="Disagreement logged.",
    )


@permission_required("advisory.add_disagreement")
def engagement_pick(request: HttpRequest) -> HttpResponse:
    """The log form's engagement picker, as typed: the matching engagements
    in the user's scope (an htmx fragment), the one already chosen first."""
    picker = choices.EngagementPicker(
        request.user,
        query=request.GET.get("q", ""),
        chosen=parse_id(request.GET.get("engagement", "")),
    )
    return render(request, "advisory/_engagement_options.html", {"picker": picker})


def _closed(client: Client) -> str:
    return "let go" if client.status == Client.Status.LET_GO else "archived"


def _refused_if_let_go(request: HttpRequest, disagreement: Disagreement) -> HttpResponse | None:
    """A let-go client's disagreement is kept as it was: its page offers no
    change, and a change asked for anyway (a form opened before the let-go, a
    typed address) is refused with the reason before anything sent is read.
    The services refuse it too (records.versioning)."""
    if disagreement.client.status != Client.Status.LET_GO:
        return None
    messages.error(request, let_go_read_only(disagreement.client))
    return redirect(disagreement)


@permission_required("advisory.view_disagreement")
def disagreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    return render(
        request, "advisory/disagreement_detail.html", _detail_context(request, disagreement)
    )


def _detail_context(request: HttpRequest, disagreement: Disagreement, **forms) -> dict:
    user = request.user
    # Archived, or its client let go: nothing is changed on it (record_save
    # refuses), so no form or button offers it.
    editable = not disagreement.is_read_only and user.has_perm("advisory.change_disagreement")
    amendments = {}
    for amendment in disagreement.amendments.select_related("amended_by"):
        amendments.setdefault(amendment.field, []).append(amendment)
    return {
        "disagreement": disagreement,
        "object": disagreement,
        "amendments": amendments,
        "comments": disagreement.comments.select_related("author"),
        "evidence_files": disagreement.evidence.select_related("uploaded_by", "integrity"),
        "editable": editable,
        # Nothing is added to an archived disagreement or a let-go client's.
        "can_comment": not disagreement.is_read_only and can_comment(user, disagreement),
        "can_attach": not disagreement.is_read_only
        and editable
        and user.has_perm("advisory.add_evidencefile"),
        "can_review": user.has_perm("advisory.review_disagreement")
        and not disagreement.is_reviewed
        and not disagreement.is_read_only,
        "decision_form": forms.get("decision_form") or DecisionForm(instance=disagreement),
        "outcome_form": forms.get("outcome_form") or OutcomeForm(instance=disagreement),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "evidence_form": EvidenceForm(),
    }


@permission_required("advisory.change_disagreement")
def disagreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    form = DisagreementForm(request.POST or None, instance=disagreement, user=request.user)
    return save_form(
        request,
        form,
        lambda: services.disagreement_save(
            form.save(commit=False),
            by=request.user,
            reason=form.cleaned_data.get("change_reason", ""),
            expected_version=form.cleaned_data["version"],
        ),
        template="advisory/disagreement_form.html",
        context={
            "title": f"Edit “{disagreement}”",
            "disagreement": disagreement,
            "cancel_url": disagreement.get_absolute_url(),
        },
        success="Disagreement saved.",
    )


@permission_required("advisory.change_disagreement")
def disagreement_decision(request: HttpRequest, pk: int) -> HttpResponse:
    """Record the client's decision (and, if they overrode the advice, their acknowledgment)."""
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    form = DecisionForm(request.POST or None, instance=disagreement)
    return save_form(
        request,
        form,
        lambda: services.disagreement_record_decision(
            form.save(commit=False),
            by=request.user,
            expected_version=form.cleaned_data["version"],
        ),
        template="advisory/disagreement_action.html",
        context={
            "title": "Record the client's decision",
            "disagreement": disagreement,
            "button": "Record decision",
        },
        success="Decision recorded.",
        unchanged=(
            f"Nothing changed: the decision is already “{disagreement.get_decision_display()}”. "
            "Choose another decision, or change the acknowledgment, to record one."
        ),
    )


@permission_required("advisory.change_disagreement")
def disagreement_outcome(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    form = OutcomeForm(request.POST or None, instance=disagreement)
    return save_form(
        request,
        form,
        lambda: services.disagreement_record_outcome(
            form.save(commit=False),
            by=request.user,
            expected_version=form.cleaned_data["version"],
        ),
        template="advisory/disagreement_action.html",
        context={
            "title": "Record the outcome",
            "disagreement": disagreement,
            "button": "Record outcome",
        },
        success="Outcome recorded.",
        unchanged=(
            "Nothing changed: choose who was right, or describe how it turned out, "
            "to record the outcome."
        ),
    )


@require_POST
@permission_required("advisory.review_disagreement")
def disagreement_review(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    version = parse_id(request.POST.get("version", ""))
    try:
        services.disagreement_mark_reviewed(
            disagreement, by=request.user, expected_version=-1 if version is None else version
        )
    except EditConflict:
        messages.error(request, "Someone changed this disagreement meanwhile; review it again.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Marked reviewed: the facts are now locked.")
    return redirect(disagreement)


@permission_required("advisory.change_disagreement")
def disagreement_amend(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a fact locked by review, with a reason; the original stays visible."""
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    if not disagreement.is_reviewed:
        messages.info(request, "This disagreement is not reviewed yet: edit it directly.")
        return redirect("disagreement-edit", pk=disagreement.pk)
    form = AmendmentForm(request.POST or None, initial={"version": disagreement.version})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.disagreement_amend(
                    disagreement,
                    by=request.user,
                    field=form.cleaned_data["field"],
                    new_value=form.cleaned_data["new_value"],
                    reason=form.cleaned_data["reason"],
                    expected_version=form.cleaned_data["version"],
                )
            except EditConflict as exc:
                status = 409
                form.add_error(
                    None,
                    "Someone changed this disagreement while you were writing; "
                    "open the disagreement to see the latest version, then submit again.",
                )
                refresh_version(form, exc.current.version)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    # A rule the corrected value breaks (a future date, a decision
                    # now before the disagreement) is shown next to that value.
                    for field, errors in exc.error_dict.items():
                        form.add_error(field if field in form.fields else "new_value", errors)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, "Amendment recorded beside the original.")
                return redirect(disagreement)
    return render(
        request,
        "advisory/disagreement_action.html",
        {
            "form": form,
            "disagreement": disagreement,
            "title": "Amend a reviewed fact",
            "button": "Record amendment",
        },
        status=status,
    )


@require_POST
@permission_required("advisory.view_disagreement")
def comment_create(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    if not can_comment(request.user, disagreement):
        raise PermissionDenied
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            comments.comment_add(disagreement, by=request.user, body=form.cleaned_data["body"])
        except ValidationError as exc:
            # Archived or let go, perhaps meanwhile: nothing can be added now.
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Comment added.")
            return redirect(f"{disagreement.get_absolute_url()}#comments")
    context = _detail_context(request, disagreement, comment_form=form)
    return render(request, "advisory/disagreement_detail.html", context, status=400)


@permission_required("advisory.view_disagreement")
def disagreement_history(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    return history_page(request, disagreement, tabs="advisory/_disagreement_tabs.html")


@require_POST
@permission_required("advisory.change_disagreement")
def disagreement_archive(request: HttpRequest, pk: int) -> HttpResponse:
    disagreement = _get(request, pk)
    if refused := _refused_if_let_go(request, disagreement):
        return refused
    return archive_toggle(request, disagreement)
