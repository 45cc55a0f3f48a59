"""What each person may see of evaluations: private series stay hidden until released for the round."""

import datetime as dt
import statistics
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Length, Right, Substr

from accounts.selectors import is_organizer
from evaluation.models import (
    OF_SUBMISSIONS_NOT_WITHDRAWN,
    EvaluationRun,
    ExampleResult,
    ExampleText,
    LanguageModel,
    ModelSeries,
    Reproduction,
    queue_name,
)
from submissions.models import Submission
from submissions.selectors import is_reviewer_of, submissions_visible_to


def series_visible_to(user: AbstractBaseUser, *, submission) -> QuerySet[ModelSeries]:
    """Organizers and the submission's assigned reviewers see every series; its team the public ones and the
    private ones released for its round."""
    if is_organizer(user) or is_reviewer_of(user=user, submission=submission):
        return ModelSeries.objects.all()
    return ModelSeries.objects.filter(
        Q(visibility=ModelSeries.Visibility.PUBLIC) | Q(releases__round=submission.round_id)
    ).distinct()


def with_evaluation_progress(
    submissions: QuerySet[Submission], *, public_series_only: bool
) -> QuerySet[Submission]:
    """With how many runs of the current version exist, succeeded and failed (distinct counts, so the joins do
    not multiply each other). Contestants' dashboards count public series only."""
    runs = Q(current_version__runs__model__series__visibility="public") if public_series_only else Q()
    return submissions.annotate(
        run_count=Count("current_version__runs", filter=runs, distinct=True),
        runs_succeeded=Count(
            "current_version__runs", filter=runs & Q(current_version__runs__status="succeeded"), distinct=True
        ),
        runs_failed=Count(
            "current_version__runs", filter=runs & Q(current_version__runs__status="failed"), distinct=True
        ),
    )


def has_running_runs(*, version) -> bool:
    """Whether a run of the version, or of a reproduction of it, is running (its progress changing)."""
    return EvaluationRun.objects.filter(
        Q(version=version) | Q(reproduction__version=version), status=EvaluationRun.Status.RUNNING
    ).exists()


def runs_visible_to(user: AbstractBaseUser, *, version, series_id: int | None = None) -> list[EvaluationRun]:
    """The version's runs on the series the user may see (only those of ``series_id`` when given)."""
    series = series_visible_to(user, submission=version.submission)
    runs = EvaluationRun.objects.filter(version=version, model__series__in=series)
    if series_id is not None:
        runs = runs.filter(model__series=series_id)
    return _by_series_and_size(runs)


def runs_of(*, version) -> list[EvaluationRun]:
    """Every run of the version, whoever may see it (for work done on everyone's behalf)."""
    return _by_series_and_size(EvaluationRun.objects.filter(version=version))


def reproductions_of(*, version) -> list:
    """The version's reproductions, oldest first, with who made them and their version (one query)."""
    return list(
        Reproduction.objects.filter(version=version).select_related(
            "created_by", "version__submission__round"
        )
    )


def runs_of_reproductions(*, reproductions: list) -> dict[int, list[EvaluationRun]]:
    """Per reproduction id, its runs in the order of ``runs_of`` (one query for all)."""
    by_reproduction: dict[int, list[EvaluationRun]] = {r.pk: [] for r in reproductions}
    for run in _by_series_and_size(EvaluationRun.objects.filter(reproduction__in=list(by_reproduction))):
        by_reproduction[run.reproduction_id].append(run)
    return by_reproduction


@dataclass(frozen=True)
class ListedRun:
    """What a list of many versions reads of a run: its state and its model (one instance per model, shared by
    every run on it), without building a model instance per run: a round's overview reads tens of thousands."""

    pk: int
    version_id: int
    status: str
    finished_at: dt.datetime | None
    model: LanguageModel

    @property
    def model_id(self) -> int:
        return self.model.pk

    @property
    def is_finished(self) -> bool:
        return self.status in (EvaluationRun.Status.SUCCEEDED, EvaluationRun.Status.FAILED)


def listed_runs_of_versions(*, version_ids: list[int]) -> list[ListedRun]:
    """Every run of these versions in the order of ``runs_of`` (per version), in two queries."""
    rows = list(
        EvaluationRun.objects.filter(version__in=version_ids)
        .order_by("model__series__order", "model__series__name", "model__parameter_count")
        .values_list("pk", "version_id", "status", "finished_at", "model_id")
    )
    models = LanguageModel.objects.filter(pk__in={row[4] for row in rows}).select_related("series")
    by_id = {model.pk: model for model in models}
    return [
        ListedRun(pk, version, status, finished, by_id[model])
        for pk, version, status, finished, model in rows
    ]


def _by_series_and_size(runs: QuerySet[EvaluationRun]) -> list[EvaluationRun]:
    return list(
        runs.select_related("model__series").order_by(
            "model__series__order", "model__series__name", "model__parameter_count"
        )
    )


