"""How a reproduction's trend compares with the original's, one series at a time. Pure Python, no Django.

The rubric asks under Reproducibility: "Does inverse scaling appear to occur if we reproduce the task based on
its description?". A reproduction is a task file re-created from the description by someone other than the
authors and evaluated on the same models; per series, the comparison is one of three words:

- **no inverse scaling**: the reproduction's verdict on the series is not "inverse scaling";
- **similar or stronger**: it is, and its slope is at least the original's, or the two slopes' 95% intervals
  overlap (the difference may be noise);
- **lesser**: it is, but its slope is below the original's and the intervals do not overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from evaluation.trends import VERDICT_INVERSE, Trend, interval_text

SIMILAR_OR_STRONGER = "similar or stronger"
LESSER = "lesser"
NO_INVERSE_SCALING = "no inverse scaling"
OUTCOMES = (SIMILAR_OR_STRONGER, LESSER, NO_INVERSE_SCALING)

RULE = (
    "No inverse scaling: the reproduction's verdict on the series is not “inverse scaling”. Similar or "
    "stronger: it is, and the reproduction's slope is at least the original's or the two slopes' 95% intervals "
    "overlap. Lesser: it is, but its slope is below the original's and the intervals do not overlap."
)


def _overlap(a: Trend, b: Trend) -> bool:
    return a.ci_low <= b.ci_high and b.ci_low <= a.ci_high


def compare_trends(*, original: Trend, reproduction: Trend) -> str:
    """One of :data:`OUTCOMES` for a series, by the rule of this module's docstring (:data:`RULE`)."""
    if reproduction.verdict != VERDICT_INVERSE:
        return NO_INVERSE_SCALING
    if reproduction.slope >= original.slope or _overlap(original, reproduction):
        return SIMILAR_OR_STRONGER
    return LESSER


@dataclass(frozen=True)
class SeriesComparison:
    series: str
    original: Trend
    reproduction: Trend

    @property
    def outcome(self) -> str:
        return compare_trends(original=self.original, reproduction=self.reproduction)

    @property
    def line(self) -> str:
        """ "Open Models: similar or stronger — reproduction slope +0.10 (95% CI +0.08 to +0.12), inverse scaling;
        original slope +0.09 (95% CI +0.07 to +0.11), inverse scaling"."""
        return (
            f"{self.series}: {self.outcome} — reproduction slope {_slope(self.reproduction)}; "
            f"original slope {_slope(self.original)}"
        )


def _slope(trend: Trend) -> str:
    return f"{interval_text((trend.slope, trend.ci_low, trend.ci_high))}, {trend.verdict}"
