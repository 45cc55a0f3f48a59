"""evaluation's answers to what lower apps announce (connected in EvaluationConfig.ready)."""

from evaluation.services import enqueue_runs, reuse_results
from submissions.selectors import previous_version


def evaluate_new_version(sender, *, version, **kwargs) -> None:
    """Every new task version is evaluated on every model of every active series, except that a version with the
    file and metric of the one before keeps that one's finished results (its answers alone changed)."""
    previous = previous_version(version=version)
    if previous is not None:
        reuse_results(version=version, previous=previous)
    enqueue_runs(version=version)
