"""Levels of the Prize Rubric that the evaluation suggests for the two criteria its numbers speak to.

Pure Python over :class:`~evaluation.trends.Trend` objects, no Django. A suggestion is shown beside the rubric
with its reason and never filled in for the reviewer: the rubric asks for judgement ("approximately monotonic",
"very bumpy"), and the suggestion only reads the series' verdicts:

- **Inverse Scaling Strength** ("how straight and steep is the inverse scaling trend on public models"):
  Grand Prize when every public series shows inverse scaling that rises clearly at every step from one size to
  the next (each step's paired difference has its interval above 0); Accepted Task when every public series
  shows inverse scaling, but not clearly at every step; No Prize otherwise (flat, very bumpy, or standard).
- **Inverse Scaling Generality** ("do different models all show inverse scaling"): Grand Prize when every public
  and every private series shows inverse scaling; Accepted Task when some public and some private series do;
  No Prize when no private series does, or when only private series do (the rubric's Accepted asks for some of
  each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contest.rubric import ACCEPTED, GRAND, LEVEL_NAMES, NONE
from evaluation.trends import VERDICT_INVERSE, Trend, interval_text

STRENGTH = "strength"
GENERALITY = "generality"


@dataclass(frozen=True)
class SeriesTrend:
    """One series' trend, with what the suggestions need to know of the series."""

    name: str
    private: bool
    trend: Trend

    @property
    def inverse(self) -> bool:
        return self.trend.verdict == VERDICT_INVERSE

    @property
    def clear_steps(self) -> int:
        """How many steps from one model size to the next clearly rise (paired difference's interval above 0)."""
        return sum(1 for step in self.trend.steps if step[1] > 0)

    @property
    def rises_at_every_step(self) -> bool:
        return bool(self.trend.steps) and self.clear_steps == len(self.trend.steps)

    def slope(self) -> str:
        trend = self.trend
        return f"slope {interval_text((trend.slope, trend.ci_low, trend.ci_high))}"

    def weakest_step(self) -> str:
        """The step whose interval reaches lowest: "open-1 → open-2 +0.01 (95% CI -0.02 to +0.04)"."""
        trend = self.trend
        i = min(range(len(trend.steps)), key=lambda k: trend.steps[k][1])
        names = f"{trend.models[i]} → {trend.models[i + 1]} " if len(trend.models) == trend.n_models else ""
        return f"{names}{interval_text(trend.steps[i])}"

    def described(self) -> str:
        """ "Open Models (inverse scaling, slope +0.10 (95% CI +0.08 to +0.12))"."""
        return f"{self.name} ({self.trend.verdict}, {self.slope()})"


@dataclass(frozen=True)
class Suggestion:
    criterion: str  # a key of contest.rubric.CRITERIA_KEYS
    level: str | None  # a key of contest.rubric.LEVELS; None when the results cannot suggest one yet
    reason: str  # one line, with the numbers

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level] if self.level else "none yet"


def suggest_strength(series: Sequence[SeriesTrend]) -> Suggestion:
    """The level of Inverse Scaling Strength that the public series' trends suggest."""
    public = [s for s in series if not s.private]
    if not public:
        return Suggestion(STRENGTH, None, "No public series has results on 2 models yet.")
    inverse = [s for s in public if s.inverse]
    if len(inverse) < len(public):
        others = "; ".join(s.described() for s in public if not s.inverse)
        return Suggestion(
            STRENGTH,
            NONE,
            f"Not every public series shows inverse scaling ({len(inverse)} of {len(public)} do): {others}.",
        )
    bumpy = [s for s in public if not s.rises_at_every_step]
    if bumpy:
        detail = "; ".join(
            f"{s.name} rises clearly at {s.clear_steps} of {len(s.trend.steps)} steps, the weakest "
            f"{s.weakest_step()}"
            for s in bumpy
        )
        return Suggestion(
            STRENGTH,
            ACCEPTED,
            f"Every public series shows inverse scaling ({len(public)} of {len(public)}), but not rising clearly "
            f"at every step: {detail}.",
        )
    detail = "; ".join(
        f"{s.name}: {s.slope()}, {len(s.trend.steps)} of {len(s.trend.steps)} steps clearly up, the weakest "
        f"{s.weakest_step()}"
        for s in public
    )
    return Suggestion(
        STRENGTH,
        GRAND,
        f"Every public series shows inverse scaling that rises clearly at every step from one size to the next: "
        f"{detail}.",
    )


def suggest_generality(series: Sequence[SeriesTrend]) -> Suggestion:
    """The level of Inverse Scaling Generality that the public and private series' trends suggest."""
    public = [s for s in series if not s.private]
    private = [s for s in series if s.private]
    if not private:
        return Suggestion(
            GENERALITY,
            None,
            "No private series has results on 2 models yet: generality asks about private models.",
        )
    if not public:
        return Suggestion(GENERALITY, None, "No public series has results on 2 models yet.")
    public_inverse = [s for s in public if s.inverse]
    private_inverse = [s for s in private if s.inverse]
    counts = (
        f"inverse scaling on {len(public_inverse)} of {len(public)} public and {len(private_inverse)} of "
        f"{len(private)} private series"
    )
    if len(public_inverse) == len(public) and len(private_inverse) == len(private):
        shown = "; ".join(s.described() for s in series)
        return Suggestion(GENERALITY, GRAND, f"Every series tested shows it: {counts}: {shown}.")
    with_it = "; ".join(s.described() for s in series if s.inverse) or "none"
    without = "; ".join(s.described() for s in series if not s.inverse)
    if public_inverse and private_inverse:
        level, head = ACCEPTED, "Some public and some private series show it"
    elif not private_inverse:
        level, head = NONE, "No private series shows it"
    else:
        level, head = NONE, "Only private series show it (Accepted asks for some public and some private)"
    return Suggestion(GENERALITY, level, f"{head}: {counts}. With it: {with_it}. Without: {without}.")


def suggested_levels(series: Sequence[SeriesTrend]) -> dict[str, Suggestion]:
    """Criterion key → the suggestion, for the criteria the evaluation speaks to."""
    return {STRENGTH: suggest_strength(series), GENERALITY: suggest_generality(series)}
