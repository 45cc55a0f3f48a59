"""How a task's metric scales with model size: slope, bootstrap confidence interval, shape of the curve.

Pure numpy, no Django: the evaluation pages, the e-mails and the reviewers' tools share these numbers.

For all four contest metrics a larger value is worse, so *inverse scaling* is a value that grows with model
size: a positive slope of the mean value against log10(parameters). The Prize Rubric asks "how straight and steep
is the inverse scaling trend": :func:`scaling_trend` answers with the slope and its 95% confidence interval
("steep", and whether it is clearly above zero), whether the means move the same way at every step ("strictly
monotonic") and whether the curve rises then falls (U-shaped scaling, where larger models may recover).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contest.rules import CLASSIFICATION, LOSS_METRICS, METRICS

INVERSE = "inverse"
STANDARD = "standard"
UNCLEAR = "unclear"

CONFIDENCE = 0.95
# A U-shape's peak must exceed each end by more than this many standard errors of the difference.
U_SHAPE_STDERRS = 2.0
# Bootstrap replicates are averaged in blocks of at most this many sampled values (bounds the memory used).
_BLOCK = 4_000_000


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}: expected one of {', '.join(METRICS)}")


def metric_word(metric: str) -> str:
    """The word for the metric's value in sentences for contestants: "loss" or "log-odds difference"."""
    check_metric(metric)
    return "loss" if metric in LOSS_METRICS else "log-odds difference"


@dataclass(frozen=True)
class ModelValues:
    name: str
    parameters: int
    values: Sequence[float]  # per example, aligned across the models of a series


