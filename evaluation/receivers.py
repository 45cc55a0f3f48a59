"""evaluation's answers to what lower apps announce (connected in EvaluationConfig.ready)."""

from evaluation.services import enqueue_runs


def evaluate_new_version(sender, *, version, **kwargs) -> None:
    """Every new task version is evaluated on every model of every active series."""
    enqueue_runs(version=version)
