"""What the version page shows of the evaluation: per series its runs, chart, trend and telling examples.

A series' charts, trend and drill-down depend only on the version's file and on the results of the series'
succeeded runs, so they are computed once per result set and kept in Django's cache under a key made of those
(the file's sha256 and metric, the series, each succeeded run's id, model and finish time) and a fingerprint of
the code that computes them: a run that finishes or is retried, or a deploy that draws charts differently,
changes the key, and the next view computes them again. Which series a viewer may see is decided before the
cache is asked, and each entry holds one series, so an entry never shows a viewer a series they may not see.
"""

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache

from accounts.selectors import is_organizer
from config import freshness
from evaluation import broker, plots, selectors, services, trends
from evaluation.models import EvaluationRun, ModelSeries, Reproduction
from evaluation.plots import Curve, Point, accuracy_figure, scaling_figure
from evaluation.reproductions import SeriesComparison
from evaluation.subcategories import ShownSeries, subcategory_evidence
from evaluation.suggestions import SeriesTrend, Suggestion, suggested_levels
from evaluation.trends import ModelValues, SplitHalves, Trend, scaling_trend, split_halves
from submissions.models import Metric, SubmissionVersion
from submissions.selectors import version_examples

DRILL_DOWN = 5
# Keys change whenever the results do; the timeout only lets the entries of old results go.
CACHE_SECONDS = 30 * 24 * 3600


@dataclass
class SeriesEvidence:
    series: ModelSeries
    runs: list[EvaluationRun]
    hidden_from_contestants: bool
    curve: Curve | None = None
    figures: dict = field(default_factory=dict)  # "scaling" and, where defined, "accuracy": plotly JSON
    trend: Trend | None = None
    split_halves: SplitHalves | None = None  # how often both halves of the examples keep the trend's verdict
    worst_on_largest: list[dict] = field(default_factory=list)
    grew_most: list[dict] = field(default_factory=list)

    @property
    def element_id(self) -> str:
        return f"figures-{self.series.pk}"

    @property
    def succeeded(self) -> list[EvaluationRun]:
        return [r for r in self.runs if r.status == EvaluationRun.Status.SUCCEEDED]

    @property
    def unequal_class_tokens(self) -> list[dict]:
        """Where a model's tokenizer gives the task's classes different token counts: one entry per count, naming
        every model with it (the models of a series often share one tokenizer, so one line says it for all)."""
        groups: dict[tuple[int, int], list[str]] = {}
        for run in self.succeeded:
            if run.unequal_class_tokens:
                groups.setdefault((run.unequal_class_tokens, run.n_examples), []).append(run.model.name)
        return [
            {"models": ", ".join(names), "count": count, "examples": examples}
            for (count, examples), names in groups.items()
        ]


def _code_fingerprint() -> str:
    """A digest of the modules whose code shapes a cache entry: after a deploy that changes them, no view reads
    an entry the older code computed."""
    sources = (Path(__file__), Path(plots.__file__), Path(trends.__file__))
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()[:16]


CODE_FINGERPRINT = _code_fingerprint()


def _json(figure) -> dict:
    return json.loads(figure.to_json())


def _digest(identity) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def class_probabilities(metric: str, logprobs: list[list[float]]) -> list[list[float]]:
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
        "probabilities": class_probabilities(metric, result.class_logprobs) if result.class_logprobs else [],
    }


def _n_classes(version) -> int | None:
    preview = version.preview
    return len(preview[0]["classes"]) if preview and preview[0].get("classes") else None


def _series_key(version, evidence: SeriesEvidence) -> str:
    """The cache key of a series' computed evidence: it changes whenever one of its results does."""
    identity = [
        version.sha256,
        version.task_name,  # in the charts' titles
        version.metric,
        evidence.series.pk,
        evidence.series.name,
        [
            [
                r.pk,
                r.status,
                r.finished_at.isoformat() if r.finished_at else None,
                r.model_id,
                r.model.name,
                r.model.parameter_count,
            ]
            for r in evidence.succeeded
        ],
    ]
    return f"evidence:{CODE_FINGERPRINT}:series:{evidence.series.pk}:{_digest(identity)}"


def _trend_key(series_key: str) -> str:
    """The key of the trend alone of a series' evidence: what lists of many versions read (an entry of a few
    hundred bytes, where the whole evidence, charts and examples included, weighs some 17 kB to unpickle)."""
    return f"{series_key}:trend"


