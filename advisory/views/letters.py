"""The disengagement letter as a PDF, and sending it with a record: by e-mail
from Candor (after a confirmation naming who gets it) or by post on a day.
The services are letgo/sending.py; the case page (letgo_detail.html) shows
where the letter went through advisory/_letter_delivery.html."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import get_visible_or_404, permission_required
from accounts.two_factor import verified_required
from advisory.evidence import pdf
from advisory.forms import LetterPostedForm
from advisory.letgo import letter_mail, sending
from advisory.models import LetGoCase
from advisory.records.versioning import EditConflict
from advisory.views.common import pdf_download
from advisory.web.ids import parse_id

CHANGED = "The case changed while you were reading it; check it again."


def _case(request: HttpRequest, pk: int) -> LetGoCase:
    return get_visible_or_404(
        LetGoCase.objects.select_related("client__lead_advisor", "letter_sent_by"),
        request.user,
        pk=pk,
    )


def _back(case: LetGoCase) -> HttpResponse:
    return redirect(f"{case.get_absolute_url()}#letter")


@require_safe
@permission_required("advisory.view_letgocase")
def letgo_letter_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The letter as it stands, as a PDF on the firm's letterhead."""
    case = _case(request, pk)
    return pdf_download(pdf.letter_pdf(case, by=request.user), pdf.letter_filename(case))


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_letter_send(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Send letter" shows to whom and what first; the page's confirm=1 sends."""
    case = _case(request, pk)
    version = parse_id(request.POST.get("version", ""))
    version = -1 if version is None else version
    try:
        if request.POST.get("confirm") != "1":
            if case.version != version:
                raise EditConflict(case)
            sending.letter_email_check(case, by=request.user)
            context = {
                "case": case,
                "client": case.client,
                "to": sending.recipient(case),
                "sender": letter_mail.sender_address(),
                "reply_to": request.user.email,
                "subject": letter_mail.subject(case),
                "attachment": pdf.letter_filename(case),
                "version": version,
            }
            return render(request, "advisory/letter_send_confirm.html", context)
        case = sending.letter_email_request(case, by=request.user, expected_version=version)
    except EditConflict:
        messages.error(request, f"{CHANGED} Nothing was sent.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages) + " Nothing was sent.")
    else:
        messages.success(
            request,
            f"The letter is on its way to {case.letter_sent_to}. The case says when the mail "
            "server has taken it; until then it is not sent.",
        )
    return _back(case)


@require_POST
@permission_required("accounts.decide_letgo")
@verified_required(back="letgo-detail", purpose="decide let-go cases")
def letgo_letter_posted(request: HttpRequest, pk: int) -> HttpResponse:
    """Record that the letter went by post on a day (not in the future)."""
    case = _case(request, pk)
    form = LetterPostedForm(request.POST)
    if not form.is_valid():
        messages.error(request, _problems(form) + " Nothing was recorded.")
        return _back(case)
    try:
        case = sending.letter_record_posted(
            case,
            by=request.user,
            posted_on=form.cleaned_data["posted_on"],
            expected_version=form.cleaned_data["version"],
        )
    except EditConflict:
        messages.error(request, f"{CHANGED} Nothing was recorded.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages) + " Nothing was recorded.")
    else:
        day = formats.date_format(case.letter_sent_on)
        messages.success(
            request, f"Recorded: the letter went by post on {day} to {case.letter_sent_to}."
        )
    return _back(case)


def _problems(form: LetterPostedForm) -> str:
    """The form's errors as one sentence each, named by the field's label."""
    lines = [str(e) for e in form.non_field_errors()]
    lines += [
        f"{form.fields[name].label}: {error}"
        for name, errors in form.errors.items()
        if name != "__all__" and not form.fields[name].widget.is_hidden
        for error in errors
    ]
    return " ".join(dict.fromkeys(lines))
