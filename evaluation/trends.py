"""How a task's metric scales with model size: slope, paired bootstrap intervals and the verdict of a series.

Pure numpy, no Django: the evaluation pages, the e-mails and the reviewers' tools share these numbers.

For all four contest metrics a larger value is worse, so *inverse scaling* is a value that grows with model
size: a positive slope of the mean value against log10(parameters). The Prize Rubric asks "how straight and steep
is the inverse scaling trend": :func:`scaling_trend` answers with the slope and its 95% confidence interval, the
paired differences between the ends of the curve and its peak or trough, whether the means move the same way at
every step ("strictly monotonic"), whether the models are better than chance at all, and one verdict word of
:data:`VERDICTS` (exact strings: the pages, the help page and the tests use them). :func:`split_halves` says how
often that verdict survives halving the examples at random (a trend that rests on a few examples seldom does).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from contest.rules import CLASSIFICATION, LOSS_METRICS, METRICS, SEQUENCE_PROB

INVERSE = "inverse"
STANDARD = "standard"
UNCLEAR = "unclear"

# The verdict of a series, one of these exact words.
VERDICT_INVERSE = "inverse scaling"
VERDICT_U_SHAPED = "inverse, then recovering (U-shaped)"
VERDICT_STANDARD = "standard scaling"
VERDICT_INVERTED_U = "standard, then worsening (inverted U)"
VERDICT_NONE = "no clear trend"
VERDICT_AT_CHANCE = "at chance"
VERDICTS = (
    VERDICT_INVERSE,
    VERDICT_U_SHAPED,
    VERDICT_STANDARD,
    VERDICT_INVERTED_U,
    VERDICT_NONE,
    VERDICT_AT_CHANCE,
)
# The help page's anchor of each verdict.
ANCHORS = {
    VERDICT_INVERSE: "inverse-scaling",
    VERDICT_U_SHAPED: "u-shaped",
    VERDICT_STANDARD: "standard-scaling",
    VERDICT_INVERTED_U: "inverted-u",
    VERDICT_NONE: "no-clear-trend",
    VERDICT_AT_CHANCE: "at-chance",
}

CONFIDENCE = 0.95
N_BOOT = 1000
# Bootstrap indices are drawn in blocks of at most this many (bounds the memory used).
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
    # Per example, whether the model chose the answer (None: the metric has no accuracy, or it is unknown).
    correct: Sequence[bool] | None = None


def summary(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of per-example values: std with ddof=0 over sqrt(n), the contest's convention."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("summary needs a non-empty one-dimensional sequence of values")
    return float(array.mean()), float(array.std(ddof=0) / math.sqrt(array.size))


def verdict_counts(verdicts: Sequence[str]) -> list[tuple[str, int]]:
    """How many series got each verdict, in the order of :data:`VERDICTS`, leaving out those none got: the
    pages' one line across series, e.g. "inverse scaling on 2 of 2 series"."""
    return [(word, verdicts.count(word)) for word in VERDICTS if word in verdicts]


