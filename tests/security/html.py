"""What the Content-Security-Policy would refuse, found in a page's HTML."""

from __future__ import annotations

from html.parser import HTMLParser

# json_script's data blocks are not code: the browser never runs them.
DATA_TYPES = {"application/json", "application/ld+json"}


class _InlineCode(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._script: str | None = None  # the open <script>'s description, if inline code

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> (an inline event handler)")
            if name == "style":
                self.problems.append(f"<{tag} style=…> (an inline style)")
        if tag == "style":
            self.problems.append("<style> (an inline style sheet)")
        if tag == "script":
            kind = (names.get("type") or "").lower()
            if names.get("src") is None and kind not in DATA_TYPES:
                self._script = f"<script {names}>"
        if tag in ("a", "form", "iframe") and any(
            (value or "").strip().lower().startswith("javascript:")
            for name, value in attrs
            if name in ("href", "action", "src")
        ):
            self.problems.append(f"<{tag}> with a javascript: URL")

    def handle_data(self, data: str) -> None:
        if self._script is not None and data.strip():
            self.problems.append(f"{self._script} with inline code: {data.strip()[:60]!r}")
            self._script = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def inline_code(html: str) -> list[str]:
    """Inline scripts, event handlers, styles and javascript: URLs in `html`."""
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return parser.problems
