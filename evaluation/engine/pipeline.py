"""The one evaluation pipeline, shared by the platform's workers and ``manage.py evaluate_task``: subsample,
read the results cache, else load the model, evaluate and store the result."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from contest.rules import SUBSAMPLE_CAP

from .cache import ResultsCache, cache_key
from .metrics import Example
from .runner import Scorer, count_groups, evaluate, subsample


def evaluate_task_examples(
    examples: Sequence[Example],
    *,
    metric: str,
    file_sha256: str,
    model: str,
    model_identity: str,
    load_scorer: Callable[[], Scorer],
    cache: ResultsCache | None,
    cap: int = SUBSAMPLE_CAP,
    on_start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict, bool]:
    """The result (``EvaluationResult.to_json()``) of a task file's examples on a model, and whether it came from
    the cache.

    Above ``cap`` examples, a uniform subsample seeded by the file's sha256 is evaluated, and the cap is part of
    the cache key: a round with another cap never reads a result computed on another subsample. The model is
    loaded (``load_scorer()``) only on a cache miss; ``on_start`` then gets the number of scoring groups and
    ``progress`` counts of groups done.
    """
    chosen, seed = subsample(examples, file_sha256=file_sha256, cap=cap)

    def compute() -> dict:
        if on_start is not None:
            on_start(count_groups(chosen, metric))
        return evaluate(
            chosen, metric=metric, scorer=load_scorer(), model=model, subsample_seed=seed, progress=progress
        ).to_json()

    if cache is None:
        return compute(), False
    key = cache_key(
        file_sha256=file_sha256,
        metric=metric,
        model_identity=model_identity,
        subsample_cap=None if seed is None else cap,
    )
    return cache.get_or_compute(key, compute)
