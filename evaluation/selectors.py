"""What each person may see of evaluations: private series stay hidden until released for the round."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from accounts.selectors import is_organizer
from evaluation.models import EvaluationRun, ExampleResult, ModelSeries


def series_visible_to(user: AbstractBaseUser, *, round) -> QuerySet[ModelSeries]:
    if is_organizer(user):
        return ModelSeries.objects.all()
    return ModelSeries.objects.filter(
        Q(visibility=ModelSeries.Visibility.PUBLIC) | Q(releases__round=round)
    ).distinct()


def runs_visible_to(user: AbstractBaseUser, *, version) -> list[EvaluationRun]:
    series = series_visible_to(user, round=version.submission.round)
    return list(
        EvaluationRun.objects.filter(version=version, model__series__in=series)
        .select_related("model__series")
        .order_by("model__series__order", "model__series__name", "model__parameter_count")
    )


def queue_positions(runs: list[EvaluationRun]) -> dict[int, int]:
    """For each queued run, how many runs of its series' kind were queued before it, plus one."""
    positions = {}
    for run in runs:
        if run.status == EvaluationRun.Status.QUEUED:
            series = run.model.series
            positions[run.pk] = (
                EvaluationRun.objects.filter(
                    status=EvaluationRun.Status.QUEUED,
                    queued_at__lt=run.queued_at,
                    model__series__backend=series.backend,
                    model__series__visibility=series.visibility,
                ).count()
                + 1
            )
    return positions


def example_values(runs: list[EvaluationRun]) -> dict[int, dict[int, ExampleResult]]:
    """Per run id, its example results by row (one query for all runs)."""
    by_run: dict[int, dict[int, ExampleResult]] = {run.pk: {} for run in runs}
    for result in ExampleResult.objects.filter(run__in=[r.pk for r in runs]).order_by("run", "row"):
        by_run[result.run_id][result.row] = result
    return by_run
