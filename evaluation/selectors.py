"""What each person may see of evaluations: private series stay hidden until released for the round."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Length, Right, Substr

from accounts.selectors import is_organizer
from evaluation.models import EvaluationRun, ExampleResult, ExampleText, ModelSeries
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


def runs_of_versions(*, version_ids: list[int]) -> list[EvaluationRun]:
    """Every run of these versions, each version's in the order of ``runs_of``, in one query (for lists); the
    failure's long texts are left out."""
    runs = EvaluationRun.objects.filter(version__in=version_ids).defer(
        "failure_traceback", "failure_message", "failure_reason"
    )
    return _by_series_and_size(runs)


def _by_series_and_size(runs: QuerySet[EvaluationRun]) -> list[EvaluationRun]:
    return list(
        runs.select_related("model__series").order_by(
            "model__series__order", "model__series__name", "model__parameter_count"
        )
    )


def run_visible_to(user: AbstractBaseUser, *, run_id: int) -> EvaluationRun | None:
    """The run, if the user may see it: its submission is visible to them and so is its series (None is the same
    answer for a run that does not exist, so a hidden one cannot be told apart)."""
    run = (
        EvaluationRun.objects.filter(pk=run_id, version__submission__in=submissions_visible_to(user))
        .select_related("version__submission", "model__series")
        .first()
    )
    if run is None:
        return None
    series = series_visible_to(user, submission=run.version.submission)
    return run if series.filter(pk=run.model.series_id).exists() else None


def queue_positions(runs: list[EvaluationRun]) -> dict[int, int]:
    """For each queued run, its place among the queued runs of its series' kind (1 = next), in one query."""
    if not any(run.status == EvaluationRun.Status.QUEUED for run in runs):
        return {}
    waiting = EvaluationRun.objects.filter(status=EvaluationRun.Status.QUEUED).order_by("queued_at", "pk")
    seen: dict[tuple[str, str], int] = {}
    places: dict[int, int] = {}
    for pk, backend, visibility in waiting.values_list(
        "pk", "model__series__backend", "model__series__visibility"
    ):
        seen[(backend, visibility)] = seen.get((backend, visibility), 0) + 1
        places[pk] = seen[(backend, visibility)]
    return {run.pk: places[run.pk] for run in runs if run.pk in places}


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
