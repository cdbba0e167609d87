"""Reading a page in tests: the form as shown, its version, the count line, a
field's error, and how many queries the page costs."""

from __future__ import annotations

import html
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape


def shown_form(response) -> dict:
    """What a browser sends back when the form is submitted as shown."""
    data = {}
    for field in response.context["form"]:
        if field.field.disabled:
            continue
        value = field.value()
        if isinstance(value, list | tuple):
            data[field.html_name] = [str(v) for v in value]
        elif value is not None:
            data[field.html_name] = str(value)
    return data


def version(response) -> int:
    """The version the page's form carries (its hidden `version` field)."""
    return int(re.search(r'name="version" value="(\d+)"', response.content.decode())[1])


def showing(first: int, last: int, total: int, things: str) -> str:
    """The count line above a list of `things` ("clients", "engagements")."""
    return f"Showing {first}\N{EN DASH}{last} of {total} {things}"


def field_error(response, field: str, message: str) -> bool:
    """The message is shown right under the field (crispy's invalid-feedback).

    Fields have the ids id_<name>, or decision-<name> and outcome-<name> in the
    two quick-action forms that share the disagreement page.
    """
    page = response.content.decode()
    return any(
        f'<p id="error_1_{prefix}{field}"><strong>{escape(message)}</strong></p>' in page
        for prefix in ("id_", "decision-", "outcome-")
    )


def list_queries(client, url: str) -> int:
    """How many queries a GET of `url` costs (the page must answer 200)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def error_under(page: str, name: str) -> str:
    """The error shown under the field `name` (crispy's invalid-feedback), as text."""
    match = re.search(rf'id="(?:id_|decision-|outcome-){name}_error"[^>]*>(.*?)</div>', page, re.S)
    assert match, f"no error shown next to {name}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match[1])).strip()
