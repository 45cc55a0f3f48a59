"""What a page computed, kept in the shared cache until the contest's data changes.

One stamp in the cache stands for the state of the database. Every statement that writes to it (INSERT, UPDATE or
DELETE, whatever the code path: ``save``, ``QuerySet.update``, ``bulk_create``, a raw cursor; in a web process, a
worker or a management command) replaces the stamp at once, and again when its transaction commits, so a page
computed from the data before the commit is never kept under the stamp that follows it. A page caches what it
computed under the stamp it read: the first request after any change computes afresh, the ones after it read the
result. Writes that change nothing a page shows (the session and cache tables, a run's heartbeat and progress)
leave the stamp alone; code that changes what pages show outside the database (the worker caching a trend)
calls :func:`changed`.

Each write also replaces the stamp of its table: a part of a page cached by the tables it reads (``cached``'s
``tables``) is kept through changes elsewhere (the overview's trends through reviews).

Only with a cache server (Redis, as in production and the tests); the embedded default computes every page.
Pages that show the time (time left to a deadline) put what they show of it in their key. The cache failing is
never an error: the page is computed as if nothing was cached.
"""

import hashlib
import logging
import re
import threading
import uuid
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A cached page lives at most this long, whatever the stamp: a bound on what a lost stamp update could cost.
SECONDS = 600

# The tables whose writes change nothing a page shows: logins and sessions, and the database cache itself.
UNWATCHED_TABLES = frozenset({"django_session", "django_cache"})

# Per table, columns an UPDATE may set without changing the stamp, registered by the app that owns the table
# (see unwatched_columns): what pages never show from their cache, such as a run's heartbeat.
_UNWATCHED_COLUMNS: dict[str, frozenset[str]] = {}

_WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?([A-Za-z0-9_]+)"?', re.IGNORECASE)
_SET = re.compile(r'\s*UPDATE\s+"?[A-Za-z0-9_]+"?\s+SET\s+(.*?)\s+WHERE\s', re.IGNORECASE | re.DOTALL)
_ASSIGNED = re.compile(r'"?([A-Za-z0-9_]+)"?\s*=')

# Stands for the request's CSRF token in a cached page: each request puts its own in its place.
CSRF_PLACEHOLDER = "freshnessCsrfTokenPlaceholder7f3a9c"


SOURCE_FOLDERS = (
    "templates",
    "config",
    "accounts",
    "submissions",
    "evaluation",
    "reviews",
    "pages",
    "contest",
)


def _code_fingerprint() -> str:
    """A digest of the templates and Python code of the site: after a deploy that changes them, no page is read
    that older code rendered."""
    root = Path(settings.BASE_DIR)
    digest = hashlib.sha256()
    for folder in SOURCE_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in (".py", ".html"):
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE = _code_fingerprint()


# What a computation may name among its tables for what is cached outside the database: the evidence (charts,
# trends) the worker and the version page compute.
EVIDENCE = "evidence"


def _stamp_key(name: str = "stamp") -> str:
    # The database's name in the key: two sites (or test runs) sharing one cache never share a stamp.
    return f"freshness:{CODE}:{settings.DATABASES['default']['NAME']}:{name}"


def _table_key(table: str) -> str:
    return _stamp_key(f"table:{table}")


_warned = False


def changed(*tables: str) -> None:
    """Say that what pages show has changed: in ``tables`` (database tables, or EVIDENCE), or anywhere when none
    is named. Every page cached so far is computed afresh on its next request; a computation cached by the
    tables it reads (``cached``'s ``tables``) only when one of them is named, or none."""
    global _warned
    if not enabled():
        return
    memo = getattr(_request, "stamps", None)
    if memo:
        memo.clear()
    new = uuid.uuid4().hex
    stamps = {_stamp_key(): new, **{_table_key(table): new for table in tables}}
    if not tables:
        stamps[_stamp_key("epoch")] = new
    try:
        cache.set_many(stamps, None)
    except Exception as error:  # the cache being down costs nothing: nothing cached can be read either
        if not _warned:  # once per process: every write of the database comes here
            _warned = True
            logger.warning("the cache did not take the new freshness stamp: %s", error)


