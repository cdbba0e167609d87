"""Record ids typed in URLs and forms."""

from __future__ import annotations

# The largest id a database column holds (64-bit, PostgreSQL's bigint).
MAX_ID = 2**63 - 1


def parse_id(text: str) -> int | None:
    """A record id typed in a URL or a form: ASCII digits a column can hold, else None.

    (`"²".isdigit()` is true, and int() refuses it.)"""
    text = str(text).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19 and int(text) <= MAX_ID:
        return int(text)
    return None
