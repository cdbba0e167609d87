"""Hostile values for the fuzz tests (test_fuzz*.py), and the checks they share.

Every payload that could run as code carries MARK, so a page can be searched
for it: wherever it appears, it must appear as text, never as markup.
"""

from __future__ import annotations

from django.apps import apps
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.security.html import inline_code

MARK = "7331"

# Markup and script in the places a template could let it through: element
# content, attribute values (both quotes), a textarea, a URL, the template
# language itself, and SQL for good measure.
PAYLOADS = [
    f"<script>alert({MARK})</script>",
    f'"><img src=x onerror=alert({MARK})>',
    f"'><svg onload=alert({MARK})>",
    f'" autofocus onfocus="alert({MARK})',
    f"' onmouseover='alert({MARK})",
    f"</textarea><script>alert({MARK})</script>",
    f"</title><script>alert({MARK})</script>",
    f"javascript:alert({MARK})",
    f"{{{{ {MARK} }}}}{{% now 'Y' %}}",
    f"<!--{MARK}--><style>*{{}}</style>",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "'; DROP TABLE advisory_client; --",
    "Robert\u202eevil",  # right-to-left override
    "\ufeffBOM",
    "💥 \U0001d54f Ω ﷽"  # astral-plane characters,
    "a\r\nb\rc\nd",
]

DATES = [
    "0001-01-01",
    "9999-12-31",
    "-1",
    "2026-02-30",
    "2026-13-01",
    "0000-00-00",
    "99999-01-01",
    "1970-01-01",
    "2026-01-01T00:00:00",
    "31/12/2025",
    "yesterday",
    "",
]

NUMBERS = [
    "-1",
    "0",
    str(2**31),
    str(2**63),
    str(-(2**63) - 1),
    str(2**64),
    "9" * 400,
    "9" * 5000,  # beyond int()'s 4,300 digits
    "-" + "9" * 25,
    "+" + str(2**63),
    "²",  # a digit to str.isdigit(), not to int()
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "-0",
    "1.5",
    "0x10",
    "١٢",  # Arabic-Indic digits
    " 1 ",
]


def with_nul(text: str, at: int) -> str:
    at = at % (len(text) + 1)
    return text[:at] + "\x00" + text[at:]


def huge(size: int) -> str:
    """A long text that still carries a payload, so escaping is checked too."""
    return (PAYLOADS[1] + " ") + "x" * max(0, size - len(PAYLOADS[1]) - 1)


plain_text = st.text(max_size=40)
payload = st.sampled_from(PAYLOADS)
text = st.one_of(
    payload,
    plain_text,
    st.builds(lambda a, b: f"{a} {b}", plain_text, payload),
    st.builds(with_nul, st.one_of(payload, plain_text), st.integers(0, 60)),
    st.sampled_from([201, 1_001, 5_001, 100_000]).map(huge),
)
date = st.one_of(st.sampled_from(DATES), st.dates().map(lambda d: d.isoformat()))
number = st.one_of(st.sampled_from(NUMBERS), st.integers().map(str))
# Any field may receive any kind of value: a date where a number goes, markup in a choice.
anything = st.one_of(text, date, number)
BY_KIND = {
    "text": st.one_of(text, text, anything),
    "date": st.one_of(date, date, anything),
    "number": st.one_of(number, number, anything),
    "choice": anything,
}

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def row_counts() -> dict[str, int]:
    """Rows of every model of the two apps, history and the hash chain included."""
    return {
        model._meta.label: model._default_manager.count()
        for app in ("accounts", "advisory")
        for model in apps.get_app_config(app).get_models()
    }


def unsafe_markup(html: str) -> list[str]:
    """Where a payload came through as markup rather than text."""
    problems = [p for p in inline_code(html) if MARK in p or "javascript:" in p]
    for raw in ("<script>alert(", "<img src=x", "<svg onload", f'onfocus="alert({MARK})'):
        if raw in html:
            problems.append(f"raw {raw!r} in the page")
    if f"onmouseover='alert({MARK})" in html:
        problems.append("raw onmouseover attribute in the page")
    return problems