def _curve(evidence: SeriesEvidence) -> Curve:
    return Curve(
        evidence.series.name,
        [
            Point(r.model.name, r.model.parameter_count, r.mean, r.stderr, r.accuracy)
            for r in evidence.succeeded
        ],
    )


def _png_title(version, series_name: str, kind: str = "scaling") -> str:
    """The title of a chart's image: "<task name> — <series> — <metric>"."""
    if kind == "accuracy":
        what = f"accuracy ({version.metric})"
    else:
        label = Metric(version.metric).label  # "Classification loss (classification)"
        what = f"mean {label[0].lower()}{label[1:]}"
    return f"{version.task_name} — {series_name} — {what}"


def _series_figures(version, series_name: str, curve: Curve, *, n_classes: int | None) -> dict:
    """A series' charts as plotly JSON by kind; each carries the title its downloaded image shows."""
    metric = version.metric
    figures = {
        "scaling": _json(
            scaling_figure(
                [curve], metric=metric, n_classes=n_classes, png_title=_png_title(version, series_name)
            )
        )
    }
    if metric != "sequence_prob":
        figures["accuracy"] = _json(
            accuracy_figure(
                [curve], n_classes=n_classes, png_title=_png_title(version, series_name, "accuracy")
            )
        )
    return figures


def _compute(version, pending: list[SeriesEvidence]) -> dict[int, dict]:
    """Charts, trend and drill-down of series with succeeded runs, by series id, as plain data to cache.

    Reads every value of their runs in one query, the task file once, and the drill-down's full results in one
    more query, however many series and models.
    """
    metric = version.metric
    n_classes = _n_classes(version)
    succeeded = [r for e in pending for r in e.succeeded]
    values = selectors.example_values(succeeded)
    correct = selectors.example_correct(succeeded) if metric != "sequence_prob" else {}
    examples = _examples_by_row(version)
    computed: dict[int, dict] = {}
    picks: dict[int, tuple[list[int], list[int]]] = {}
    for evidence in pending:
        done = evidence.succeeded
        curve = _curve(evidence)
        figures = _series_figures(version, evidence.series.name, curve, n_classes=n_classes)
        rows = sorted(set.intersection(*(set(values[r.pk]) for r in done)))
        trend = halves = None
        if len(done) >= 2 and rows:
            models = [
                ModelValues(
                    r.model.name,
                    r.model.parameter_count,
                    [values[r.pk][row] for row in rows],
                    _correct(correct.get(r.pk, {}), rows),
                )
                for r in done
            ]
            chance = _chance(examples, rows)
            trend = scaling_trend(models, metric=metric, chance=chance)
            halves = split_halves(models, metric=metric, verdict=trend.verdict, chance=chance)
        smallest, largest = done[0], done[-1]
        on_largest = values[largest.pk]
        worst = sorted(on_largest, key=on_largest.get, reverse=True)[:DRILL_DOWN]
        grew = []
        if len(done) >= 2:
            grew = sorted(rows, key=lambda row: on_largest[row] - values[smallest.pk][row], reverse=True)[
                :DRILL_DOWN
            ]
        picks[evidence.series.pk] = (worst, grew)
        computed[evidence.series.pk] = {
            "figures": figures,
            "trend": asdict(trend) if trend else None,
            "split_halves": asdict(halves) if halves else None,
        }
    details = selectors.example_results(
        {e.succeeded[-1].pk: sorted({*picks[e.series.pk][0], *picks[e.series.pk][1]}) for e in pending}
    )
    for evidence in pending:
        done = evidence.succeeded
        smallest, largest = done[0], done[-1]
        worst, grew = picks[evidence.series.pk]
        computed[evidence.series.pk]["worst_on_largest"] = [
            _example(row, examples, details[largest.pk, row], metric) for row in worst
        ]
        computed[evidence.series.pk]["grew_most"] = [
            {
                **_example(row, examples, details[largest.pk, row], metric),
                "smallest_value": values[smallest.pk][row],
                "smallest_model": smallest.model.name,
                "largest_model": largest.model.name,
            }
            for row in grew
        ]
    return computed


def _correct(by_row: dict[int, bool | None], rows: list[int]) -> list[bool] | None:
    """A run's correctness on these rows; None when one is unknown (the verdict then cannot say "at chance")."""
    flags = [by_row.get(row) for row in rows]
    return None if None in flags else flags


