"""Candor's documents as PDF: the disengagement letter and the relationship dossier.

WeasyPrint renders the same templates as the pages (the dossier's partial, the
letter's text as the letter page shows it) inside templates/advisory/pdf/base.html:
the firm's letterhead from settings (CANDOR_FIRM_NAME, CANDOR_FIRM_ADDRESS,
CANDOR_FIRM_LOGO) at the top of the first page, and on every page a footer
naming the record, when this copy was made and by whom, and "Page n of m"
(CSS @page margin boxes, static/css/pdf.css).

Nothing is fetched while rendering: the stylesheets are inlined, the logo is
embedded as a data: URL, and the fetcher refuses any other URL, so nothing a
client or an advisor typed can make the server read a file or reach the network.
WeasyPrint needs Pango (on Debian libpango-1.0-0 and libpangoft2-1.0-0; README).
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from advisory.evidence.dossier import PRINT_CSS, inline_css
from advisory.models import Client, LetGoCase

PDF_CSS = "css/pdf.css"
CONTENT_TYPE = "application/pdf"


@dataclass(frozen=True)
class Identity:
    """What every page's footer says about the record this PDF is a copy of."""

    record: str  # e.g. "Let-go case 12 · Acme Holdings"
    generated_at: datetime.datetime
    generated_by: str


def letterhead() -> dict[str, Any]:
    """The firm's name, address lines and logo (a data: URL, or "")."""
    logo = ""
    if path := settings.CANDOR_FIRM_LOGO:
        kind = settings.CANDOR_FIRM_LOGO_TYPES[path.suffix.lower()]
        logo = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    return {
        "name": settings.CANDOR_FIRM_NAME,
        "address": list(settings.CANDOR_FIRM_ADDRESS),
        "logo": logo,
    }


def render(template: str, context: dict[str, Any], *, identity: Identity) -> bytes:
    """`template` (extending advisory/pdf/base.html) as a PDF document."""
    # Imported here: WeasyPrint takes about a second to import (it parses its
    # own stylesheets), which every process would pay at start for a page
    # few requests ask for.
    from weasyprint import HTML

    html = render_to_string(
        template,
        {
            **context,
            "letterhead": letterhead(),
            "identity": identity,
            "stylesheets": [inline_css(PRINT_CSS), inline_css(PDF_CSS)],
        },
    )
    return HTML(string=html, url_fetcher=fetcher()).write_pdf()


def fetcher():
    """WeasyPrint's fetcher for data: URLs only (the logo): it logs and skips any other."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


def letter_pdf(case: LetGoCase, *, by: User, at: datetime.datetime | None = None) -> bytes:
    """The case's letter as it stands (whatever its `letter` text holds), to
    download or to send."""
    identity = Identity(
        record=f"Let-go case {case.pk} · {case.client}",
        generated_at=at or timezone.now(),
        generated_by=str(by),
    )
    context = {"case": case, "client": case.client, "letter": _letter_text(case)}
    return render("advisory/pdf/letter.html", context, identity=identity)


def _letter_text(case: LetGoCase) -> str:
    """The letter's text as the PDF shows it. With a postal address, the PDF
    names the recipient in its address block (advisory/pdf/letter.html), so
    the two lines near the top naming them too (the contact, then the client,
    as letters/disengagement.txt writes them) are left to that block. Any
    other text is shown as it is."""
    client = case.client
    if not client.postal_address.strip():
        return case.letter
    names = [client.contact_name or client.name, client.name]
    lines = case.letter.replace("\r\n", "\n").split("\n")
    for start in range(min(len(lines) - 1, 8)):
        if [line.strip() for line in lines[start : start + 2]] == names:
            return "\n".join(lines[:start] + lines[start + 2 :])
    return case.letter


def dossier_pdf(context: dict[str, Any], *, by: User) -> bytes:
    """The dossier of `context` (evidence.dossier.dossier_context) as a PDF:
    the same record as the page and the pack's dossier.html, made at the
    same moment."""
    client = context["client"]
    identity = Identity(
        record=f"Relationship dossier · client {client.pk} · {client}",
        generated_at=context["generated_at"],
        generated_by=str(by),
    )
    return render("advisory/pdf/dossier.html", {**context, "standalone": True}, identity=identity)


def letter_filename(case: LetGoCase) -> str:
    return f"candor-letgo-case-{case.pk}-{slugify(case.client.name) or 'client'}-letter.pdf"


def dossier_filename(client: Client, day: datetime.date) -> str:
    return f"candor-{slugify(client.name) or f'client-{client.pk}'}-dossier-{day.isoformat()}.pdf"
