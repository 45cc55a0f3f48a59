"""The contest's four metrics, from continuation log-probabilities to per-example values.

Every metric reduces to scoring ``logp(continuation | context)`` for a few (context, continuations) groups per
example; a backend scores the groups and these functions turn the numbers into the contest's values. Keeping the
two apart lets every backend share one definition of each metric.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contest.rules import ABSOLUTE_LOGODDS, CLASSIFICATION, LOGODDS, METRICS, SEQUENCE_PROB


@dataclass(frozen=True)
class Example:
    """One row of a task file; which optional fields are set depends on the metric."""

    row: int
    prompt: str
    classes: tuple[str, ...] = ()
    answer_index: int | None = None
    completion: str | None = None
    other_prompt: str | None = None


@dataclass(frozen=True)
class ScoringGroup:
    """A context and the continuations scored after it: the unit a backend batches (the context is shared)."""

    context: str
    continuations: tuple[str, ...]
    row: int | None = None  # the task file's row, for messages


@dataclass(frozen=True)
class ExampleScore:
    value: float
    correct: bool | None


class ContextTooShortError(ValueError):
    """A continuation does not fit in the model's context window (it is never truncated)."""


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")


def scoring_groups(example: Example, metric: str) -> list[ScoringGroup]:
    """The groups whose log-probabilities ``score_example`` needs, in the order it expects them."""
    if metric == CLASSIFICATION:
        return [ScoringGroup(example.prompt, tuple(example.classes), example.row)]
    if metric == SEQUENCE_PROB:
        return [ScoringGroup(example.prompt, (example.completion or "",), example.row)]
    if metric in (LOGODDS, ABSOLUTE_LOGODDS):
        if len(example.classes) != 2:
            raise ValueError(
                f"row {example.row}: {metric} needs exactly 2 classes, got {len(example.classes)}"
            )
        return [
            ScoringGroup(example.prompt, tuple(example.classes), example.row),
            ScoringGroup(example.other_prompt or "", tuple(example.classes), example.row),
        ]
    check_metric(metric)
    raise AssertionError("unreachable")


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def score_example(example: Example, metric: str, logps: Sequence[Sequence[float]]) -> ExampleScore:
    """The example's value from the log-probabilities of its ``scoring_groups`` (one list per group)."""
    if metric == CLASSIFICATION:
        (lp,) = logps
        answer = example.answer_index
        loss = -(lp[answer] - _logsumexp(lp))
        # Ties go to the first class, like argmax: a tie is not a win for a later answer.
        return ExampleScore(loss, int(np.argmax(lp)) == answer)
    if metric == SEQUENCE_PROB:
        ((lp,),) = logps
        return ExampleScore(-lp, None)
    lp_prompt, lp_other = logps
    value = (lp_prompt[0] - lp_prompt[1]) - (lp_other[0] - lp_other[1])
    answer = example.answer_index
    if answer == 1:
        value = -value
    correct = lp_other[answer] > lp_other[1 - answer]
    return ExampleScore(abs(value) if metric == ABSOLUTE_LOGODDS else value, correct)


@dataclass(frozen=True)
class Summary:
    mean: float
    stderr: float
    accuracy: float | None


def summarize(scores: Sequence[ExampleScore], metric: str) -> Summary:
    """Mean and standard error (ddof 0 over sqrt(n), as the contest's plots) and accuracy where defined."""
    values = np.array([s.value for s in scores], dtype=np.float64)
    n = len(values)
    if n == 0:
        return Summary(math.nan, math.nan, None)
    accuracy = None
    if metric != SEQUENCE_PROB:
        accuracy = float(np.mean([bool(s.correct) for s in scores]))
    return Summary(float(values.mean()), float(values.std(ddof=0) / math.sqrt(n)), accuracy)
