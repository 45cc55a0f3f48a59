"""A worker keeps its claim alive from claim to completion, a model load longer than the timeout included, and
stops when the sweeper gave its run away."""

import datetime as dt
import threading

import pytest
from django.utils import timezone

from evaluation.models import EvaluationRun
from evaluation.services import requeue_stale_runs
from evaluation.tasks import run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import FakeScorer, fake_series, in_thread, wait_for

# The heartbeat thread writes through its own database connection: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_load(monkeypatch, settings):
    """The model "loads" until the test releases it; the heartbeat timeout is two seconds."""
    settings.EVALUATION_HEARTBEAT_TIMEOUT = 2
    settings.EVALUATION_HEARTBEAT_SECONDS = 0.2
    loading, release, scorer = threading.Event(), threading.Event(), FakeScorer()

    def load(model):
        loading.set()
        assert release.wait(120), "the test never released the model load"
        return scorer

    monkeypatch.setattr("evaluation.tasks.scorer_for", load)
    yield loading, release, scorer
    release.set()


@pytest.fixture
def run(alice, open_round, valid_csv, tmp_path, settings, monkeypatch):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    fake_series(tmp_path / "model")
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)  # the test is the worker
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    return version.runs.get()


def test_a_model_load_longer_than_the_heartbeat_timeout_keeps_the_run(run, slow_load, settings):
    loading, release, scorer = slow_load
    worker = in_thread(run_evaluation, run.pk)
    assert loading.wait(60), "the worker did not start loading the model"
    claimed = EvaluationRun.objects.get(pk=run.pk)
    timeout = dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT)
    # The load has lasted twice the timeout, and the heartbeat still says the worker is alive...
    wait_for(
        lambda: EvaluationRun.objects.get(pk=run.pk).heartbeat_at > claimed.started_at + 2 * timeout,
        what="a heartbeat written during the model load",
    )
    # ...so the sweeper leaves the run to its worker.
    assert requeue_stale_runs() == (0, 0)
    release.set()
    worker.join(60)
    run.refresh_from_db()
    assert (run.status, run.attempts, run.examples.count(), scorer.calls) == ("succeeded", 1, 300, 1)


def test_the_heartbeat_stops_when_the_run_ends(run, slow_load):
    loading, release, _ = slow_load
    release.set()
    run_evaluation(run.pk)
    assert not [t for t in threading.enumerate() if t.name == f"heartbeat-run-{run.pk}"]
    run.refresh_from_db()
    assert run.status == "succeeded"


def test_a_worker_that_lost_its_claim_while_loading_stops_before_scoring(run, slow_load, settings, caplog):
    loading, release, scorer = slow_load
    worker = in_thread(run_evaluation, run.pk)
    assert loading.wait(60)
    # The sweeper, with a clock past the timeout, gives the run to another worker.
    later = timezone.now() + dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT + 1)
    assert requeue_stale_runs(now=later) == (1, 0)
    wait_for(
        lambda: any("claim on the run was lost" in r.getMessage() for r in caplog.records),
        what="the heartbeat noticing the lost claim",
    )
    release.set()
    worker.join(60)
    run.refresh_from_db()
    # The worker stopped before computing a result nobody would store; the run waits for its next worker.
    assert scorer.calls == 0
    assert (run.status, run.attempts, run.examples.count()) == ("queued", 1, 0)
