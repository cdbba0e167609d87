"""Where a form may send people back to: a path on this site, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def local_url(request: HttpRequest, url: str | None) -> str | None:
    """The path (and query) of `url` when it points at this site (a `next`, or
    a Referer with its host), else None.

    Only a path: redirect() would read a bare word as a view's name, and a
    control character can't go in a header."""
    if not url or not url.isprintable():
        return None
    if not url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    path = urlsplit(url)._replace(scheme="", netloc="").geturl()
    return path if path.startswith("/") and not path.startswith("//") else None
