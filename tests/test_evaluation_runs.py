"""Runs through the real Redis broker and real Celery worker processes: complete, exact, never twice."""

import datetime as dt
import json
import signal
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from evaluation.models import EvaluationRun, ExampleResult
from evaluation.services import requeue_stale_runs
from evaluation.tasks import run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.conftest import DEMO_TASKS, start_worker
from tests.factories import ANSWERS

pytestmark = pytest.mark.slow


def _wait(predicate, seconds=600, what="the runs"):  # waits for the condition; sized for a busy CI machine
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not finish within {seconds} s"
        time.sleep(0.3)


def _evaluate_task(path, metric, model_dir) -> dict:
    out = StringIO()
    call_command("evaluate_task", str(path), metric=metric, model=str(model_dir), no_cache=True, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def unsent(monkeypatch):
    """No worker: runs are not sent when their version commits; the test runs them as a worker would."""
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)


# The worker's heartbeat thread writes through its own database connection: these tests commit (transactional_db).


def test_in_process_runs_store_results_equal_to_evaluate_task(
    transactional_db, alice, open_round, tiny_series, tiny_model_dirs, tmp_path, settings
):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    data = (DEMO_TASKS / "logic_dataset_full.csv").read_bytes()
    # Eager mode (the tests' default): the runs are evaluated in this process once the version commits.
    version = submit_task(
        user=alice,
        round=open_round,
        answers={**ANSWERS, "metric": "logodds"},
        upload=TaskUpload(name="l.csv", data=data),
    )
    runs = list(version.runs.select_related("model").order_by("model__order"))
    assert [r.status for r in runs] == ["succeeded"] * 3
    path = tmp_path / "task.csv"
    path.write_bytes(data)
    for run, (_, _, model_dir) in zip(runs, tiny_model_dirs, strict=True):
        expected = _evaluate_task(path, "logodds", model_dir)
        stored = list(run.examples.order_by("row"))
        assert [e.row for e in stored] == expected["rows"]
        assert [e.value for e in stored] == pytest.approx(expected["values"], abs=1e-6)
        assert run.mean == pytest.approx(expected["mean"], abs=1e-9)
        assert run.accuracy == pytest.approx(expected["accuracy"])
        assert all(len(e.class_logprobs) == 2 and len(e.class_logprobs[0]) == 2 for e in stored)


def test_a_duplicate_delivery_changes_nothing(
    transactional_db, unsent, alice, open_round, tiny_series, valid_csv, tmp_path, settings
):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    run = version.runs.first()
    run_evaluation(run.pk)
    run.refresh_from_db()
    before = (run.status, run.attempts, run.finished_at, run.examples.count())
    run_evaluation(run.pk)  # the broker delivers the same task again
    run.refresh_from_db()
    assert (
        (run.status, run.attempts, run.finished_at, run.examples.count())
        == before
        == (
            "succeeded",
            1,
            run.finished_at,
            300,
        )
    )


def test_a_real_worker_evaluates_every_model_of_a_submitted_version(
    celery_worker_process, client, alice, open_round, tiny_series, tiny_model_dirs, tmp_path
):
    data = (DEMO_TASKS / "1-proverb-ending.csv").read_bytes()
    with transaction.atomic():
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="p.csv", data=data)
        )
    client.force_login(alice)
    # The dashboard, cached while the worker starts (config/freshness.py)...
    assert "Evaluating · 0 of 3 models" in client.get(reverse("dashboard")).content.decode()
    runs = EvaluationRun.objects.filter(version=version)
    assert runs.count() == 3
    _wait(lambda: all(r.is_finished for r in runs.all()))
    assert set(runs.values_list("status", flat=True)) == {"succeeded"}
    # ...shows what the worker's process wrote as soon as it wrote it.
    assert ">Evaluated<" in client.get(reverse("dashboard")).content.decode()
    path = tmp_path / "task.csv"
    path.write_bytes(data)
    largest = runs.get(model__name="tiny-l")
    expected = _evaluate_task(path, "classification", tiny_model_dirs[2][2])
    assert list(largest.examples.order_by("row").values_list("value", flat=True)) == pytest.approx(
        expected["values"], abs=1e-5
    )
    assert largest.progress_done == largest.progress_total > 0

    # The broker delivers a finished run's task again: the worker finds nothing to claim.
    finished_at = largest.finished_at
    run_evaluation.apply_async(args=[largest.pk], queue="gpu")
    run_evaluation.apply_async(args=[largest.pk], queue="gpu")
    time.sleep(3)
    largest.refresh_from_db()
    assert (largest.attempts, largest.finished_at, largest.examples.count()) == (1, finished_at, 860)


def test_killing_the_worker_mid_run_leaves_exactly_one_completed_run(
    celery_worker_process, alice, open_round, tiny_series, settings
):
    from evaluation.models import LanguageModel

    LanguageModel.objects.exclude(name="tiny-l").delete()  # one run, long enough to be caught running
    big = (DEMO_TASKS / "lambada-1k.csv").read_bytes()
    with transaction.atomic():
        version = submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "metric": "sequence_prob"},
            upload=TaskUpload(name="l.csv", data=big),
        )
    run = EvaluationRun.objects.get(version=version)
    _wait(
        lambda: EvaluationRun.objects.filter(pk=run.pk, status="running", progress_done__gt=0).exists(),
        what="the first claim",
    )
    worker = celery_worker_process.worker
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    run.refresh_from_db()
    assert run.status == "running" and run.attempts == 1

    later = run.heartbeat_at + dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT + 1)
    assert requeue_stale_runs(now=later) == (1, 0)
    replacement = start_worker(celery_worker_process.env, "replacement")
    try:
        _wait(lambda: EvaluationRun.objects.get(pk=run.pk).is_finished)
    finally:
        replacement.terminate()
        replacement.wait(timeout=20)
    run.refresh_from_db()
    assert (run.status, run.attempts) == ("succeeded", 2)
    assert EvaluationRun.objects.filter(version=version).count() == 1
    assert ExampleResult.objects.filter(run=run).count() == 1000


def test_a_run_that_cannot_fit_in_memory_fails_with_a_readable_reason(
    transactional_db, unsent, alice, open_round, tiny_series, valid_csv, monkeypatch, tmp_path, settings
):
    import torch

    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    run = version.runs.first()

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr("evaluation.engine.pipeline.evaluate", out_of_memory)
    run_evaluation(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.failure_reason.startswith("The model ran out of memory")
    assert "Traceback" not in run.failure_reason