def _chance(examples: dict[int, dict], rows: list[int]) -> list[float] | None:
    """Per row, 1 / its number of classes (the chance of guessing); None when the file's classes are unknown."""
    counts = [len(examples.get(row, {}).get("classes") or []) for row in rows]
    return None if 0 in counts else [1 / count for count in counts]


def _fill(version, evidences: list[SeriesEvidence]) -> None:
    """Give each series with succeeded runs its charts, trend and drill-down: from the cache, or computed once
    for all the series missing there and stored."""
    done = [e for e in evidences if e.succeeded]
    keys = {e.series.pk: _series_key(version, e) for e in done}
    cached = cache.get_many(list(keys.values()))
    missing = [e for e in done if keys[e.series.pk] not in cached]
    if missing:
        computed = _compute(version, missing)
        cache.set_many(
            {
                **{keys[pk]: entry for pk, entry in computed.items()},
                **{_trend_key(keys[pk]): {"trend": entry["trend"]} for pk, entry in computed.items()},
            },
            CACHE_SECONDS,
        )
        freshness.changed(freshness.EVIDENCE)  # lists of many versions (overview, tally) show the new trends
        cached.update({keys[pk]: entry for pk, entry in computed.items()})
    for evidence in done:
        entry = cached[keys[evidence.series.pk]]
        evidence.curve = _curve(evidence)
        evidence.figures = entry["figures"]
        evidence.trend = Trend(**entry["trend"]) if entry["trend"] else None
        evidence.split_halves = SplitHalves(**entry["split_halves"]) if entry["split_halves"] else None
        evidence.worst_on_largest = entry["worst_on_largest"]
        evidence.grew_most = entry["grew_most"]


def _by_series(version, runs: list[EvaluationRun]) -> list[SeriesEvidence]:
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
    return list(by_series.values())


def _combined_figure(version, evidences: list[SeriesEvidence]) -> dict | None:
    """Every shown series on one chart, cached by the shown series' own keys (so per set of visible series)."""
    shown = [e for e in evidences if e.curve is not None]
    if len(shown) < 2:
        return None
    key = f"evidence:{CODE_FINGERPRINT}:combined:{_digest([_series_key(version, e) for e in shown])}"
    figure = cache.get(key)
    if figure is None:
        figure = _json(
            scaling_figure(
                [e.curve for e in shown],
                metric=version.metric,
                n_classes=_n_classes(version),
                png_title=_png_title(version, "all series"),
            )
        )
        cache.set(key, figure, CACHE_SECONDS)
    return {"scaling": figure}


def version_evidence(*, user: AbstractBaseUser, version) -> dict:
    """Everything the version page shows of the evaluation, for what ``user`` may see, in a number of queries
    that does not grow with the series and models."""
    runs = selectors.runs_visible_to(user, version=version)
    evidences = _by_series(version, runs)
    _fill(version, evidences)
    places = selectors.queue_places(runs)
    for run in runs:
        run.queue_place = places.get(run.pk)
    verdicts = [e.trend.verdict for e in evidences if e.trend]
    return {
        "series": evidences,
        # The line across the series this user sees: "inverse scaling on 2 of 2 series; ...".
        "verdicts": [
            {"verdict": word, "anchor": trends.ANCHORS[word], "count": count, "total": len(verdicts)}
            for word, count in trends.verdict_counts(verdicts)
        ],
        "combined_figure": _combined_figure(version, evidences),
        "subcategories": _subcategories(version, evidences),
        "finished": all(r.is_finished for r in runs),
        "has_runs": bool(runs),
        "delayed": broker.delay_notice(runs),
    }


def rubric_suggestions(evidence: dict) -> dict[str, Suggestion]:
    """Criterion key → the level the evaluation suggests, from the series of ``evidence`` (what
    :func:`version_evidence` gave) that have a trend. Meant for reviewers and organizers, who see every series:
    for anyone else the private series would be missing."""
    return suggested_levels(
        [
            SeriesTrend(name=e.series.name, private=e.series.is_private, trend=e.trend)
            for e in evidence["series"]
            if e.trend is not None
        ]
    )


def _subcategories(version, evidences: list[SeriesEvidence]) -> dict | None:
    """The trend of each subcategory on these series (see evaluation/subcategories.py)."""
    return subcategory_evidence(
        version,
        [ShownSeries(e.series, e.succeeded, _series_key(version, e)) for e in evidences if e.succeeded],
    )