@dataclass(frozen=True)
class Trend:
    slope: float  # least-squares slope of the mean value against log10(parameters)
    ci_low: float  # 95% bootstrap confidence interval of the slope, resampling EXAMPLES
    ci_high: float  # (the same resampled example indices for every model: paired bootstrap)
    direction: str  # "inverse" (CI entirely above 0), "standard" (CI entirely below 0), "unclear"
    monotonic: bool  # the means strictly increase or strictly decrease along size
    u_shaped: bool  # the verdict is "inverse, then recovering (U-shaped)"
    n_models: int
    n_examples: int
    metric: str = CLASSIFICATION
    # The models sorted by size, with their mean and standard error (empty when built by hand).
    models: tuple[str, ...] = ()
    parameters: tuple[int, ...] = ()
    means: tuple[float, ...] = ()
    stderrs: tuple[float, ...] = ()
    verdict: str = VERDICT_NONE
    loss_verdict: str = VERDICT_NONE  # the verdict of the values alone, before the check against chance
    # Paired differences of means, each (difference, 95% CI low, high); larger is worse for the first model named.
    end_diff: tuple[float, ...] = ()  # largest model - smallest model
    rise_to_peak: tuple[float, ...] = ()  # peak model - smallest model
    fall_after_peak: tuple[float, ...] = ()  # peak model - largest model
    fall_to_trough: tuple[float, ...] = ()  # smallest model - trough model
    rise_after_trough: tuple[float, ...] = ()  # largest model - trough model
    steps: tuple[tuple[float, ...], ...] = ()  # per step, next larger model - model, in size order
    peak: int = -1  # index (in size order) of the worst mean, and of the best
    trough: int = -1
    zig_zag: bool = False  # both a clear U shape and a clear inverted U: "no clear trend"
    chance: float | None = None  # mean over the examples of 1 / number of classes; None: no accuracy
    accuracies: tuple[float, ...] = ()
    above_chance: tuple[tuple[float, ...], ...] = ()  # per model: accuracy - chance, 95% CI low, high
    n_boot: int = N_BOOT

    @property
    def anchor(self) -> str:
        return ANCHORS[self.verdict]

    def explanations(self) -> list[str]:
        """Plain-language lines for a contestant: the verdict and why, then slope, monotonicity, caveats."""
        word = metric_word(self.metric)
        lines = [self._verdict_line(word), self._slope_line(word), self._monotonic_line(word)]
        if self.n_models == 2:
            lines.append("Only 2 models: the trend rests on two points, so its shape cannot be judged.")
        return lines

    def _model(self, index: int, role: str) -> str:
        """ "the largest model (m3)", or "the largest model" when the trend was built without model names."""
        if self.models and 0 <= index < len(self.models):
            return f"the {role} model ({self.models[index]})"
        return f"the {role} model"

    def _verdict_line(self, word: str) -> str:
        smallest, largest = self._model(0, "smallest"), self._model(self.n_models - 1, "largest")
        peak, trough = self._model(self.peak, "peak"), self._model(self.trough, "trough")
        if self.verdict == VERDICT_AT_CHANCE:
            shown = ", ".join(f"{a:.0%}" for a in self.accuracies)
            return (
                f"At chance: every model's accuracy ({shown}) is within its 95% confidence interval of chance "
                f"({self.chance:.0%}), so the models may not do the task at all and the {word} trend says "
                f"little (on its own it would be “{self.loss_verdict}”)."
            )
        if self.verdict == VERDICT_INVERSE:
            return (
                f"Inverse scaling: the slope's 95% CI is above 0 and {largest} has a higher "
                f"{word} than {smallest}, {_difference(self.end_diff)}."
            )
        if self.verdict == VERDICT_STANDARD:
            return (
                f"Standard scaling: the slope's 95% CI is below 0 and {largest} has a lower "
                f"{word} than {smallest}, {_difference(self.end_diff)}."
            )
        if self.verdict == VERDICT_U_SHAPED:
            return (
                f"Inverse, then recovering (U-shaped): the {word} rises clearly from {smallest} to {peak} "
                f"{_difference(self.rise_to_peak)}, then falls clearly to {largest} "
                f"{_difference(self.fall_after_peak)}: larger models may recover."
            )
        if self.verdict == VERDICT_INVERTED_U:
            return (
                f"Standard, then worsening (inverted U): the {word} falls clearly from {smallest} to {trough} "
                f"{_difference(self.fall_to_trough)}, then rises clearly to {largest} "
                f"{_difference(self.rise_after_trough)}."
            )
        return f"No clear trend: {self._no_trend_reason(word, largest, smallest, peak, trough)}."

    def _no_trend_reason(self, word: str, largest: str, smallest: str, peak: str, trough: str) -> str:
        if self.zig_zag:
            return (
                f"the {word} rises clearly to {peak} and falls clearly to {trough}, both between the smallest "
                "and the largest model: the curve zig-zags"
            )
        if self.direction == UNCLEAR:
            return "the slope's 95% CI includes 0"
        side = "above" if self.direction == INVERSE else "below"
        if self.end_diff and _interval_includes_zero(self.end_diff):
            return (
                f"the slope's 95% CI is {side} 0, but the difference between {largest} "
                f"and {smallest} is not clear: the {word} differs {_difference(self.end_diff)}"
            )
        if self.direction == INVERSE and self.fall_after_peak:
            return (
                f"the slope's 95% CI is above 0, but the {word} falls clearly after {peak}, "
                f"{_difference(self.fall_after_peak)}"
            )
        if self.direction == STANDARD and self.rise_after_trough:
            return (
                f"the slope's 95% CI is below 0, but the {word} rises clearly after {trough}, "
                f"{_difference(self.rise_after_trough)}"
            )
        return f"the slope's 95% CI is {side} 0, but the ends of the curve do not confirm it"

    def _slope_line(self, word: str) -> str:
        slope, low, high = _format_numbers(self.slope, self.ci_low, self.ci_high)
        head = f"Slope {slope} per 10× parameters (95% CI {low} to {high})"
        if self.direction == INVERSE:
            return f"{head}: above 0, the {word} grows with model size."
        if self.direction == STANDARD:
            return f"{head}: below 0, the {word} falls with model size."
        return f"{head}: the interval includes 0."

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