def summary(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of per-example values: std with ddof=0 over sqrt(n), the contest's convention."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("summary needs a non-empty one-dimensional sequence of values")
    return float(array.mean()), float(array.std(ddof=0) / math.sqrt(array.size))


@dataclass(frozen=True)
class Trend:
    slope: float  # least-squares slope of the mean value against log10(parameters)
    ci_low: float  # 95% bootstrap confidence interval of the slope, resampling EXAMPLES
    ci_high: float  # (the same resampled example indices for every model: paired bootstrap)
    direction: str  # "inverse" (CI entirely above 0), "standard" (CI entirely below 0), "unclear"
    monotonic: bool  # the means strictly increase or strictly decrease along size
    u_shaped: bool  # the means rise then fall: see scaling_trend for "clearly"
    n_models: int
    n_examples: int
    metric: str = CLASSIFICATION
    # The models sorted by size, with their mean and standard error (empty when built by hand).
    models: tuple[str, ...] = ()
    parameters: tuple[int, ...] = ()
    means: tuple[float, ...] = ()
    stderrs: tuple[float, ...] = ()

    def explanations(self) -> list[str]:
        """Plain-language lines for a contestant, one per finding: slope, monotonicity, U-shape, caveats."""
        word = metric_word(self.metric)
        lines = [self._slope_line(word)]
        lines.append(self._monotonic_line(word))
        if self.u_shaped:
            peak = ""
            if self.means and self.models:
                peak = f", peaking at {self.models[int(np.argmax(self.means))]}"
            lines.append(
                f"The curve first gets worse, then better (U-shaped{peak}): larger models may recover."
            )
        if self.n_models == 2:
            lines.append("Only 2 models: the trend rests on two points, so its shape cannot be judged.")
        return lines

    def _slope_line(self, word: str) -> str:
        slope, low, high = _format_numbers(self.slope, self.ci_low, self.ci_high)
        head = f"Slope {slope} per 10× parameters (95% CI {low} to {high})"
        if self.direction == INVERSE:
            return f"{head}: the {word} grows as models get larger — inverse scaling."
        if self.direction == STANDARD:
            return f"{head}: the {word} falls as models get larger — standard scaling, not inverse scaling."
        return f"{head}: the interval includes 0, so the {word} shows no clear trend with model size."

    def _monotonic_line(self, word: str) -> str:
        if self.monotonic:
            rising = self.means[-1] > self.means[0] if len(self.means) >= 2 else self.slope > 0
            verb = "rises" if rising else "falls"
            return (
                f"The mean {word} {verb} at every step from the smallest to the largest model "
                "(strictly monotonic)."
            )
        if len(self.means) >= 2:
            steps = np.diff(np.asarray(self.means))
            rises = int((steps > 0).sum())
            return (
                f"The mean {word} rises at {rises} of {steps.size} steps from one model size to the next: "
                "not strictly monotonic."
            )
        return f"The mean {word} does not move the same way at every step: not strictly monotonic."


def _format_numbers(*numbers: float) -> list[str]:
    """Signed numbers with the same decimals, enough to show two significant digits of the largest."""
    largest = max((abs(x) for x in numbers if math.isfinite(x)), default=0.0)
    decimals = 2 if largest == 0 else min(6, max(2, 1 - math.floor(math.log10(largest))))
    return [f"{x:+.{decimals}f}" for x in numbers]


def _slope_weights(x: np.ndarray) -> np.ndarray:
    """w such that the least-squares slope of y against x is w @ y."""
    centred = x - x.mean()
    return centred / (centred @ centred)


def _bootstrap_slopes(weights: np.ndarray, values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The least-squares slope of each replicate's per-model means, for resampled example indices ``idx``.

    ``values`` is (models, examples), ``idx`` is (replicates, examples). The slope is linear in the means:
    slope = sum_j w_j mean_j = mean_i (sum_j w_j values[j, i]), so each example's contribution
    ``z_i = w @ values[:, i]`` is computed once and every replicate's slope is the mean of its resampled z:
    the same as fitting each replicate's means, with the same indices for every model (paired), in
    O(replicates × examples) time and without a (models × replicates × examples) array.
    """
    # The weights sum to 0, so centring each example's values across models changes nothing but rounding:
    # a flat series gets a slope of exactly 0.
    z = weights @ (values - values.mean(axis=0))
    rows = max(1, _BLOCK // max(1, idx.shape[1]))
    return np.concatenate([z[idx[start : start + rows]].mean(axis=1) for start in range(0, len(idx), rows)])


def scaling_trend(models: Sequence[ModelValues], *, metric: str, n_boot: int = 1000, seed: int = 0) -> Trend:
    """The scaling trend of one series of models, from per-example values aligned across the models.

    - ``slope``: least-squares slope of the per-model means against log10(parameters) (per 10× parameters).
    - ``ci_low``/``ci_high``: 95% percentile bootstrap interval of the slope, resampling examples with
      replacement; the same resampled indices for every model (paired), since every model sees the same
      examples. Deterministic for a given ``seed``.
    - ``direction``: "inverse" when the whole interval is above 0, "standard" when it is below 0, else "unclear".
    - ``monotonic``: the means strictly increase, or strictly decrease, from each model to the next larger one.
    - ``u_shaped``: the highest (worst) mean is at an interior model and exceeds the means of both the smallest
      and the largest model by more than 2 standard errors of the difference, sqrt(se_peak² + se_end²) with
      the per-model standard errors of :func:`summary` (a two-sided test at about 95% for each end; it ignores
      the pairing of examples, which usually makes it conservative).
    """
    check_metric(metric)
    if len(models) < 2:
        raise ValueError(
            f"a scaling trend needs at least 2 models of different sizes, got {len(models)}: "
            "evaluate the task on more models of the series"
        )
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    ordered = sorted(models, key=lambda m: m.parameters)
    for model in ordered:
        if model.parameters <= 0:
            raise ValueError(
                f"model {model.name!r} has {model.parameters} parameters: expected a positive count"
            )
    for smaller, larger in zip(ordered, ordered[1:], strict=False):
        if smaller.parameters == larger.parameters:
            raise ValueError(
                f"models {smaller.name!r} and {larger.name!r} have the same size ({smaller.parameters} "
                "parameters): a series needs models of different sizes"
            )
    lengths = {len(m.values) for m in ordered}
    if len(lengths) != 1:
        detail = ", ".join(f"{m.name}: {len(m.values)}" for m in ordered)
        raise ValueError(
            f"the models must have values for the same examples, but the counts differ ({detail})"
        )
    (n,) = lengths
    if n == 0:
        raise ValueError("the models have no per-example values")
    values = np.array([np.asarray(m.values, dtype=np.float64) for m in ordered])
    if not np.isfinite(values).all():
        bad = next(m.name for m, row in zip(ordered, values, strict=True) if not np.isfinite(row).all())
        raise ValueError(f"model {bad!r} has a value that is not a finite number (NaN or infinite)")

    x = np.log10(np.array([m.parameters for m in ordered], dtype=np.float64))
    weights = _slope_weights(x)
    means = values.mean(axis=1)
    stderrs = values.std(axis=1, ddof=0) / math.sqrt(n)
    slope = float(weights @ (means - means.mean()))

    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n), dtype=np.int32 if n < 2**31 else np.int64)
    slopes = _bootstrap_slopes(weights, values, idx)
    tail = (1 - CONFIDENCE) / 2 * 100
    ci_low, ci_high = (float(v) for v in np.percentile(slopes, [tail, 100 - tail]))

    # Rounding noise must not turn a flat series into a trend: zero is "within" this tolerance.
    tolerance = 1e-12 * max(1.0, float(np.abs(means).max()))
    if ci_low > tolerance:
        direction = INVERSE
    elif ci_high < -tolerance:
        direction = STANDARD
    else:
        direction = UNCLEAR

    steps = np.diff(means)
    monotonic = bool((steps > 0).all() or (steps < 0).all())

    peak = int(np.argmax(means))
    u_shaped = False
    if 0 < peak < len(means) - 1:
        u_shaped = all(
            means[peak] - means[end] > U_SHAPE_STDERRS * math.hypot(stderrs[peak], stderrs[end])
            for end in (0, len(means) - 1)
        )

    return Trend(
        slope=slope,
        ci_low=ci_low,
        ci_high=ci_high,
        direction=direction,
        monotonic=monotonic,
        u_shaped=u_shaped,
        n_models=len(ordered),
        n_examples=n,
        metric=metric,
        models=tuple(m.name for m in ordered),
        parameters=tuple(int(m.parameters) for m in ordered),
        means=tuple(float(v) for v in means),
        stderrs=tuple(float(v) for v in stderrs),
    )
