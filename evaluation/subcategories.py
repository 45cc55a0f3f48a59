"""Evidence for the rubric's Task Coverage: the scaling trend of each subcategory of a task's examples.

A contestant may name one extra column of the task file as the subcategory (submissions validates it: it exists,
and names at most 50 values). Each subcategory with at least MIN_EXAMPLES evaluated examples gets its own small
chart, the verdict of each series on its examples and its number of examples; the smaller ones are pooled as
"other". Computed from the stored per-example results joined by spreadsheet row with each row's subcategory (read
from the stored file), and cached like the rest of the evidence (evaluation/evidence.py): under a key made of the
shown series' own evidence keys and the subcategory column, so new results or another column compute it again.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.cache import cache

from evaluation import plots, selectors, trends
from evaluation.models import EvaluationRun, ModelSeries
from evaluation.plots import Curve, Point
from evaluation.trends import ModelValues, scaling_trend
from submissions.selectors import version_examples

# Fewer examples than this make no readable trend on their own: such subcategories are pooled as "other".
MIN_EXAMPLES = 30
OTHER = "other"
CACHE_SECONDS = 30 * 24 * 3600
_FINGERPRINT = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class ShownSeries:
    """A series the viewer sees, with its succeeded runs (smallest model first) and its evidence's cache key."""

    series: ModelSeries
    runs: list[EvaluationRun]
    key: str


def subcategory_evidence(version, shown: list[ShownSeries]) -> dict | None:
    """The trend of each subcategory on the shown series, as plain data for the page; None when the version
    names no subcategory column or no shown series has two succeeded runs (no trend to split yet)."""
    shown = [s for s in shown if len(s.runs) >= 2]
    if not version.subcategory_column or not shown:
        return None
    identity = [_FINGERPRINT, version.subcategory_column, [s.key for s in shown]]
    digest = hashlib.sha256(json.dumps(identity).encode()).hexdigest()
    key = f"evidence:subcategories:{digest}"
    found = cache.get(key)
    if found is None:
        found = _compute(version, shown) or {}  # {}: nothing to show, remembered as well
        cache.set(key, found, CACHE_SECONDS)
    return found or None


def _compute(version, shown: list[ShownSeries]) -> dict | None:
    """Reads the task file once and the shown runs' values in one or two queries, whatever the number of
    series, models and subcategories."""
    try:
        frame = version_examples(version)
    except ValueError:
        return None  # the stored file no longer validates: the page shows the whole trend only
    if "subcategory" not in frame.columns:
        return None
    subcategory = dict(zip(frame["row"].tolist(), frame["subcategory"].tolist(), strict=True))
    chance = {}
    if "classes" in frame.columns:
        pairs = zip(frame["row"].tolist(), frame["classes"].tolist(), strict=True)
        chance = {row: 1 / len(classes) for row, classes in pairs}
    metric = version.metric
    runs = [r for s in shown for r in s.runs]
    values = selectors.example_values(runs)
    correct = selectors.example_correct(runs) if metric != "sequence_prob" else {}

    # Per series the rows every one of its runs has a value for (the same subsample for all its models).
    rows_of = {
        s.series.pk: sorted(set.intersection(*(set(values[r.pk]) for r in s.runs)) & subcategory.keys())
        for s in shown
    }
    evaluated = sorted(set().union(*rows_of.values()))
    groups = group_rows({row: subcategory[row] for row in evaluated})
    n_classes = len(frame["classes"].iloc[0]) if "classes" in frame.columns and len(frame) else None

    shown_groups, figures = [], {}
    for index, (name, members, rows) in enumerate(groups):
        in_group = set(rows)
        verdicts, curves = [], []
        for s in shown:
            series_rows = [row for row in rows_of[s.series.pk] if row in in_group]
            if not series_rows:
                continue
            trend = _trend(s, series_rows, values, correct, chance, metric)
            curves.append(_curve(s, series_rows, values, correct))
            verdicts.append(
                {
                    "series": s.series.name,
                    "verdict": trend.verdict if trend else None,
                    "anchor": trend.anchor if trend else None,
                    "slope": trend.slope if trend else None,
                    "ci": [trend.ci_low, trend.ci_high] if trend else None,
                    "n_examples": len(series_rows),
                }
            )
        title = name if len(name) <= 40 else name[:39] + "…"
        figures[str(index)] = json.loads(
            plots.small_multiple(curves, metric=metric, title=title, n_classes=n_classes).to_json()
        )
        shown_groups.append(
            {
                "key": str(index),
                "name": name,
                "is_other": bool(members),
                "members": members,
                "n_examples": len(rows),
                "verdicts": verdicts,
            }
        )
    return {
        "column": version.subcategory_column,
        "min_examples": MIN_EXAMPLES,
        "groups": shown_groups,
        "figures": figures,
        "summary": _summary(shown, shown_groups),
    }


def group_rows(subcategory_of: dict[int, str]) -> list[tuple[str, list[str], list[int]]]:
    """The rows of each subcategory as (name, pooled subcategories, rows), largest first: subcategories with
    fewer than MIN_EXAMPLES rows are pooled in one last group "other", which lists them (sorted by name)."""
    by_name: dict[str, list[int]] = {}
    for row, name in sorted(subcategory_of.items()):
        by_name.setdefault(name, []).append(row)
    large = sorted(
        ((name, rows) for name, rows in by_name.items() if len(rows) >= MIN_EXAMPLES),
        key=lambda item: (-len(item[1]), item[0]),
    )
    small = sorted((name, rows) for name, rows in by_name.items() if len(rows) < MIN_EXAMPLES)
    groups = [(name, [], rows) for name, rows in large]
    if small:
        pooled = sorted(row for _, rows in small for row in rows)
        groups.append((OTHER, [name for name, _ in small], pooled))
    return groups


def _trend(s: ShownSeries, rows, values, correct, chance, metric) -> trends.Trend | None:
    if len(rows) < 2:
        return None  # one example has no interval
    flags = {r.pk: [correct.get(r.pk, {}).get(row) for row in rows] for r in s.runs}
    return scaling_trend(
        [
            ModelValues(
                r.model.name,
                r.model.parameter_count,
                [values[r.pk][row] for row in rows],
                None if None in flags[r.pk] else flags[r.pk],
            )
            for r in s.runs
        ],
        metric=metric,
        chance=[chance[row] for row in rows] if chance else None,
    )


def _curve(s: ShownSeries, rows, values, correct) -> Curve:
    points = []
    for r in s.runs:
        mean, stderr = trends.summary([values[r.pk][row] for row in rows])
        flags = [correct.get(r.pk, {}).get(row) for row in rows]
        accuracy = None if not flags or None in flags else sum(flags) / len(flags)
        points.append(Point(r.model.name, r.model.parameter_count, mean, stderr, accuracy))
    return Curve(s.series.name, points)


def _summary(shown: list[ShownSeries], groups: list[dict]) -> list[dict]:
    """Per series, how many subcategories got each verdict: "inverse scaling in 4 of 6 subcategories"."""
    lines = []
    for s in shown:
        verdicts = [v["verdict"] for g in groups for v in g["verdicts"] if v["series"] == s.series.name]
        counted = [v for v in verdicts if v]
        lines.append(
            {
                "series": s.series.name,
                "total": len(groups),
                "counts": [
                    {"verdict": word, "anchor": trends.ANCHORS[word], "count": count}
                    for word, count in trends.verdict_counts(counted)
                ],
            }
        )
    return lines
