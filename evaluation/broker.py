"""Whether the broker that carries runs to the workers answers, so the version page can say that evaluations are
delayed while it does not (a Redis restart, say): runs stay queued in the database and the sweeper sends them
again once it is back (services.resend_queued_runs)."""

import logging
import threading
import time

from config.celery import app

logger = logging.getLogger(__name__)

DELAYED_NOTICE = "Evaluations are delayed: the queue is unreachable; your runs will start when it is back."
# The answer is kept this long in each web process: a page polled every few seconds by many contestants asks
# the broker about once per process and period. Not in Django's cache: in production that is the same Redis.
PING_TTL_SECONDS = 5.0
PING_TIMEOUT_SECONDS = 1.0

_lock = threading.Lock()
_last: tuple[float, bool] | None = None  # (when, reachable)


def _ping() -> bool:
    if app.conf.task_always_eager:
        return True  # tasks run in this process: there is no broker to wait for
    options = {
        **(app.conf.broker_transport_options or {}),
        "socket_connect_timeout": PING_TIMEOUT_SECONDS,
        "socket_timeout": PING_TIMEOUT_SECONDS,
    }
    try:
        with app.connection_for_write(
            connect_timeout=PING_TIMEOUT_SECONDS, transport_options=options
        ) as conn:
            conn.ensure_connection(max_retries=0, timeout=PING_TIMEOUT_SECONDS)
    except Exception as error:  # any failure to connect means the same to a contestant: runs wait
        logger.warning("the broker does not answer", extra={"error": str(error)})
        return False
    return True


def queue_reachable() -> bool:
    """True when the broker answered within PING_TIMEOUT_SECONDS, asked at most every PING_TTL_SECONDS."""
    global _last
    with _lock:
        now = time.monotonic()
        if _last is not None and now - _last[0] < PING_TTL_SECONDS:
            return _last[1]
        reachable = _ping()
        _last = (time.monotonic(), reachable)
        return reachable


def forget() -> None:
    """Ask the broker again on the next call (tests)."""
    global _last
    with _lock:
        _last = None


def delay_notice(runs) -> str:
    """The notice to show beside ``runs`` when some wait in the queue and the broker does not answer; else ""."""
    if any(run.status == "queued" for run in runs) and not queue_reachable():
        return DELAYED_NOTICE
    return ""
