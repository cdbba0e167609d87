"""The dossier as a PDF (the letter's PDF: tests/advisory/letgo/test_letter_views.py),
and what every Candor PDF carries: the letterhead and the footer."""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from django.urls import reverse
from django.utils import formats, timezone
from weasyprint import HTML

from advisory.evidence import dossier, pdf
from tests.factories import DisagreementFactory
from tests.pdfs import pdf_pages, pdf_text

pytestmark = pytest.mark.django_db

# A one-pixel transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def firm(settings):
    settings.CANDOR_FIRM_NAME = "Hale & Partners LLP"
    settings.CANDOR_FIRM_ADDRESS = ("1 Fleet Street", "London EC4Y 1AA")
    settings.CANDOR_FIRM_LOGO = None


def get_pdf(client, acme):
    response = client.get(reverse("client-dossier-pdf", args=[acme.pk]))
    assert response.status_code == 200, response.status_code
    return response


def test_the_dossier_pdf_is_a_download_of_the_dossier(client, advisor, acme, dispute, firm):
    dispute.client_request = "Skip the stock count this year."
    dispute.save()
    client.force_login(advisor)

    response = get_pdf(client, acme)

    day = timezone.localdate().isoformat()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="candor-acme-holdings-dossier-{day}.pdf"'
    )
    assert response["Cache-Control"] == "private, no-store"
    text = pdf_text(response.content)
    assert "Relationship dossier" in text
    assert "Acme Holdings" in text
    assert "Stock count skipped" in text
    assert "Skip the stock count this year." in text


def test_every_page_has_the_letterhead_first_and_the_footer(
    client, advisor, acme, acme_engagement, firm
):
    # Enough disagreements for several pages.
    for number in range(12):
        DisagreementFactory(
            engagement=acme_engagement,
            title=f"Disagreement number {number}",
            client_request="A long request. " * 40,
        )
    client.force_login(advisor)

    pages = pdf_pages(get_pdf(client, acme).content)

    assert len(pages) > 1
    assert "Hale & Partners LLP" in pages[0]
    assert "1 Fleet Street" in pages[0] and "London EC4Y 1AA" in pages[0]
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert f"Relationship dossier · client {acme.pk} · Acme Holdings" in page
        assert f"by {advisor}" in page
        assert "generated " in page


def test_the_footer_says_when_the_copy_was_made(acme, advisor, firm):
    context = dossier.dossier_context(acme)
    made = formats.date_format(timezone.localtime(context["generated_at"]), "DATETIME_FORMAT")

    text = pdf_text(pdf.dossier_pdf(context, by=advisor))

    assert f"generated {made} by {advisor}" in text


def test_the_logo_is_embedded_and_nothing_else_is_fetched(
    acme, advisor, settings, tmp_path, caplog
):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    settings.CANDOR_FIRM_LOGO = logo
    acme.notes = '<img src="file:///etc/passwd"> and http://example.com/x.png'
    acme.save()

    head = pdf.letterhead()
    with caplog.at_level(logging.WARNING):
        document = pdf.dossier_pdf(dossier.dossier_context(acme), by=advisor)

    assert head["logo"].startswith("data:image/png;base64,")
    assert b"/Subtype /Image" in document or b"/Subtype/Image" in document
    # The client's notes are text on the page, never a tag that loads anything.
    assert '<img src="file:///etc/passwd">' in pdf_text(document)
    assert "Failed to load" not in caplog.text


def test_a_url_other_than_data_is_refused_by_the_renderer(advisor, caplog, settings):
    # Defence in depth: even our own template could not reach a file.
    with caplog.at_level(logging.WARNING):
        document = pdf.render(
            "advisory/pdf/base.html",
            {},
            identity=pdf.Identity("Test", timezone.now(), "someone"),
        )
        HTML(string='<img src="file:///etc/hostname">', url_fetcher=pdf.fetcher()).write_pdf()
    assert pdf_text(document)
    assert "disallowed protocol" in caplog.text


def test_the_evidence_pack_holds_the_dossier_pdf_in_its_manifest(client, advisor, acme, dispute):
    client.force_login(advisor)
    response = client.get(reverse("client-evidence-pack", args=[acme.pk]))
    pack = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))

    text = pdf_text(pack.read("dossier.pdf"))
    manifest = pack.read("MANIFEST.sha256").decode()

    assert "Acme Holdings" in text and "Stock count skipped" in text
    assert "  dossier.pdf\n" in manifest
    assert "dossier.pdf" in pack.read("README.txt").decode()