def run_visible_to(user: AbstractBaseUser, *, run_id: int) -> EvaluationRun | None:
    """The run, if the user may see it: its submission is visible to them and so is its series, and for a
    reproduction's run, they are an organizer or one of the submission's reviewers (None is the same answer for
    a run that does not exist, so a hidden one cannot be told apart)."""
    run = (
        EvaluationRun.objects.filter(pk=run_id)
        .filter(
            Q(version__submission__in=submissions_visible_to(user))
            | Q(reproduction__version__submission__in=submissions_visible_to(user))
        )
        .select_related("version__submission", "reproduction__version__submission", "model__series")
        .first()
    )
    if run is None:
        return None
    submission = run.evaluated.submission
    if run.reproduction_id and not (is_organizer(user) or is_reviewer_of(user=user, submission=submission)):
        return None  # the team never learns of a reproduction
    series = series_visible_to(user, submission=submission)
    return run if series.filter(pk=run.model.series_id).exists() else None


# The estimate of a queued run's start reads the durations of this many recent succeeded runs of its queue.
RECENT_RUNS = 20


@dataclass(frozen=True)
class QueuePlace:
    """Where a queued run waits: ``position`` 1 is next, ``ahead`` runs of its queue go first; the estimated wait
    in seconds is None when its queue has no finished run to go by."""

    position: int
    ahead: int
    wait_seconds: float | None

    @property
    def estimate(self) -> str:
        if self.wait_seconds is None:
            return "start time unknown"
        minutes = round(self.wait_seconds / 60)
        if minutes < 1:
            return "starts in less than a minute"
        return f"starts in about {minutes} minute{'s' if minutes != 1 else ''}"

    def estimated_start(self, now: dt.datetime) -> dt.datetime | None:
        return None if self.wait_seconds is None else now + dt.timedelta(seconds=self.wait_seconds)


def _on_queue(queue: str) -> Q:
    """The runs whose models go to this Celery queue (see ModelSeries.queue), as a filter on runs."""
    if queue == "api":
        return Q(model__series__backend=ModelSeries.Backend.OPENAI)
    visibility = ModelSeries.Visibility.PRIVATE if queue == "gpu-private" else ModelSeries.Visibility.PUBLIC
    return Q(model__series__visibility=visibility) & ~Q(model__series__backend=ModelSeries.Backend.OPENAI)


def _queue_of(values: dict) -> str:
    return queue_name(
        backend=values["model__series__backend"], visibility=values["model__series__visibility"]
    )


def queue_places(runs: list[EvaluationRun]) -> dict[int, QueuePlace]:
    """For each queued run, its place among the queued runs of its Celery queue (first queued, first run; ties
    by id) and an estimate of its wait, in a number of queries that does not grow with the runs (at most one
    per queue).

    The estimate: with ``D`` the median duration of the queue's last RECENT_RUNS succeeded runs, ``busy`` the
    runs running on it now and ``W = max(busy, 1)`` the workers we know of (each busy one), the runs ahead and
    those running must finish first, shared among the workers: wait ≈ D × (ahead + busy) / W. Unknown when the
    queue has no succeeded run yet. Runs of withdrawn submissions are never started and wait behind nobody.
    """
    Status = EvaluationRun.Status
    if not any(run.status == Status.QUEUED for run in runs):
        return {}
    series_fields = ("model__series__backend", "model__series__visibility")
    waiting = (
        EvaluationRun.objects.filter(OF_SUBMISSIONS_NOT_WITHDRAWN, status=Status.QUEUED)
        .order_by("queued_at", "pk")
        .values("pk", *series_fields)
    )
    ahead_in: dict[str, int] = {}
    places: dict[int, tuple[str, int]] = {}
    for values in waiting:
        queue = _queue_of(values)
        places[values["pk"]] = (queue, ahead_in.get(queue, 0))
        ahead_in[queue] = ahead_in.get(queue, 0) + 1
    ours = {run.pk: places[run.pk] for run in runs if run.pk in places}
    if not ours:
        return {}
    busy: dict[str, int] = {}
    for values in (
        EvaluationRun.objects.filter(status=Status.RUNNING).values(*series_fields).annotate(n=Count("pk"))
    ):
        busy[_queue_of(values)] = busy.get(_queue_of(values), 0) + values["n"]
    typical = {queue: _median_duration(queue) for queue in {queue for queue, _ in ours.values()}}
    result = {}
    for pk, (queue, ahead) in ours.items():
        wait = None
        if typical[queue] is not None:
            running = busy.get(queue, 0)
            wait = typical[queue] * (ahead + running) / max(running, 1)
        result[pk] = QueuePlace(position=ahead + 1, ahead=ahead, wait_seconds=wait)
    return result


