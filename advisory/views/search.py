"""The search box's results page: clients, engagements and disagreements in the user's scope."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from accounts.permissions import permission_required
from advisory.models import Client
from advisory.records import search

TITLES = {"client": "Clients", "engagement": "Engagements", "disagreement": "Disagreements"}
LAST_PAGE = search.WINDOW // search.PER_PAGE
MARKERS = re.compile(f"([{search.START}{search.STOP}])")


@dataclass(frozen=True)
class Row:
    url: str
    title: SafeString
    snippet: SafeString
    context: str  # where it sits: the client, the engagement
    date: datetime.date | None  # when a disagreement happened
    labels: list[str]  # Archived, Let go
    comment: str  # "In a comment by …" when a comment matched


@dataclass(frozen=True)
class Section:
    kind: str
    title: str
    rows: list[Row]
    more: bool


@require_safe
@permission_required(
    "advisory.view_client", "advisory.view_engagement", "advisory.view_disagreement"
)
def search_results(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q")
    kind = request.GET.get("kind") if request.GET.get("kind") in search.KINDS else None
    page = _page(request.GET.get("page"))
    context = {
        "query": query or "",
        "kind": kind,
        "page": page,
        "sections": None,
        "max_query": search.MAX_QUERY,
    }
    if query is None:  # the page itself, before any search
        return render(request, "advisory/search.html", context)
    if error := search.problem(query):
        return render(request, "advisory/search.html", {**context, "error": error}, status=400)
    results = search.search(
        user=request.user, query=query, kinds=[kind] if kind else search.KINDS, page=page
    )
    context["query"] = results.query
    context["sections"] = [
        Section(kind, TITLES[kind], [_row(kind, hit) for hit in hits], results.more[kind])
        for kind, hits in results.hits.items()
    ]
    context["total"] = results.total
    context["last_page"] = LAST_PAGE
    return render(request, "advisory/search.html", context)


def _page(value: str | None) -> int:
    if value and value.isascii() and value.isdigit():
        return min(max(int(value), 1), LAST_PAGE)
    return 1


def marked(text: str) -> SafeString:
    """`text` escaped, with the search's markers turned into <mark>: the only
    markup in the result, always balanced, so no record's text can inject any."""
    out, open_ = [], False
    for part in MARKERS.split(escape(text)):
        if part == search.START and not open_:
            out.append("<mark>")
            open_ = True
        elif part == search.STOP and open_:
            out.append("</mark>")
            open_ = False
        elif part not in (search.START, search.STOP):
            out.append(part)
    if open_:
        out.append("</mark>")
    return mark_safe("".join(out))


def _row(kind: str, hit: search.Hit) -> Row:
    record = hit.record
    labels = []
    if record.is_archived:
        labels.append("Archived")
    client = record if kind == "client" else record.client
    if client.status == Client.Status.LET_GO:
        labels.append("Let go")
    if kind == "client":
        context = "Client" + (f" · {record.sector}" if record.sector else "")
    elif kind == "engagement":
        context = f"Engagement · {record.client.name}"
    else:
        context = f"{record.client.name} · {record.engagement.title}"
    comment = ""
    if hit.comment is not None:
        author = hit.comment.author.get_full_name() or hit.comment.author.get_username()
        comment = f"In a comment by {author}"
    return Row(
        url=record.get_absolute_url(),
        title=marked(hit.title),
        snippet=marked(hit.snippet),
        context=context,
        date=record.occurred_on if kind == "disagreement" else None,
        labels=labels,
        comment=comment,
    )
