"""A client's relationship dossier (a printable page, and the same as a PDF)
and evidence pack (a ZIP).

Both stay available after a client is let go: the records are read-only then,
never hidden.
"""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from accounts.permissions import get_visible_or_404, permission_required
from advisory.evidence import dossier, pdf
from advisory.models import Client
from advisory.views.common import pdf_download

TEMPLATE = "advisory/dossier.html"
# The same dossier as one self-contained document (a partial of TEMPLATE).
STANDALONE_TEMPLATE = f"{TEMPLATE}#standalone"


def _client(request: HttpRequest, pk: int) -> Client:
    return get_visible_or_404(
        Client.objects.select_related("lead_advisor", "team"), request.user, pk=pk
    )


@require_safe
@permission_required("advisory.view_client")
def client_dossier(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client(request, pk)
    return render(request, TEMPLATE, dossier.dossier_context(client))


@require_safe
@permission_required("advisory.view_client")
def client_dossier_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    client = _client(request, pk)
    context = dossier.dossier_context(client)
    day = timezone.localtime(context["generated_at"]).date()
    return pdf_download(
        pdf.dossier_pdf(context, by=request.user), pdf.dossier_filename(client, day)
    )


@require_safe
@permission_required("advisory.view_client")
def client_evidence_pack(request: HttpRequest, pk: int) -> FileResponse:
    client = _client(request, pk)
    context = dossier.dossier_context(client)
    html = render_to_string(
        STANDALONE_TEMPLATE, {**context, "standalone": True, "print_css": dossier.print_css()}
    )
    pack = dossier.evidence_pack(
        client,
        rendered_dossier_html=html,
        rendered_dossier_pdf=pdf.dossier_pdf(context, by=request.user),
        context=context,
    )
    day = timezone.localtime(context["generated_at"]).date().isoformat()
    response = FileResponse(
        pack,
        as_attachment=True,
        filename=f"candor-{slugify(client.name) or f'client-{client.pk}'}-{day}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
