"""Whole-page caching that serves no page older than the last write.

At a large firm's scale the read pages (home, lists, health board, client
page) cost tens of milliseconds to build, most of it rendering, while most
views repeat a page nothing has changed since. `cached_page` keeps a rendered
page for the session that asked for it, under the firm's *data generation*: a
counter in the shared cache that moves on with every write to the database.
A page is only served under the generation it was rendered in, so after any
write — the user's own or anyone else's — the next view renders afresh.

How writes are noticed: every database connection, in every process (web
servers, the task worker, management commands), gets an execute wrapper when
it opens (`watch_writes`, connected in AdvisoryConfig.ready, whether or not
this process serves cached pages). Any statement other than a read (INSERT,
UPDATE, DELETE, TRUNCATE, DDL, a CTE…) moves the generation on: at once in
autocommit, when the transaction commits inside one (a page rendered
meanwhile elsewhere shows what was committed then, under a generation the
commit retires), and before the writing connection's own next page read in
that transaction, so it sees its own uncommitted writes too (tests run inside
a transaction that never commits). The session table and django-axes' log-in
attempts are left out: nothing cached shows them.

When a request's generation is read: by GenerationMiddleware, before anything
reads the database for it, so nothing a page shows (the user's role and
permissions included) is older than the generation it is kept under.

What a cached page depends on is in its key: the code, templates and static
manifest it was rendered with (`build_id`), the session (so the user, and
their CSRF secret, whose masked tokens stay valid), the full path with its
query string and today's date. Pages expire after PAGE_CACHE_SECONDS whatever
happens, which bounds anything time-dependent. Not cached: other methods than
GET, htmx requests, a request with messages to show (they belong to one
response), responses other than a 200 HTML page, and responses whose view
sets a cookie. The CSP nonce a page was rendered with is replaced by the
current request's, so a nonce is never sent twice.

What it does not see: writes made without Django (psql, a restore, a raw
driver cursor such as seed_scale's COPY, which bumps by itself), statements
sent outside the execute wrappers, manual transaction management
(`set_autocommit(False)`, which Candor doesn't use), and the moment between a
commit and its bump. Run `manage.py clear_page_cache` after writing without
Candor; PAGE_CACHE_SECONDS bounds the rest.

It needs a cache every process shares (Redis): PAGE_CACHE is on when
REDIS_URL is set. With process-local memory a worker would not see another
process's writes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable
from functools import cache, partial, wraps
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.utils import timezone

logger = logging.getLogger(__name__)

GENERATION_KEY = "candor:data-generation"
_UNSEEN_WRITE = "candor_page_cache_unseen_write"  # on a connection
MAX_PAGE_BYTES = 2 * 1024 * 1024

# Statements that change nothing (a compound SELECT may open with "(").
# Everything else counts as a write.
_READ = re.compile(
    r"[\s(]*(SELECT|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|SET|SHOW|EXPLAIN|PRAGMA)\b", re.I
)
# Writes to tables no cached page shows.
_UNSHOWN = re.compile(r'\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(django_session|axes_)', re.I)


def _cache():
    return caches["default"]


# --- The data generation ----------------------------------------------------


def current_generation() -> int | None:
    """The data generation now (None if the cache lost it meanwhile)."""
    for connection in connections.all(initialized_only=True):
        if getattr(connection, _UNSEEN_WRITE, False):
            setattr(connection, _UNSEEN_WRITE, False)
            bump()  # this connection's own uncommitted write
    generation = _cache().get(GENERATION_KEY)
    if generation is None:
        generation = time.time_ns()
        if not _start_generation(generation):
            generation = _cache().get(GENERATION_KEY)  # another process started it
    return generation


def _start_generation(generation: int) -> bool:
    # From the clock, not 1: if the counter is evicted or the cache restarts
    # empty, it starts past every generation used before, so no old page
    # matches. (A cache restored from a snapshot could hold an older counter
    # with its pages: clear it, or run clear_page_cache, after a restore.)
    return _cache().add(GENERATION_KEY, generation, timeout=None)


def bump() -> None:
    """Move the data generation on: every cached page is out of date."""
    try:
        try:
            _cache().incr(GENERATION_KEY)
        except ValueError:  # no counter yet
            if not _start_generation(time.time_ns()):
                _cache().incr(GENERATION_KEY)
    except Exception:
        # The write itself has happened; refusing it now helps nobody. Pages
        # cached before it expire within PAGE_CACHE_SECONDS.
        logger.exception("page cache: could not move the data generation on")


def changes_pages(sql: str) -> bool:
    """Whether a statement may change what a cached page shows."""
    return not _READ.match(sql) and not _UNSHOWN.match(sql)


def _after_commit(alias: str) -> None:
    setattr(connections[alias], _UNSEEN_WRITE, False)
    bump()


def _on_execute(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    if changes_pages(sql if isinstance(sql, str) else str(sql)):
        connection = context["connection"]
        if not connection.in_atomic_block:  # autocommit: written already
            bump()
            return result
        setattr(connection, _UNSEEN_WRITE, True)
        registered = (getattr(entry[1], "func", None) for entry in connection.run_on_commit)
        if _after_commit not in registered:  # once per transaction
            transaction.on_commit(
                partial(_after_commit, connection.alias), using=connection.alias, robust=True
            )
    return result


def watch_writes(sender, connection, **kwargs) -> None:
    """`connection_created`: see every statement this connection runs."""
    if _on_execute not in connection.execute_wrappers:
        # First, so a temporary `connection.execute_wrapper()` block that
        # was open when the connection (re)opened pops its own wrapper.
        connection.execute_wrappers.insert(0, _on_execute)


# --- Pages ------------------------------------------------------------------


def _page_key(request: HttpRequest, generation: int) -> str:
    parts = (
        request.session.session_key,
        request.META["CSRF_COOKIE"],
        request.get_full_path(),
        timezone.localdate().isoformat(),
    )
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return f"candor:page:{build_id()}:{generation}:{digest}"


@cache
def build_id() -> str:
    """What this process renders pages with: its code, templates and static
    files' manifest. During a rolling deploy, or right after one, each version
    keeps its own pages (other HTML, other hashed static file names)."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for folder in ("accounts", "advisory", "config", "templates"):
        for path in sorted((base / folder).rglob("*")):
            if path.suffix in (".py", ".html", ".txt") and path.is_file():
                digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    manifest = Path(settings.STATIC_ROOT or "") / "staticfiles.json"
    if settings.STATIC_ROOT and manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()[:16]


