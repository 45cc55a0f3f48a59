"""Charts as PNG images: each rendered once and stored under a key of its content, and only a few at a time.

A render starts a headless Chromium (about 2.4 s and a few hundred MB), so renders must neither repeat nor pile
up: an image is stored in the default storage as ``charts/<sha256 of the figure and size>.png`` and served from
there afterwards; at most ``CHART_RENDER_SLOTS`` renders run at once on a machine, whatever its processes and
threads (each slot is an exclusive lock on a file under ``VAR_DIR/locks``); a request that finds every slot
busy for ``CHART_RENDER_WAIT_SECONDS`` raises :class:`RenderersBusy` instead of waiting on.
"""

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from evaluation import plots

RETRY_AFTER_SECONDS = 5
_POLL_SECONDS = 0.1


class RenderersBusy(RuntimeError):
    """Every render slot of this machine stayed busy while the request waited."""


def storage_name(figure: dict, *, width: int, height: int) -> str:
    content = json.dumps({"figure": figure, "width": width, "height": height}, sort_keys=True)
    return f"charts/{hashlib.sha256(content.encode()).hexdigest()}.png"


def chart_png(figure: dict, *, width: int = 800, height: int = 500) -> bytes:
    """The plotly figure (as JSON data) as a PNG image: the stored one, or rendered in a free slot and stored.

    Raises RenderersBusy when no slot frees in time, and plots.PngExportUnavailable when this machine cannot
    render.
    """
    name = storage_name(figure, width=width, height=height)
    stored = _stored(name)
    if stored is not None:
        return stored
    with _render_slot():
        stored = _stored(name)  # rendered by another request while this one waited for a slot
        if stored is not None:
            return stored
        image = plots.figure_png(go.Figure(figure), width=width, height=height)
    stored_as = default_storage.save(name, ContentFile(image))
    if stored_as != name:  # another render of the same chart was stored a moment ago
        default_storage.delete(stored_as)
    return image


def _stored(name: str) -> bytes | None:
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as f:
        return f.read()


def _pause() -> None:
    time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def _render_slot() -> Iterator[None]:
    """Hold one of the machine's render slots for the block; RenderersBusy when none frees in time.

    flock(2) locks belong to an open file, so two threads of one process exclude each other as two processes
    do, and the kernel drops the lock of a process that dies.
    """
    folder = Path(settings.VAR_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + settings.CHART_RENDER_WAIT_SECONDS
    while True:
        for slot in range(settings.CHART_RENDER_SLOTS):
            handle = open(folder / f"chart-render-{slot}.lock", "ab")  # noqa: SIM115 (closed below)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                handle.close()  # closing the file releases its lock
            return
        if time.monotonic() >= deadline:
            raise RenderersBusy(
                f"all {settings.CHART_RENDER_SLOTS} chart render slots stayed busy for "
                f"{settings.CHART_RENDER_WAIT_SECONDS:g} s"
            )
        _pause()
