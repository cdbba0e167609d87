"""Reading Candor's PDFs in tests: valid, and what their pages say."""

from __future__ import annotations

import io

from pypdf import PdfReader


def pdf_text(document: bytes) -> str:
    """The text of every page of a valid PDF (pypdf refuses anything else),
    with runs of white space made single spaces."""
    assert document.startswith(b"%PDF-"), document[:20]
    reader = PdfReader(io.BytesIO(document), strict=True)
    assert len(reader.pages) >= 1
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def pdf_pages(document: bytes) -> list[str]:
    reader = PdfReader(io.BytesIO(document), strict=True)
    return [" ".join((page.extract_text() or "").split()) for page in reader.pages]
