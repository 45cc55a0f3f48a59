"""A worker's heartbeat: keeps its claim on a run alive from claim to completion, model loading included."""

import contextvars
import logging
import threading

from django.db import DatabaseError, connection

from evaluation import services

logger = logging.getLogger(__name__)


class RunLost(Exception):
    """The sweeper gave the run to another worker while this one was still on it."""


class Heartbeat:
    """A daemon thread that writes the run's heartbeat every ``every`` seconds while the block runs.

    Progress alone cannot keep a claim alive: loading a large model (or one long forward pass) may take longer
    than the sweeper's timeout. When the heartbeat finds the run is no longer this worker's, ``check()`` raises
    ``RunLost`` so the worker stops instead of computing a result nobody will store.
    """

    def __init__(self, *, run_id: int, token: str, every: float):
        self.run_id, self.token, self.every = run_id, token, every
        self._stop = threading.Event()
        self._lost = threading.Event()
        # With a copy of the caller's context, the thread's log records carry the run's log_context.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._beat,), name=f"heartbeat-run-{run_id}", daemon=True
        )

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        if self.lost:
            raise RunLost

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    held = services.record_heartbeat(run_id=self.run_id, token=self.token)
                except DatabaseError:
                    # A database hiccup: try again next time on a new connection.
                    logger.exception("could not write the heartbeat")
                    connection.close()
                    continue
                if not held:
                    self._lost.set()
                    logger.warning("the claim on the run was lost (the sweeper gave it away); stopping")
                    return
        finally:
            connection.close()  # this thread's own connection