def series_figures(*, user: AbstractBaseUser, version, series_id: int) -> dict:
    """The charts (plotly JSON by kind) of one series the user may see; empty when it has none (yet)."""
    evidences = _by_series(version, selectors.runs_visible_to(user, version=version, series_id=series_id))
    _fill(version, evidences)
    return evidences[0].figures if evidences else {}


def precompute_evidence(*, version_id: int) -> None:
    """Compute and cache the evidence of every series of a version, and index its example texts, so the next
    view finds them ready: meant for the worker, once a run of the version has succeeded and committed."""
    version = SubmissionVersion.objects.select_related("submission__round").get(pk=version_id)
    evidences = _by_series(version, selectors.runs_of(version=version))
    _fill(version, evidences)
    _subcategories(version, evidences)  # as reviewers and organizers see it: every series
    # The examples page's first view then finds the texts indexed too (a no-op once they are).
    services.index_example_texts(version=version)


def public_evidence(*, version) -> list[SeriesEvidence]:
    """The evidence of the version's public series only, whoever asks (for the team's results e-mail): private
    series are left out, released or not."""
    runs = [run for run in selectors.runs_of(version=version) if not run.model.series.is_private]
    evidences = _by_series(version, runs)
    _fill(version, evidences)
    return evidences


def private_evidence(*, version) -> list[SeriesEvidence]:
    """The evidence of the version's private series only, whoever asks (for the team's feedback e-mail, sent when
    the round's feedback is released)."""
    runs = [run for run in selectors.runs_of(version=version) if run.model.series.is_private]
    evidences = _by_series(version, runs)
    _fill(version, evidences)
    return evidences


def _examples_by_row(version) -> dict[int, dict]:
    """The examples by row; none when the file no longer validates (the tables then show values only)."""
    try:
        frame = version_examples(version)
    except ValueError:
        return {}
    return {int(r["row"]): r for r in frame.to_dict("records")}


@dataclass(frozen=True)
class CachedTrend:
    """What a list of many versions shows of one series of one version: only what is already cached.

    ``state`` is "trend" (``trend`` holds it), "no trend" (fewer than two models succeeded, or they share no
    example), "not computed yet" (results exist but the worker has not cached their evidence: a list never
    runs the bootstrap), "evaluating" (no run succeeded yet, some still to finish) or "failed" (every run failed).
    """

    series: ModelSeries
    state: str
    trend: Trend | None = None
    finished: bool = True  # every run of the series has finished (a trend may be of the first models only)


def cached_trends(*, versions: list[SubmissionVersion]) -> dict[int, dict[int, CachedTrend]]:
    """By version id, by series id: the series' trend as cached by the worker (see precompute_evidence).

    One query for the runs of every version and one cache read of the small trend entries, however many versions,
    series and models (plus one of the whole entries whose trend entry alone was evicted); nothing is computed, so
    a page of a thousand submissions never runs a bootstrap.
    """
    by_id = {version.pk: version for version in versions}
    evidences: dict[int, dict[int, SeriesEvidence]] = {pk: {} for pk in by_id}
    # In the version page's order, so the keys are those its views and the worker cached.
    for run in selectors.listed_runs_of_versions(version_ids=list(by_id)):
        per_version = evidences[run.version_id]
        if run.model.series_id not in per_version:
            per_version[run.model.series_id] = SeriesEvidence(
                series=run.model.series, runs=[], hidden_from_contestants=False
            )
        per_version[run.model.series_id].runs.append(run)
    keys = {
        (version_id, series_id): _series_key(by_id[version_id], evidence)
        for version_id, per_version in evidences.items()
        for series_id, evidence in per_version.items()
        if evidence.succeeded
    }
    found = cache.get_many([_trend_key(key) for key in keys.values()]) if keys else {}
    cached = {key: found[_trend_key(key)] for key in keys.values() if _trend_key(key) in found}
    if evicted := [key for key in keys.values() if key not in cached]:
        cached.update(cache.get_many(evicted))
    trends_by_version: dict[int, dict[int, CachedTrend]] = {}
    for version_id, per_version in evidences.items():
        trends_by_version[version_id] = {}
        for series_id, evidence in per_version.items():
            finished = all(run.is_finished for run in evidence.runs)
            entry = cached.get(keys.get((version_id, series_id)))
            if not evidence.succeeded:
                state, trend = ("failed" if finished else "evaluating"), None
            elif entry is None:
                state, trend = "not computed yet", None
            elif entry["trend"] is None:
                state, trend = "no trend", None
            else:
                state, trend = "trend", Trend(**entry["trend"])
            trends_by_version[version_id][series_id] = CachedTrend(
                series=evidence.series, state=state, trend=trend, finished=finished
            )
    return trends_by_version