def _pending_messages(request: HttpRequest) -> int:
    storage = getattr(request, "_messages", None)
    return len(storage) if storage is not None else 0


def _may_use_cache(request: HttpRequest) -> bool:
    # PAGE_CACHE and GET are GenerationMiddleware's conditions (no generation otherwise).
    return (
        request.user.is_authenticated
        and request.session.session_key is not None
        # The browser's CSRF secret, which the page's tokens are masked from;
        # without one, the page makes a new secret and sets its cookie.
        and bool(request.META.get("CSRF_COOKIE"))
        and "HX-Request" not in request.headers
        and not _pending_messages(request)
    )


def _may_keep(request: HttpRequest, response: HttpResponse) -> bool:
    return (
        response.status_code == 200
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
        and len(response.content) <= MAX_PAGE_BYTES
        and not response.cookies
        and not _pending_messages(request)
    )


class GenerationMiddleware:
    """Read the data generation before anything reads the database for the
    request (so before AuthenticationMiddleware loads the user): a page is
    then kept under a generation no newer than anything it shows, the user's
    role and permissions included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.page_generation = None
        if (
            settings.PAGE_CACHE
            and request.method == "GET"
            and settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            try:
                request.page_generation = current_generation()
            except Exception:
                logger.exception("page cache: unavailable, rendering pages")
        return self.get_response(request)


def cached_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve the page from the cache while nothing has been written since it
    was rendered for this session (see the module's docstring). Put it below
    the decorators that check who may see the page: they run every time."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        generation = getattr(request, "page_generation", None)
        if generation is None or not _may_use_cache(request):
            return view(request, *args, **kwargs)
        key = _page_key(request, generation)
        try:
            kept = _cache().get(key)
        except Exception:
            logger.exception("page cache: unavailable, rendering the page")
            return view(request, *args, **kwargs)
        current = get_nonce(request)
        if kept is not None and (kept[2] is None or current is not None):
            content, content_type, nonce = kept
            if nonce:
                content = content.replace(nonce.encode(), str(current).encode())
            return HttpResponse(content, content_type=content_type)
        response = view(request, *args, **kwargs)
        if _may_keep(request, response):
            nonce = get_nonce(request)
            kept = (response.content, response["Content-Type"], str(nonce) if nonce else None)
            try:
                _cache().set(key, kept, settings.PAGE_CACHE_SECONDS)
            except Exception:
                logger.exception("page cache: could not keep the page")
        return response

    return wrapper
