"""Building blocks shared by the record pages: lists, versioned edits, archive, history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header

from advisory.evidence import pdf
from advisory.forms import ArchiveForm
from advisory.history import entries
from advisory.records import versioning
from advisory.records.selectors import COUNT_UP_TO
from advisory.records.versioning import EditConflict
from advisory.transfer.exports import ListExport

PAGE_SIZE = 25
ALREADY_SAVED = "This was already saved as you sent it; nothing was changed."
NOTHING_CHANGED = "Nothing changed: the form was sent back as it was, so nothing was saved."
MAX_PAGE = 10**9  # a later page number shows the last page


class CappedPaginator(Paginator):
    """A paginator that counts only as far as the page asked for needs.

    An exact COUNT(*) reads every matching row, which on a long log costs
    more than the page itself. This counts at most `limit + 1` rows (at least
    COUNT_UP_TO, and up to one row past the requested page, so Next always
    works); when there are more, `exact` is False, the list says "more than
    <limit>", and Last is not offered.
    """

    def __init__(self, object_list, per_page: int, *, page: str | None) -> None:
        super().__init__(object_list, per_page)
        # Bounded, so a hand-typed page number can't overflow the LIMIT below.
        wanted = min(int(page), MAX_PAGE) if page and page.isascii() and page.isdigit() else 1
        self.limit = max(COUNT_UP_TO, wanted * per_page)
        self.exact = True

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, models.QuerySet):
            return super().count
        # Which rows are counted doesn't matter: no sorting, the database stops early.
        counted = self.object_list.order_by()[: self.limit + 1].count()
        self.exact = counted <= self.limit
        return counted


def paginate(request: HttpRequest, queryset: models.QuerySet, per_page: int = PAGE_SIZE) -> Page:
    page = request.GET.get("page")
    return CappedPaginator(queryset, per_page, page=page).get_page(page)


def wants_csv(request: HttpRequest) -> bool:
    """`?format=csv` asks a list page for its rows as a CSV file, the other
    parameters (filters, sort) applying as on the page."""
    return request.GET.get("format") == "csv"


def list_page(
    request: HttpRequest,
    *,
    filterset,
    template: str,
    noun: str,
    export: ListExport,
    extra: dict | None = None,
) -> HttpResponse:
    """Render a filtered, sorted, paginated list; bad filter input shows its error.
    With `?format=csv`, stream every row the filters select (none for bad input)."""
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    if wants_csv(request):
        return export.response(queryset)
    page = paginate(request, queryset)
    context = {"filter": filterset, "page_obj": page, "noun": noun, **(extra or {})}
    return render(request, template, context)


@dataclass(frozen=True)
class ConflictRow:
    label: str
    yours: str
    theirs: str


def conflict_rows(form: forms.ModelForm, current: models.Model) -> list[ConflictRow]:
    """Fields where what the user submitted differs from what is saved now."""
    rows = []
    for name, field in form.fields.items():
        if name in ("version", "change_reason") or name not in form.cleaned_data:
            continue
        if field.disabled:
            # Locked meanwhile (a manager reviewed it): what the user typed
            # is not in cleaned_data, only in the raw submission.
            typed = form.data.get(form.add_prefix(name))
            if typed is None or str(typed).strip() == str(getattr(current, name)):
                continue
            rows.append(
                ConflictRow(f"{field.label} (now locked)", typed, str(getattr(current, name)))
            )
            continue
        yours = form.cleaned_data[name]
        theirs = getattr(current, name)
        if isinstance(theirs, models.Manager):
            theirs = list(theirs.all())
            yours = list(yours)
            if sorted(map(str, yours)) == sorted(map(str, theirs)):
                continue
        elif yours == theirs:
            continue
        rows.append(ConflictRow(str(field.label), _display(field, yours), _display(field, theirs)))
    return rows


def _display(field: forms.Field, value) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    choices = dict(getattr(field, "choices", []) or [])
    return str(choices.get(value, value))


def save_form(
    request: HttpRequest,
    form: forms.ModelForm,
    save: Callable[[], models.Model],
    *,
    template: str,
    context: dict,
    success: str,
    unchanged: str = NOTHING_CHANGED,
) -> HttpResponse:
    """Validate and save a versioned form, or re-show it with what went wrong.

    - a form of an existing record sent back exactly as it was: nothing is
      written (no history entry, no new version) and the person is told
      `unchanged`, rather than a success that did nothing;
    - invalid input: the form with errors next to the fields (status 400);
    - a stale version: the form keeps the user's text, the conflict shows the
      other person's values, and resubmitting saves deliberately (status 409);
      unless the record already holds exactly what was sent (a double click,
      a resend): then nothing is written and the person is told so;
    - a rule refused by the service: its message on the form (status 400).
    """
    status = 200
    conflict = None
    if request.method == "POST":
        status = 400
        if form.is_valid() and form.instance.pk and not form.has_changed():
            messages.info(request, unchanged)
            return redirect(form.instance)
        if form.is_valid():
            try:
                obj = save()
            except EditConflict as exc:
                conflict = conflict_rows(form, exc.current)
                if not conflict:
                    messages.info(request, ALREADY_SAVED)
                    return redirect(exc.current)
                status = 409
                refresh_version(form, exc.current.version)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, success)
                return redirect(obj)
    return render(request, template, {"form": form, "conflict": conflict, **context}, status=status)


def refresh_version(form: forms.Form, version: int) -> None:
    """After a conflict the form carries the current version, so resubmitting
    deliberately saves over what the other person wrote."""
    data = form.data.copy()
    data["version"] = str(version)
    form.data = data


def add_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def archive_toggle(request: HttpRequest, obj: models.Model) -> HttpResponse:
    """POST: archive or restore `obj` (a versioned record the user may change)."""
    form = ArchiveForm(request.POST)
    kind = obj._meta.verbose_name
    if not form.is_valid():
        messages.error(request, f"The {kind} was not changed: the request was incomplete.")
        return redirect(obj)
    archived = form.cleaned_data["archive"]
    try:
        versioning.record_set_archived(
            obj,
            by=request.user,
            archived=archived,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except EditConflict:
        messages.error(
            request,
            f"Someone changed this {kind} while you were looking at it. "
            "Check the latest version and try again.",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{kind.capitalize()} {'archived' if archived else 'restored'}.")
    return redirect(obj)


def history_page(request: HttpRequest, obj: models.Model, *, tabs: str) -> HttpResponse:
    page = paginate(request, entries.history_entries(obj), per_page=50)
    return render(
        request,
        "advisory/history.html",
        {"object": obj, "page_obj": page, "entries": page.object_list, "tabs": tabs},
    )


def pdf_download(document: bytes, filename: str) -> HttpResponse:
    """A PDF to save, never shown inline, kept by no cache."""
    response = HttpResponse(document, content_type=pdf.CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