def interval_text(numbers: Sequence[float]) -> str:
    """An estimate with its interval, as the pages write it: "+0.12 (95% CI +0.05 to +0.20)"."""
    value, low, high = _format_numbers(*numbers)
    return f"{value} (95% CI {low} to {high})"


def _difference(numbers: Sequence[float]) -> str:
    return f"by {interval_text(numbers)}"


def _interval_includes_zero(numbers: Sequence[float]) -> bool:
    return numbers[1] <= 0 <= numbers[2]


def _format_numbers(*numbers: float) -> list[str]:
    """Signed numbers with the same decimals, enough to show two significant digits of the largest."""
    largest = max((abs(x) for x in numbers if math.isfinite(x)), default=0.0)
    largest = float(
        f"{largest:.12g}"
    )  # 0.0999999999999 (float noise, which varies with numpy's build) is 0.1
    decimals = 2 if largest == 0 else min(6, max(2, 1 - math.floor(math.log10(largest))))
    return [f"{x:+.{decimals}f}" for x in numbers]


def _slope_weights(x: np.ndarray) -> np.ndarray:
    """w such that the least-squares slope of y against x is w @ y."""
    centred = x - x.mean()
    return centred / (centred @ centred)


def _bootstrap_means(per_example: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Each replicate's mean of each row of ``per_example`` (k, examples), for resampled indices ``idx``
    (replicates, examples): a (k, replicates) array.

    Every statistic here is a linear contrast of the per-model means (a slope, a difference of two models, an
    accuracy minus chance), so it is the mean of per-example contributions, and one set of indices serves all
    of them (paired: every model is resampled on the same examples). Each replicate's count of each example is
    taken once (bincount, a row at a time: faster than one flat bincount), and one matrix product gives all k means, without a (k × replicates × examples)
    array.
    """
    n = idx.shape[1]
    counts = np.empty(idx.shape, dtype=np.float64)
    for replicate, sample in enumerate(idx):
        counts[replicate] = np.bincount(sample, minlength=n)
    return (counts @ per_example.T).T / n


def _validated(models: Sequence[ModelValues]) -> list[ModelValues]:
    if len(models) < 2:
        raise ValueError(
            f"a scaling trend needs at least 2 models of different sizes, got {len(models)}: "
            "evaluate the task on more models of the series"
        )
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
    if lengths == {0}:
        raise ValueError("the models have no per-example values")
    for model in ordered:
        if model.correct is not None and len(model.correct) != len(model.values):
            raise ValueError(
                f"model {model.name!r} has {len(model.correct)} correctness flags for {len(model.values)} "
                "values: expected one per example"
            )
    return ordered


def _arrays(
    models: Sequence[ModelValues], *, metric: str, chance: Sequence[float] | None
) -> tuple[list[ModelValues], np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The models in size order, their values (models × examples), and where the verdict can say "at chance",
    each example's chance and each model's correctness (models × examples) as numbers; else None twice."""
    check_metric(metric)
    ordered = _validated(models)
    n = len(ordered[0].values)
    values = np.array([np.asarray(m.values, dtype=np.float64) for m in ordered])
    if not np.isfinite(values).all():
        bad = next(m.name for m, row in zip(ordered, values, strict=True) if not np.isfinite(row).all())
        raise ValueError(f"model {bad!r} has a value that is not a finite number (NaN or infinite)")
    if chance is None or metric == SEQUENCE_PROB or any(m.correct is None for m in ordered):
        return ordered, values, None, None
    chances = np.asarray(chance, dtype=np.float64)
    if chances.shape != (n,) or not ((chances > 0) & (chances <= 1)).all():
        raise ValueError(f"chance must be {n} probabilities in (0, 1], one per example")
    correct = np.array([np.asarray(m.correct, dtype=np.float64) for m in ordered])
    return ordered, values, chances, correct


Interval = tuple[float, float, float]  # estimate, 95% CI low, high


@dataclass(frozen=True)
class _Decision:
    direction: str
    loss_verdict: str
    verdict: str
    zig_zag: bool


def _decide(
    *,
    means: np.ndarray,
    slope: Interval,
    difference: Callable[[int, int], Interval],
    above_chance: Sequence[Interval],
) -> _Decision:
    """The verdict rules (documented in :func:`scaling_trend`), from the per-model means in size order, the slope's
    interval, the paired difference ``difference(first, second)`` (first model minus second, with its interval)
    and each model's accuracy minus chance (empty: no accuracy). One place for the rules: the whole task's trend
    and the split halves use them alike."""
    last = len(means) - 1
    peak, trough = int(np.argmax(means)), int(np.argmin(means))
    # Rounding noise must not turn a flat series into a trend: zero is "within" this tolerance.
    tolerance = 1e-12 * max(1.0, float(np.abs(means).max()))

    def clear(interval: Interval) -> bool:
        return interval[1] > tolerance

    direction = INVERSE if slope[1] > tolerance else STANDARD if slope[2] < -tolerance else UNCLEAR
    falls_after_peak = peak < last and clear(difference(peak, last))
    rises_after_trough = trough < last and clear(difference(last, trough))
    u_shaped = 0 < peak < last and clear(difference(peak, 0)) and falls_after_peak
    inverted_u = 0 < trough < last and clear(difference(0, trough)) and rises_after_trough
    if u_shaped and inverted_u:  # a zig-zag: neither shape describes it
        loss_verdict = VERDICT_NONE
    elif u_shaped:
        loss_verdict = VERDICT_U_SHAPED
    elif inverted_u:
        loss_verdict = VERDICT_INVERTED_U
    elif direction == INVERSE and clear(difference(last, 0)) and not falls_after_peak:
        loss_verdict = VERDICT_INVERSE
    elif direction == STANDARD and difference(last, 0)[2] < -tolerance and not rises_after_trough:
        loss_verdict = VERDICT_STANDARD
    else:
        loss_verdict = VERDICT_NONE
    at_chance = bool(above_chance) and all(lo <= 0 <= hi for _, lo, hi in above_chance)
    return _Decision(
        direction=direction,
        loss_verdict=loss_verdict,
        verdict=VERDICT_AT_CHANCE if at_chance else loss_verdict,
        zig_zag=u_shaped and inverted_u,
    )


def scaling_trend(
    models: Sequence[ModelValues],
    *,
    metric: str,
    chance: Sequence[float] | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Trend:
    """The scaling trend of one series of models, from per-example values aligned across the models.

    ``chance``: per example, the probability of guessing its answer (1 / its number of classes); with every
    model's ``correct``, it lets the verdict say "at chance". Every interval below is the 95% percentile
    interval of ``n_boot`` bootstrap replicates that resample the examples with replacement, the same indices
    for every model and every statistic (paired); deterministic for a given ``seed``. A difference is "clear"
    when its whole interval is on one side of 0.

    - ``slope``: least-squares slope of the per-model means against log10(parameters) (per 10× parameters);
      ``direction``: "inverse" when its interval is above 0, "standard" when below, else "unclear".
    - ``verdict``, in this order:
      "at chance" when every model's accuracy minus chance has an interval that includes 0;
      "inverse, then recovering (U-shaped)" when the worst mean is at an interior model, clearly worse than
      the smallest model's and clearly worse than the largest model's; "standard, then worsening (inverted U)"
      likewise for the best mean; "inverse scaling" when the slope is clearly above 0, the largest model is
      clearly worse than the smallest and the curve does not fall clearly after its peak; "standard scaling"
      symmetrically; else "no clear trend" (also when the curve is both U-shaped and an inverted U: a zig-zag).
    - ``monotonic``: the means strictly increase, or strictly decrease, from each model to the next larger one;
      ``steps``: each step's paired difference (next larger model minus model) with its interval.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    ordered, values, chances, correct = _arrays(models, metric=metric, chance=chance)
    n = values.shape[1]

    x = np.log10(np.array([m.parameters for m in ordered], dtype=np.float64))
    means = values.mean(axis=1)
    stderrs = values.std(axis=1, ddof=0) / math.sqrt(n)
    last = len(ordered) - 1
    peak, trough = int(np.argmax(means)), int(np.argmin(means))

    # Contrasts of the per-model means, one row each: slope, then (first model - second model) differences.
    pairs = {
        "end": (last, 0),
        "rise": (peak, 0),
        "fall": (peak, last),
        "down": (0, trough),
        "up": (last, trough),
    }
    step_pairs = [(i + 1, i) for i in range(last)]
    contrasts = [_slope_weights(x)]
    for first, second in [*pairs.values(), *step_pairs]:
        row = np.zeros(len(ordered))
        row[first] += 1.0
        row[second] -= 1.0
        contrasts.append(row)
    # Every contrast sums to 0, so centring each example's values across models changes nothing but rounding:
    # equal values give exactly 0.
    per_example = np.array(contrasts) @ (values - values.mean(axis=0))
    if chances is not None:
        per_example = np.vstack([per_example, correct - chances])
    estimates = per_example.mean(axis=1)

    rng = np.random.default_rng(seed)
    rows = max(1, _BLOCK // n)
    index_type = np.int32 if n < 2**31 else np.int64
    replicates = np.hstack(
        [
            _bootstrap_means(
                per_example, rng.integers(0, n, size=(min(rows, n_boot - start), n), dtype=index_type)
            )
            for start in range(0, n_boot, rows)
        ]
    )
    tail = (1 - CONFIDENCE) / 2 * 100
    lows, highs = np.percentile(replicates, [tail, 100 - tail], axis=1)
    intervals = [(float(e), float(lo), float(hi)) for e, lo, hi in zip(estimates, lows, highs, strict=True)]
    slope, ci_low, ci_high = intervals[0]
    n_pairs = len(pairs)
    diffs = dict(zip(pairs, intervals[1 : 1 + n_pairs], strict=True))
    by_pair = dict(zip(pairs.values(), intervals[1 : 1 + n_pairs], strict=True))
    steps = tuple(intervals[1 + n_pairs : 1 + n_pairs + len(step_pairs)])
    above_chance = tuple(intervals[1 + n_pairs + len(step_pairs) :])
    decision = _decide(
        means=means, slope=intervals[0], difference=lambda a, b: by_pair[a, b], above_chance=above_chance
    )
    mean_steps = np.diff(means)

    return Trend(
        slope=slope,
        ci_low=ci_low,
        ci_high=ci_high,
        direction=decision.direction,
        monotonic=bool((mean_steps > 0).all() or (mean_steps < 0).all()),
        u_shaped=decision.loss_verdict == VERDICT_U_SHAPED,
        n_models=len(ordered),
        n_examples=n,
        metric=metric,
        models=tuple(m.name for m in ordered),
        parameters=tuple(int(m.parameters) for m in ordered),
        means=tuple(float(v) for v in means),
        stderrs=tuple(float(v) for v in stderrs),
        verdict=decision.verdict,
        loss_verdict=decision.loss_verdict,
        end_diff=diffs["end"],
        rise_to_peak=diffs["rise"],
        fall_after_peak=diffs["fall"],
        fall_to_trough=diffs["down"],
        rise_after_trough=diffs["up"],
        steps=steps,
        peak=peak,
        trough=trough,
        zig_zag=decision.zig_zag,
        chance=float(chances.mean()) if chances is not None else None,
        accuracies=tuple(float(m.mean()) for m in correct) if chances is not None else (),
        above_chance=above_chance,
        n_boot=n_boot,
    )


SPLITS = 200
# The 97.5th percentile of the standard normal: estimate ± Z standard errors is a 95% interval.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class SplitHalves:
    """How often the whole task's verdict survives halving its examples: in ``agreeing`` of ``splits`` seeded
    random splits of the examples into two halves, both halves got ``verdict``."""

    verdict: str
    agreeing: int
    splits: int

    @property
    def share(self) -> float:
        return self.agreeing / self.splits

    @property
    def percent(self) -> int:
        return math.floor(100 * self.share) if self.agreeing < self.splits else 100

    def line(self) -> str:
        """ "inverse scaling in both halves of 97% of 200 random splits" (rounded down: 199 of 200 is 99%)."""
        return f"{self.verdict} in both halves of {self.percent}% of {self.splits} random splits"


def split_halves(
    models: Sequence[ModelValues],
    *,
    metric: str,
    verdict: str,
    chance: Sequence[float] | None = None,
    splits: int = SPLITS,
    seed: int = 0,
) -> SplitHalves | None:
    """In how many of ``splits`` random splits of the examples into two halves both halves get ``verdict``, the
    whole task's verdict: a trend that rests on a handful of examples seldom survives, since a split shares
    them out. None when there are fewer than 4 examples (a half needs 2).

    Each half's verdict applies the rules of :func:`scaling_trend` to the half's examples, with one shortcut: an
    interval is the estimate ± 1.96 standard errors (the normal approximation, with the standard error of the
    paired per-example differences, std with ddof=0 over the root of the half's size) rather than a bootstrap.
    For a mean over the ≥ 150 examples of a half of a contest task, the bootstrap's percentile interval is close
    to it, and 2 × 200 halves then cost a few matrix products instead of 400 bootstraps. Halves are drawn from
    ``seed``: the same results always give the same share.
    """
    if splits < 1:
        raise ValueError(f"splits must be at least 1, got {splits}")
    ordered, values, chances, correct = _arrays(models, metric=metric, chance=chance)
    n_models, n = values.shape
    if n < 4:
        return None
    half = n // 2
    # Row s and row splits + s are the two halves of split s: 0/1 weights over the examples.
    order = np.random.default_rng(seed).random((splits, n)).argsort(axis=1)
    first = np.zeros((splits, n))
    np.put_along_axis(first, order[:, :half], 1.0, axis=1)
    masks = np.vstack([first, 1.0 - first])
    sizes = masks.sum(axis=1)

    means = masks @ values.T / sizes[:, None]  # (halves, models)
    # Every contrast sums to 0 over the models, so removing each example's mean across models (and each model's
    # overall mean) leaves the contrasts' variances as they are and keeps the sums of squares small.
    centred = values - values.mean(axis=0)
    centred -= centred.mean(axis=1, keepdims=True)
    centred_means = masks @ centred.T / sizes[:, None]
    products = (centred[:, None, :] * centred[None, :, :]).reshape(n_models * n_models, n)
    covariances = (masks @ products.T / sizes[:, None]).reshape(-1, n_models, n_models)
    covariances -= centred_means[:, :, None] * centred_means[:, None, :]
    above_chance = None
    if chances is not None:
        gains = correct - chances
        gain_means = masks @ gains.T / sizes[:, None]
        gain_errors = np.sqrt(
            np.maximum(masks @ (gains**2).T / sizes[:, None] - gain_means**2, 0.0) / sizes[:, None]
        )
        above_chance = np.stack(
            [gain_means, gain_means - Z_95 * gain_errors, gain_means + Z_95 * gain_errors], axis=2
        )

    weights = _slope_weights(np.log10(np.array([m.parameters for m in ordered], dtype=np.float64)))

    def interval(contrast: np.ndarray, h: int) -> Interval:
        estimate = float(contrast @ means[h])
        error = math.sqrt(max(float(contrast @ covariances[h] @ contrast), 0.0) / sizes[h])
        return estimate, estimate - Z_95 * error, estimate + Z_95 * error

    def half_verdict(h: int) -> str:
        def difference(first: int, second: int) -> Interval:
            contrast = np.zeros(n_models)
            contrast[first] += 1.0
            contrast[second] -= 1.0
            return interval(contrast, h)

        return _decide(
            means=means[h],
            slope=interval(weights, h),
            difference=difference,
            above_chance=[tuple(row) for row in above_chance[h]] if above_chance is not None else (),
        ).verdict

    same = np.array([half_verdict(h) == verdict for h in range(2 * splits)])
    return SplitHalves(verdict=verdict, agreeing=int((same[:splits] & same[splits:]).sum()), splits=splits)