@dataclass
class ReproducedSeries:
    """One series of a reproduction beside the same series of the version it reproduces."""

    series: ModelSeries
    reproduction: SeriesEvidence
    original: SeriesEvidence | None
    comparison: SeriesComparison | None  # None until both have a trend
    element_id: str  # of the reproduction's charts on the page ("-original" ends the original's)

    @property
    def original_id(self) -> str:
        return f"{self.element_id}-original"


@dataclass
class ReproductionEvidence:
    reproduction: Reproduction
    made_by: str | None  # "you" for its maker, the username for organizers; None for anyone else
    runs: list[EvaluationRun]
    series: list[ReproducedSeries]

    @property
    def element_id(self) -> str:
        return f"reproduction-{self.reproduction.pk}"

    @property
    def finished(self) -> bool:
        return all(run.is_finished for run in self.runs)

    @property
    def comparisons(self) -> list[SeriesComparison]:
        return [s.comparison for s in self.series if s.comparison is not None]


def _made_by(user: AbstractBaseUser, reproduction: Reproduction) -> str | None:
    if reproduction.created_by_id == user.pk:
        return "you"
    return reproduction.created_by.get_username() if is_organizer(user) else None


def _reproduction_series(reproduction: Reproduction, runs: list[EvaluationRun]) -> list[SeriesEvidence]:
    """The reproduction's runs per series, computed (or read from the cache) as a version's are."""
    evidences = []
    for run in runs:
        if not evidences or evidences[-1].series.pk != run.model.series_id:
            evidences.append(SeriesEvidence(series=run.model.series, runs=[], hidden_from_contestants=False))
        evidences[-1].runs.append(run)
    # A reproduction carries what _fill reads of a version: its file, metric, hash and preview.
    _fill(reproduction, evidences)
    return evidences


def precompute_reproduction_evidence(*, reproduction_id: int) -> None:
    """Compute and cache the charts and trends of a reproduction's series, so the review page finds them ready:
    meant for the worker, once a run of the reproduction has succeeded and committed."""
    reproduction = Reproduction.objects.select_related("version").get(pk=reproduction_id)
    runs = selectors.runs_of_reproductions(reproductions=[reproduction])[reproduction.pk]
    _reproduction_series(reproduction, runs)


def _reproduction_evidence(
    user: AbstractBaseUser, reproduction: Reproduction, runs: list[EvaluationRun], original: dict
) -> ReproductionEvidence:
    evidences = _reproduction_series(reproduction, runs)
    originals = {e.series.pk: e for e in original["series"]}
    series = []
    for evidence in evidences:
        before = originals.get(evidence.series.pk)
        comparison = None
        if evidence.trend is not None and before is not None and before.trend is not None:
            comparison = SeriesComparison(
                series=evidence.series.name, original=before.trend, reproduction=evidence.trend
            )
        series.append(
            ReproducedSeries(
                series=evidence.series,
                reproduction=evidence,
                original=before,
                comparison=comparison,
                element_id=f"reproduction-{reproduction.pk}-figures-{evidence.series.pk}",
            )
        )
    places = selectors.queue_places(runs)
    for run in runs:
        run.queue_place = places.get(run.pk)
    return ReproductionEvidence(
        reproduction=reproduction, made_by=_made_by(user, reproduction), runs=runs, series=series
    )


def reproductions_evidence(*, user: AbstractBaseUser, version, original: dict) -> list[ReproductionEvidence]:
    """The version's reproductions, each series beside the version's own (``original``: what
    :func:`version_evidence` gave the same user, an organizer or an assigned reviewer, who see every series)."""
    reproductions = selectors.reproductions_of(version=version)
    runs = selectors.runs_of_reproductions(reproductions=reproductions)
    return [_reproduction_evidence(user, r, runs[r.pk], original) for r in reproductions]


def reproduction_evidence(*, user: AbstractBaseUser, reproduction: Reproduction) -> ReproductionEvidence:
    """One reproduction beside its version (the page swaps its section in as its runs finish)."""
    original = version_evidence(user=user, version=reproduction.version)
    runs = selectors.runs_of_reproductions(reproductions=[reproduction])[reproduction.pk]
    return _reproduction_evidence(user, reproduction, runs, original)
