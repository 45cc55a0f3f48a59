"""What each person may see of evaluations: private series stay hidden until released for the round."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from accounts.selectors import is_organizer
from evaluation.models import EvaluationRun, ExampleResult, ModelSeries


def series_visible_to(user: AbstractBaseUser, *, submission) -> QuerySet[ModelSeries]:
    """Organizers and the submission's assigned reviewers see every series; its team the public ones and the
    private ones released for its round."""
    if is_organizer(user) or submission.assignments.filter(reviewer=user).exists():
        return ModelSeries.objects.all()
    return ModelSeries.objects.filter(
        Q(visibility=ModelSeries.Visibility.PUBLIC) | Q(releases__round=submission.round_id)
    ).distinct()


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


def _by_series_and_size(runs: QuerySet[EvaluationRun]) -> list[EvaluationRun]:
    return list(
        runs.select_related("model__series").order_by(
            "model__series__order", "model__series__name", "model__parameter_count"
        )
    )


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