def _median_duration(queue: str) -> float | None:
    recent = (
        EvaluationRun.objects.filter(
            _on_queue(queue),
            status=EvaluationRun.Status.SUCCEEDED,
            started_at__isnull=False,
            finished_at__isnull=False,
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:RECENT_RUNS]
    )
    seconds = [(finished - started).total_seconds() for started, finished in recent]
    return statistics.median(seconds) if seconds else None


def example_values(runs: list[EvaluationRun]) -> dict[int, dict[int, float]]:
    """Per run id, its values by row: plain numbers, one query for all runs (pages draw trends from these)."""
    by_run: dict[int, dict[int, float]] = {run.pk: {} for run in runs}
    rows = ExampleResult.objects.filter(run__in=[r.pk for r in runs]).values_list("run_id", "row", "value")
    for run_id, row, value in rows.iterator(chunk_size=10_000):
        by_run[run_id][row] = value
    return by_run


def example_correct(runs: list[EvaluationRun]) -> dict[int, dict[int, bool | None]]:
    """Per run id, whether the model chose the answer, by row (None where unknown), in one query for all runs
    (the trend's "at chance" check reads these)."""
    by_run: dict[int, dict[int, bool | None]] = {run.pk: {} for run in runs}
    rows = ExampleResult.objects.filter(run__in=[r.pk for r in runs]).values_list("run_id", "row", "correct")
    for run_id, row, correct in rows.iterator(chunk_size=10_000):
        by_run[run_id][row] = correct
    return by_run


def example_results(rows_by_run: dict[int, list[int]]) -> dict[tuple[int, int], ExampleResult]:
    """The full results (with class log-probabilities) of a few rows of some runs, by (run id, row), in one
    query."""
    wanted = Q(pk__in=[])
    for run_id, rows in rows_by_run.items():
        wanted |= Q(run_id=run_id, row__in=rows)
    return {(r.run_id, r.row): r for r in ExampleResult.objects.filter(wanted)}


def results_of(runs: list[EvaluationRun]):
    """Every example result of these runs, with its run and model, in order (for downloads)."""
    return (
        ExampleResult.objects.filter(run__in=[r.pk for r in runs])
        .select_related("run__model__series")
        .order_by("run__model__series__order", "run__model__parameter_count", "row")
        .iterator(chunk_size=5_000)
    )


# How the drill-down may order a run's examples: by the shown model's value, or by the change of value between
# two models of the viewer's choice (None when unknown: a row one of them did not evaluate), ties by row.
DRILL_DOWN_ORDERS = {
    "value-desc": (F("value").desc(), "row"),
    "value-asc": (F("value").asc(), "row"),
    "change-desc": (F("change").desc(nulls_last=True), "row"),
    "change-asc": (F("change").asc(nulls_last=True), "row"),
    "row": ("row",),
}


def drill_down_results(
    *,
    run: EvaluationRun,
    order: str,
    search: str = "",
    change_from: EvaluationRun | None = None,
    change_to: EvaluationRun | None = None,
) -> QuerySet:
    """The run's example results as dicts (row, value, correct, class_logprobs, change), ordered by ``order``
    (a key of DRILL_DOWN_ORDERS), only those whose prompt or other prompt contains ``search`` (any case).

    One lazy query: a paginator counts it and slices one page, so a page costs two queries however many
    examples the run has. The search reads the version's ExampleText rows (see services.index_example_texts).
    """
    results = ExampleResult.objects.filter(run=run)
    if search:
        matching = ExampleText.objects.filter(version=run.version_id).filter(
            Q(prompt__icontains=search) | Q(other_prompt__icontains=search)
        )
        results = results.filter(row__in=matching.values("row"))
    if change_from is not None and change_to is not None:
        results = results.annotate(change=_value_on(change_to) - _value_on(change_from))
    else:
        results = results.annotate(change=Value(None, output_field=FloatField()))
    return results.order_by(*DRILL_DOWN_ORDERS[order]).values(
        "row", "value", "correct", "class_logprobs", "change"
    )


def _value_on(run: EvaluationRun) -> Subquery:
    """The value of the outer query's row on ``run`` (NULL where the run has none)."""
    # order_by(): without it the model's default ordering joins the run, model and series for nothing.
    return Subquery(ExampleResult.objects.filter(run=run, row=OuterRef("row")).order_by().values("value")[:1])


def example_texts_of(*, version, rows: list[int], keep: int, tail: int) -> dict[int, dict]:
    """The texts of these rows of the version, by row, in one query. Each long text comes as its first ``keep``
    characters, its last ``tail`` ones and its length, so a page of huge prompts stays small."""
    fields = ("prompt", "other_prompt", "completion")
    pieces = {}
    for name in fields:
        pieces |= {
            f"{name}_head": Substr(name, 1, keep),
            f"{name}_tail": Right(name, tail),
            f"{name}_length": Length(name),
        }
    found = ExampleText.objects.filter(version=version, row__in=rows).values(
        "row", "classes", "answer_index", **pieces
    )
    return {texts["row"]: texts for texts in found}
