"""What the version page shows of the evaluation: per series its runs, chart, trend and telling examples."""

import json
import math
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser

from evaluation import selectors
from evaluation.models import EvaluationRun, ModelSeries
from evaluation.plots import Curve, Point, accuracy_figure, scaling_figure
from evaluation.trends import ModelValues, Trend, scaling_trend
from submissions.selectors import version_examples

DRILL_DOWN = 5


@dataclass
class SeriesEvidence:
    series: ModelSeries
    runs: list[EvaluationRun]
    hidden_from_contestants: bool
    curve: Curve | None = None
    figures: dict = field(default_factory=dict)  # "scaling" and, where defined, "accuracy": plotly JSON
    trend: Trend | None = None
    worst_on_largest: list[dict] = field(default_factory=list)
    grew_most: list[dict] = field(default_factory=list)

    @property
    def element_id(self) -> str:
        return f"figures-{self.series.pk}"


def _json(figure) -> dict:
    return json.loads(figure.to_json())


def _probabilities(metric: str, logprobs: list[list[float]]) -> list[list[float]]:
    """Per scored prompt, each continuation's probability: normalised over the classes, or p(completion)."""
    if metric == "sequence_prob":
        return [[math.exp(lp) for lp in logprobs[0]]]
    out = []
    for group in logprobs:
        top = max(group)
        weights = [math.exp(lp - top) for lp in group]
        total = sum(weights)
        out.append([w / total for w in weights])
    return out


def _example(row: int, examples: dict, result, metric: str) -> dict:
    ex = examples.get(row, {})
    return {
        "row": row,
        "prompt": ex.get("prompt", ""),
        "other_prompt": ex.get("other_prompt"),
        "completion": ex.get("completion"),
        "classes": ex.get("classes") or [],
        "answer_index": ex.get("answer_index"),
        "value": result.value,
        "probabilities": _probabilities(metric, result.class_logprobs) if result.class_logprobs else [],
    }


def version_evidence(*, user: AbstractBaseUser, version) -> dict:
    runs = selectors.runs_visible_to(user, version=version)
    succeeded = [r for r in runs if r.status == EvaluationRun.Status.SUCCEEDED]
    values = selectors.example_values(succeeded)
    metric = version.metric
    n_classes = (
        len(version.preview[0]["classes"]) if version.preview and version.preview[0].get("classes") else None
    )
    released = set(version.submission.round.series_releases.values_list("series_id", flat=True))

    by_series: dict[int, SeriesEvidence] = {}
    for run in runs:
        series = run.model.series
        if series.pk not in by_series:
            by_series[series.pk] = SeriesEvidence(
                series=series,
                runs=[],
                hidden_from_contestants=series.is_private and series.pk not in released,
            )
        by_series[series.pk].runs.append(run)

    examples = None
    for evidence in by_series.values():
        done = [r for r in evidence.runs if r.status == EvaluationRun.Status.SUCCEEDED]
        if not done:
            continue
        points = [Point(r.model.name, r.model.parameter_count, r.mean, r.stderr, r.accuracy) for r in done]
        evidence.curve = Curve(evidence.series.name, points)
        evidence.figures["scaling"] = _json(
            scaling_figure([evidence.curve], metric=metric, n_classes=n_classes)
        )
        if metric != "sequence_prob":
            evidence.figures["accuracy"] = _json(accuracy_figure([evidence.curve], n_classes=n_classes))
        rows = sorted(set.intersection(*(set(values[r.pk]) for r in done)))
        if len(done) >= 2 and rows:
            evidence.trend = scaling_trend(
                [
                    ModelValues(r.model.name, r.model.parameter_count, [values[r.pk][row] for row in rows])
                    for r in done
                ],
                metric=metric,
            )
        if examples is None:
            examples = _examples_by_row(version)
        smallest, largest = done[0], done[-1]
        on_largest = values[largest.pk]
        worst = sorted(on_largest, key=on_largest.get, reverse=True)[:DRILL_DOWN]
        grew = []
        if len(done) >= 2:
            grew = sorted(rows, key=lambda row: on_largest[row] - values[smallest.pk][row], reverse=True)[
                :DRILL_DOWN
            ]
        details = selectors.example_results(largest, worst + grew)
        evidence.worst_on_largest = [_example(row, examples, details[row], metric) for row in worst]
        evidence.grew_most = [
            {
                **_example(row, examples, details[row], metric),
                "smallest_value": values[smallest.pk][row],
                "smallest_model": smallest.model.name,
                "largest_model": largest.model.name,
            }
            for row in grew
        ]

    curves = [e.curve for e in by_series.values() if e.curve is not None]
    positions = selectors.queue_positions(runs)
    for run in runs:
        run.queue_position = positions.get(run.pk)
    return {
        "series": list(by_series.values()),
        "combined_figure": (
            {"scaling": _json(scaling_figure(curves, metric=metric, n_classes=n_classes))}
            if len(curves) > 1
            else None
        ),
        "finished": all(r.is_finished for r in runs),
        "has_runs": bool(runs),
    }


def _examples_by_row(version) -> dict[int, dict]:
    """The examples by row; none when the file no longer validates (the tables then show values only)."""
    try:
        frame = version_examples(version)
    except ValueError:
        return {}
    return {int(r["row"]): r for r in frame.to_dict("records")}