def enabled() -> bool:
    """Whether pages are cached: with a cache server (Redis), not with the embedded default's cache table, which
    a stamp written between a statement and the reading of its result would disturb (and a demo's pages are
    cheap)."""
    return not isinstance(caches["default"], DatabaseCache)


def _read_stamps(keys: list[str]) -> list[str]:
    """The current stamps of ``keys`` in the cache (a new one for any the cache lost)."""
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, uuid.uuid4().hex, None)
            found[key] = cache.get(key)
    return [found[key] for key in keys]


# Within a request, each stamp is read from the cache once, the global ones along with the first: a page's
# parts (the rounds, the body) take them from here. Any change this process makes clears them; another
# process's change during the request shows from the next request on, as if this one had been served a moment
# earlier. Outside requests (workers, commands) every read goes to the cache.
_request = threading.local()


def begin_request(**_) -> None:
    """request_started's receiver."""
    _request.stamps = {}


def end_request(**_) -> None:
    """request_finished's receiver."""
    _request.stamps = None


def _stamps(keys: list[str], *, fresh: bool = False) -> list[str]:
    """The current stamps of ``keys``: as this request first read them, unless ``fresh``."""
    memo = getattr(_request, "stamps", None)
    if memo is None or fresh:
        return _read_stamps(keys)
    missing = [key for key in keys if key not in memo]
    if missing:
        wanted = list(dict.fromkeys([*missing, _stamp_key(), _stamp_key("epoch")]))
        memo.update(zip(wanted, _read_stamps(wanted), strict=True))
    return [memo[key] for key in keys]


def stamp() -> str:
    """The current stamp: it changes with every change."""
    return _stamps([_stamp_key()])[0]


class _AtCommit:
    """A connection's callback at the commit of a transaction that wrote: the tables it wrote changed."""

    def __init__(self) -> None:
        self.tables: set[str] = set()

    def __call__(self) -> None:
        tables, self.tables = self.tables, set()
        changed(*tables)


def unwatched_columns(table: str, columns: set[str]) -> None:
    """An UPDATE of ``table`` that sets only some of ``columns`` leaves the stamp alone. For columns written
    often that no cached page shows (a page that shows them must not be kept while they change: see
    ``cached``'s ``keep``)."""
    _UNWATCHED_COLUMNS[table] = frozenset(columns)


def _changed_table(sql: str) -> str | None:
    """The table the statement changes in a way pages may show, if it does."""
    write = _WRITE.match(sql)
    if write is None or write.group(1) in UNWATCHED_TABLES:
        return None
    table = write.group(1)
    unwatched = _UNWATCHED_COLUMNS.get(table)
    if unwatched is None:
        return table
    assignments = _SET.match(sql)
    # Every "name =" of the SET clause, expressions' comparisons included: one not in the set means a change.
    if assignments is None or not set(_ASSIGNED.findall(assignments.group(1))) <= unwatched:
        return table
    return None


def _watch(execute, sql, params, many, context):
    result = execute(sql, params, many, context)
    table = _changed_table(sql) if isinstance(sql, str) else None
    if table is not None:
        changed(table)
        connection = context["connection"]
        if connection.in_atomic_block:
            at_commit = connection.__dict__.setdefault("freshness_at_commit", _AtCommit())
            at_commit.tables.add(table)
            if not any(callback[1] is at_commit for callback in connection.run_on_commit):
                connection.on_commit(at_commit)
    return result


def watch_writes(*, connection: BaseDatabaseWrapper, **_) -> None:
    """connection_created's receiver: the connection's writes replace the stamp (once per connection object)."""
    if enabled() and _watch not in connection.execute_wrappers:
        connection.execute_wrappers.append(_watch)


def watch_open_connections() -> None:
    """For connections opened before the receiver was connected (none, normally)."""
    for connection in connections.all(initialized_only=True):
        watch_writes(connection=connection)


def _full_key(key: tuple[Hashable, ...], stamps: list[str]) -> str:
    return f"freshness:{CODE}:{hashlib.sha256(repr((key, stamps)).encode()).hexdigest()}"


_MISSING = object()


