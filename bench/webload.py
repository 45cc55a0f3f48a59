"""A bounded, headless load generator for bench/web.py (locust has no wheel in the offline index).

Each virtual user is a thread with its own session cookie that sends a fixed number of GET requests, one after
another, over a fresh connection each (gunicorn's sync workers close every connection), to 127.0.0.1 only.
"""

import http.client
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

LOCAL_HOSTS = ("127.0.0.1", "localhost")
TARGET_RATIO = 5.0


@dataclass(frozen=True)
class VirtualUser:
    cookie: str  # the Cookie header: the user's session, or empty for an anonymous visitor
    path: str


@dataclass
class Timings:
    page: str
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        """The p-th percentile in milliseconds (nearest rank)."""
        ordered = sorted(self.seconds)
        return 1000 * ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return 1000 * statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        return self.percentile(95)


def session_cookie(user_id: int) -> str:
    """A logged-in session of the user, made as Django's login makes it, as a Cookie header."""
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _get(host: str, port: int, user: VirtualUser) -> tuple[int, float]:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Cookie": user.cookie} if user.cookie else {}
    start = time.perf_counter()
    try:
        connection.request("GET", user.path, headers=headers)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    return response.status, time.perf_counter() - start


def run_page(
    base_url: str, page: str, users: list[VirtualUser], *, requests: int, warmup: int = 1
) -> Timings:
    """Every user sends ``warmup`` untimed requests, then all start together and send ``requests`` timed ones."""
    parts = urlsplit(base_url)
    if parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"the benchmark only sends traffic to this machine, not to {parts.hostname}")
    host, port = parts.hostname, parts.port or 80
    timings = Timings(page)
    lock = threading.Lock()
    start = threading.Barrier(len(users))

    def visit(user: VirtualUser) -> None:
        try:
            for _ in range(warmup):
                _get(host, port, user)
            start.wait()
            for _ in range(requests):
                status, seconds = _get(host, port, user)
                with lock:
                    if status == 200:
                        timings.seconds.append(seconds)
                    else:
                        timings.errors.append(f"{user.path}: HTTP {status}")
        except Exception as error:  # reported with the table: a benchmark with errors exits non-zero
            start.abort()
            with lock:
                timings.errors.append(f"{user.path}: {error!r}")

    threads = [threading.Thread(target=visit, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings


def after_a_change(base_url: str, user: VirtualUser, *, times: int = 3) -> float:
    """The median time in ms of one request alone, each made right after the data changed: what the first viewer
    after a change waits for, the page computed afresh (pages are cached until the data changes)."""
    from config import freshness

    parts = urlsplit(base_url)
    if parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"the benchmark only sends traffic to this machine, not to {parts.hostname}")
    seconds = []
    for _ in range(times):
        freshness.changed()
        status, took = _get(parts.hostname, parts.port or 80, user)
        if status != 200:
            raise RuntimeError(f"{user.path}: HTTP {status}")
        seconds.append(took)
    return 1000 * statistics.median(seconds)


def around(before: Timings, after: Timings) -> Timings:
    """The static file's timings right before and right after a page's, pooled: the page's baseline under the
    conditions it ran in (a VM's speed drifts by a third within one run)."""
    return Timings("static file", before.seconds + after.seconds, before.errors + after.errors)


def table(results: list[tuple[Timings, Timings]]) -> list[str]:
    """One line per page: n, p50 and p95 in ms, those of the static file around it (``around``), the page's as
    a ratio to the static file's, and the verdict."""
    lines = [
        f"{'page':<22} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'static p50':>10} {'static p95':>10} "
        f"{'p50 ×':>7} {'p95 ×':>7}  target p95 ≤ {TARGET_RATIO:g}×"
    ]
    for timings, static in results:
        if not timings.seconds or not static.seconds:
            lines.append(f"{timings.page:<22} {len(timings.seconds):>5}  no successful request")
            continue
        r50, r95 = timings.p50 / static.p50, timings.p95 / static.p95
        lines.append(
            f"{timings.page:<22} {len(timings.seconds):>5} {timings.p50:>8.1f} {timings.p95:>8.1f} "
            f"{static.p50:>10.1f} {static.p95:>10.1f} {r50:>7.1f} {r95:>7.1f}  "
            + ("pass" if r95 <= TARGET_RATIO else "FAIL")
        )
    return lines
