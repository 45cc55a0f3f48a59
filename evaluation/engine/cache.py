"""Results cache: one JSON file per (file sha256, metric, model identity, subsample cap, engine version)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from .version import ENGINE_VERSION

logger = logging.getLogger(__name__)


def directory_identity(path: Path) -> str:
    """A fingerprint of a model directory's files: contents of the small ones, size and modification time of
    the large ones (hashing many gigabytes of weights would cost more than a cached run saves)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        if stat.st_size <= 256 * 1024 * 1024:
            with file.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
        else:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def model_identity(model: str, *, dtype: str = "float32", api_base: str | None = None) -> str:
    """What a model is, for the cache: an endpoint and its model name, or a local directory's files and the
    dtype it runs in. Cheap to compute, so a cached run never loads the model."""
    if model.startswith("openai:"):
        return f"{model}@{api_base or ''}"
    path = Path(model)
    return f"hf:{directory_identity(path)}:{dtype}"


def cache_key(
    *,
    file_sha256: str,
    metric: str,
    model_identity: str,
    subsample_cap: int | None = None,
    engine_version: str = ENGINE_VERSION,
) -> str:
    """``subsample_cap``: the cap when it cut the file to a subsample, None when every example was evaluated
    (then rounds with different caps share the result, which is the same)."""
    payload = json.dumps([file_sha256, metric, model_identity, subsample_cap, engine_version])
    return hashlib.sha256(payload.encode()).hexdigest()


class ResultsCache:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self._path(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A damaged entry is a miss, not an error: the run recomputes and overwrites it.
            logger.warning("ignoring unreadable cache entry %s", path)
            return None

    def put(self, key: str, result: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file (two workers may finish the same key).
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(result, handle)
            os.replace(tmp, self._path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_or_compute(self, key: str, compute: Callable[[], dict]) -> tuple[dict, bool]:
        """The complete result cached under ``key``, or ``compute()``'s, stored under it; and whether it was a hit.

        An entry lacking any field of an EvaluationResult (written by something else) counts as a miss.
        """
        from .runner import EvaluationResult

        cached = self.get(key)
        if cached is not None and all(f.name in cached for f in fields(EvaluationResult)):
            return cached, True
        result = compute()
        self.put(key, result)
        return result, False