def cached(
    key: tuple[Hashable, ...],
    compute: Callable[[], T],
    *,
    keep: Callable[[T], bool] = lambda value: True,
    tables: tuple[str, ...] | None = None,
) -> T:
    """``compute()``'s result, from the cache while the data has not changed since it was computed: any data, or
    only that of ``tables`` (every table ``compute`` reads, and EVIDENCE for cached trends) when given. A result
    ``keep`` refuses is not cached (the next request computes it again)."""
    if not enabled():
        return compute()
    keys = [_stamp_key()] if tables is None else [_stamp_key("epoch"), *map(_table_key, sorted(tables))]
    try:
        stamps = _stamps(keys)
        full = _full_key(key, stamps)
        found = cache.get(full, _MISSING)
    except Exception as error:  # one line per request while the cache is down: no traceback to flood the log
        logger.warning("the cache could not be read (%s): computing the page afresh", error)
        return compute()
    if found is not _MISSING:
        return found
    value = compute()
    if not keep(value):
        return value
    try:
        # Data that changed meanwhile makes the result stale at birth: no one would read it under the old stamps,
        # so it is not stored (while runs start and end every second, the cache does not fill with such pages).
        if _stamps(keys, fresh=True) == stamps:
            cache.set(full, value, SECONDS)
    except Exception as error:
        logger.warning("the cache did not take a computed page (%s)", error)
    return value


def viewer_key() -> tuple[Hashable, ...]:
    """What makes one viewer's rendering of the same data differ: the time zone times are shown in."""
    return (timezone.get_current_timezone_name(),)


class CachedBody:
    """A cached part of a page, as the UTF-8 bytes the response sends: ``render_page`` splices it into the page
    around it, so a page served from the cache neither decodes, copies through the template engine nor encodes
    again what may be a few hundred kB (a tally of 100 rows: 0.7 ms of each view, against 0.08 ms so). In a
    template, ``{{ body }}`` writes a marker that ``render_page`` replaces; ``text()`` is the HTML itself."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __str__(self) -> str:
        return _BODY_MARK

    def text(self) -> str:
        return self.data.decode()


# A comment no escaped text can hold ("<" is escaped), unguessable besides.
_BODY_MARK = mark_safe(f"<!--cached body {uuid.uuid4().hex}-->")  # noqa: S308


def render_page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """``django.shortcuts.render`` for a page whose context holds a ``CachedBody`` as ``body``."""
    body = context["body"]
    html = render_to_string(template, context, request=request).encode()
    return HttpResponse(html.replace(_BODY_MARK.encode(), body.data))


def cached_html(
    request: HttpRequest,
    key: tuple[Hashable, ...],
    template: str,
    context: Callable[[], dict],
    *,
    keep: Callable[[dict], bool] = lambda context: True,
    tables: tuple[str, ...] | None = None,
) -> CachedBody:
    """``template`` rendered with ``context()``, from the cache while the data (of ``tables``, as in ``cached``) has
    not changed (unless ``keep`` refuses the context), for ``render_page``. Its forms carry this request's CSRF
    token (rendered with a placeholder, filled in on every request)."""
    return cached_html_with(request, key, template, context, lambda values: None, keep=keep, tables=tables)[1]


def cached_html_with(
    request: HttpRequest,
    key: tuple[Hashable, ...],
    template: str,
    context: Callable[[], dict],
    also: Callable[[dict], T],
    *,
    keep: Callable[[dict], bool] = lambda context: True,
    tables: tuple[str, ...] | None = None,
) -> tuple[T, CachedBody]:
    """As ``cached_html``, with ``also(context())`` cached beside the HTML: what the page around it needs of the
    same data (its title), so that a request served from the cache reads none of it. An exception from
    ``context`` goes to the caller, nothing cached."""
    kept = []

    def render() -> tuple[T, bytes]:
        values = context()
        kept.append(keep(values))
        html = render_to_string(template, {**values, "csrf_token": CSRF_PLACEHOLDER}, request=request)
        return also(values), html.encode()

    extra, data = cached(
        ("html bytes", template, *key, *viewer_key()), render, keep=lambda value: all(kept), tables=tables
    )
    placeholder = CSRF_PLACEHOLDER.encode()
    if placeholder in data:
        data = data.replace(placeholder, get_token(request).encode())
    return extra, CachedBody(data)
