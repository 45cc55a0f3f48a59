"""Shared by the tests of evaluation runs (tests/test_runs_*.py): a scorer without a model, waiting, threads."""

import threading
import time

from django.db import connection

from evaluation.models import LanguageModel, ModelSeries


class FakeScorer:
    """Scores every continuation without a model: the first continuation of a group gets -1, the next -2, ..."""

    identity = "fake"

    def __init__(self, error: Exception | None = None):
        self.calls = 0
        self.error = error

    def score(self, groups, *, progress=None):
        self.calls += 1
        if self.error is not None:
            raise self.error
        if progress is not None:
            progress(len(groups))
        return [[-1.0 - i for i in range(len(g.continuations))] for g in groups]


def fake_series(model_dir) -> ModelSeries:
    """A public series of one model whose directory holds only a config (the scorer is faked)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    series = ModelSeries.objects.create(name="Fake", visibility="public")
    LanguageModel.objects.create(series=series, name="fake-1", parameter_count=1000, location=str(model_dir))
    return series


def wait_for(predicate, *, seconds: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


def in_thread(function, *args) -> threading.Thread:
    """Run ``function`` in a thread with its own database connection, closed at the end (as a worker would)."""

    def target():
        try:
            function(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def public_and_private_series(sizes: tuple[int, ...]) -> tuple[ModelSeries, ModelSeries]:
    """A public series "Open Models" and a private one "Secret Lab", each with a model of every size."""
    public = ModelSeries.objects.create(name="Open Models", visibility="public", order=1)
    private = ModelSeries.objects.create(name="Secret Lab", visibility="private", order=2)
    for s, prefix in ((public, "open"), (private, "secret")):
        for i, params in enumerate(sizes):
            LanguageModel.objects.create(
                series=s, name=f"{prefix}-{i}", parameter_count=params, location=f"/nowhere/{prefix}-{i}"
            )
    return public, private


def finish_run(run, *, rows: list[int], values: list[float], correct_below: float = 0.55, **result) -> None:
    """Play the worker: claim the run and complete it with these per-row values (as if a model gave them);
    ``result`` adds or overrides fields of the worker's result."""
    from evaluation.services import claim_run, complete_run

    complete_run(
        run_id=run.pk,
        token=claim_run(run_id=run.pk, worker="test"),
        result={
            "rows": rows,
            "values": values,
            "correct": [v < correct_below for v in values],
            "logprobs": [[[-v, -1.0]] for v in values],
            "n_examples": len(values),
            "mean": sum(values) / len(values),
            "stderr": 0.01,
            "accuracy": 0.5,
            "subsample_seed": None,
            "engine_version": "test",
            **result,
        },
    )
