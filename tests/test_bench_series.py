"""bench/series.py's machinery at a small scale, so the benchmark cannot rot: a task submitted through
submit_task runs on every model of a series in a real Celery worker started as the benchmark starts it, the
engine alone times the same examples, and the table compares them. No timing is asserted."""

import os

import pytest
import redis
from django.db import connection

from bench import series
from evaluation.models import EvaluationRun, ExampleResult

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = 50


def test_series_benchmark_runs_a_submitted_task_in_a_real_worker_and_in_the_engine_alone(
    tiny_model_dirs, tmp_path
):
    from config.celery import app

    models = [series.Model(name, parameters, path) for name, parameters, path in tiny_model_dirs]
    user, round = series.setup_contest(models, min_examples=EXAMPLES)
    data = series.task_csv(EXAMPLES)
    broker = os.environ["REDIS_URL"]  # the tests' own Redis database, emptied first
    redis.Redis.from_url(broker).flushdb()
    db = connection.settings_dict
    env = series.worker_env(
        database_url=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        redis_url=broker,
        var_dir=tmp_path,  # its MEDIA_ROOT is the test's upload folder (tests/conftest.py)
    )
    app.conf.task_always_eager = False
    worker = series.start_worker(env)
    try:
        version = series.submit(user, round, data)
        runs = series.wait_for_runs(version, worker=worker, seconds=300)
    finally:
        series.stop_worker(worker)

    assert worker.returncode is not None, "the worker was stopped"
    assert [run.model for run in runs] == ["tiny-s", "tiny-m", "tiny-l"]
    assert all(run.seconds > 0 for run in runs)
    assert set(EvaluationRun.objects.filter(version=version).values_list("status", flat=True)) == {
        EvaluationRun.Status.SUCCEEDED
    }
    assert ExampleResult.objects.filter(run__version=version).count() == EXAMPLES * len(models)

    engine = series.engine_times(models, data)
    assert [timing.model for timing in engine] == ["tiny-s", "tiny-m", "tiny-l"]
    assert all(timing.seconds > 0 and timing.load_seconds > 0 for timing in engine)
    total = sum(timing.seconds for timing in engine)
    lines = series.table(models, runs, engine, wall=total * 1.2)
    assert [line.split(" | ")[0] for line in lines[2:6]] == ["| tiny-s", "| tiny-m", "| tiny-l", "| **all**"]
    assert "1.20× the engine's" in lines[-1] and "pass" in lines[-1]
    assert "MISSED" in series.table(models, runs, engine, wall=total * 1.5)[-1]


def test_waiting_for_runs_names_the_model_whose_run_failed(tiny_model_dirs, tmp_path):
    """A benchmark whose run failed is an error (it exits non-zero), with the run's reason."""
    from evaluation.services import claim_run, fail_run

    models = [series.Model(name, parameters, path) for name, parameters, path in tiny_model_dirs[:1]]
    user, round = series.setup_contest(models, min_examples=EXAMPLES)
    version = series.submit(user, round, series.task_csv(EXAMPLES))  # eager: the run succeeds here
    run = EvaluationRun.objects.get(version=version)
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.QUEUED)
    fail_run(run_id=run.pk, token=claim_run(run_id=run.pk, worker="test"), reason="The model broke.")

    class Alive:
        def poll(self):
            return None

    with pytest.raises(RuntimeError, match="tiny-s failed: The model broke."):
        series.wait_for_runs(version, worker=Alive(), seconds=5)
