"""From examples and a scorer to the contest's per-example values and their summary."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from contest.rules import SUBSAMPLE_CAP

from .metrics import (
    SEQUENCE_PROB,
    Example,
    ScoringGroup,
    check_metric,
    score_example,
    scoring_groups,
    summarize,
)
from .version import ENGINE_VERSION


class Scorer(Protocol):
    """A backend: ``logp(continuation | context)`` for every continuation of every group.

    A backend that knows its tokenizer also has ``continuation_tokens(group) -> list[int]``: how many tokens
    each continuation of the group is scored on (see :func:`unequal_class_tokens`).
    """

    identity: str

    def score(
        self, groups: Sequence[ScoringGroup], *, progress: Callable[[int], None] | None = None
    ) -> list[list[float]]: ...


@dataclass(frozen=True)
class EvaluationResult:
    metric: str
    model: str
    n_examples: int
    rows: list[int]
    values: list[float]
    mean: float
    stderr: float
    accuracy: float | None
    subsample_seed: int | None
    engine_version: str
    # Per example, whether the answer won (see metrics.score_example); None for sequence_prob. Not part of
    # evaluate_task's output, but kept with cached results for pages that show which examples a model got right.
    correct: list[bool] | None = None
    # Per example, the log-probability of each continuation of each scored prompt (classification: one list
    # over the classes; logodds: prompt then other_prompt; sequence_prob: the completion's).
    logprobs: list[list[list[float]]] | None = None
    # How many examples have classes of different token counts on the model's tokenizer; None when unknown.
    unequal_class_tokens: int | None = None

    def to_json(self) -> dict:
        return asdict(self)


def subsample_seed(file_sha256: str) -> int:
    """The seed of a file's subsample: derived from its content, so the same file gets the same subsample."""
    return int(file_sha256[:8], 16)


def subsample(
    examples: Sequence[Example], *, file_sha256: str, cap: int = SUBSAMPLE_CAP
) -> tuple[list[Example], int | None]:
    """All examples when there are at most ``cap``; else a uniform sample of ``cap`` (in file order) and its seed."""
    if len(examples) <= cap:
        return list(examples), None
    seed = subsample_seed(file_sha256)
    chosen = sorted(random.Random(seed).sample(range(len(examples)), cap))
    return [examples[i] for i in chosen], seed


def unequal_class_tokens(scorer: Scorer, per_example: Sequence[Sequence[ScoringGroup]]) -> int | None:
    """How many examples have classes that the scorer's tokenizer splits into different numbers of tokens.

    The rules ask for classes of equal length: a longer class gets a lower probability for its length alone.
    None when the backend cannot count tokens (no ``continuation_tokens``) or no group has two continuations.
    """
    count_tokens = getattr(scorer, "continuation_tokens", None)
    if count_tokens is None or all(len(g.continuations) < 2 for gs in per_example for g in gs):
        return None
    return sum(any(len(set(count_tokens(g))) > 1 for g in gs) for gs in per_example)


def count_groups(examples: Sequence[Example], metric: str) -> int:
    return sum(len(scoring_groups(e, metric)) for e in examples)


def evaluate(
    examples: Sequence[Example],
    *,
    metric: str,
    scorer: Scorer,
    model: str,
    subsample_seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EvaluationResult:
    """Score ``examples`` (already subsampled) with ``scorer``; ``progress`` gets counts of groups done."""
    check_metric(metric)
    per_example = [scoring_groups(e, metric) for e in examples]
    groups = [g for gs in per_example for g in gs]
    logps = scorer.score(groups, progress=progress)
    scores, per_example_logps, start = [], [], 0
    for example, gs in zip(examples, per_example, strict=True):
        mine = [[float(lp) for lp in group] for group in logps[start : start + len(gs)]]
        scores.append(score_example(example, metric, mine))
        per_example_logps.append(mine)
        start += len(gs)
    summary = summarize(scores, metric)
    return EvaluationResult(
        metric=metric,
        model=model,
        n_examples=len(examples),
        rows=[e.row for e in examples],
        values=[s.value for s in scores],
        mean=summary.mean,
        stderr=summary.stderr,
        accuracy=summary.accuracy,
        subsample_seed=subsample_seed,
        engine_version=ENGINE_VERSION,
        correct=None if metric == SEQUENCE_PROB else [bool(s.correct) for s in scores],
        logprobs=per_example_logps,
        unequal_class_tokens=unequal_class_tokens(scorer, per_example),
    )
