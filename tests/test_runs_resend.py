"""A run whose broker message was lost is sent again by the sweeper, so no run stays queued forever."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from evaluation.models import EvaluationRun, LanguageModel
from evaluation.services import claim_run, resend_queued_runs
from evaluation.tasks import sweep_stale_runs
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import fake_series, wait_for


@pytest.fixture
def sent(monkeypatch):
    """What the web process sends to the broker (nothing reaches it)."""
    messages = []
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: messages.append((run_id, queue)))
    return messages


def _submit(user, round, data):
    return submit_task(user=user, round=round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=data))


def test_a_run_left_queued_is_sent_again_once_per_period(
    alice, charlie, open_round, valid_csv, tmp_path, settings, sent, django_capture_on_commit_callbacks
):
    settings.EVALUATION_QUEUED_RESEND_SECONDS = 600
    fake_series(tmp_path / "model")
    with django_capture_on_commit_callbacks(execute=True):
        lost = _submit(alice, open_round, valid_csv).runs.get()
        running = _submit(charlie, open_round, valid_csv).runs.get()
    assert sent == [(lost.pk, "gpu"), (running.pk, "gpu")]
    claim_run(run_id=running.pk, worker="busy")
    sent.clear()

    now = timezone.now()
    assert resend_queued_runs(now=now) == 0  # just sent: its message is surely still in the queue
    later = now + dt.timedelta(seconds=601)
    with django_capture_on_commit_callbacks(execute=True):
        assert resend_queued_runs(now=later) == 1
    assert sent == [(lost.pk, "gpu")]  # the running run has a worker: not sent
    with django_capture_on_commit_callbacks(execute=True):
        assert resend_queued_runs(now=later + dt.timedelta(seconds=1)) == 0  # once per period
    assert sent == [(lost.pk, "gpu")]
    assert EvaluationRun.objects.get(pk=lost.pk).status == "queued"


@pytest.mark.slow
def test_a_real_worker_evaluates_a_run_whose_message_was_lost_once_the_sweeper_sends_it_again(
    celery_worker_process, alice, open_round, tiny_series, valid_csv, settings, monkeypatch
):
    LanguageModel.objects.exclude(name="tiny-s").delete()
    with monkeypatch.context() as lose:
        lose.setattr("evaluation.services._send", lambda run_id, queue: None)  # the message never arrives
        with transaction.atomic():
            run = _submit(alice, open_round, valid_csv).runs.get()
    EvaluationRun.objects.filter(pk=run.pk).update(
        sent_at=timezone.now() - dt.timedelta(seconds=settings.EVALUATION_QUEUED_RESEND_SECONDS + 1)
    )
    assert EvaluationRun.objects.get(pk=run.pk).status == "queued"
    sweep_stale_runs()  # what beat runs every EVALUATION_SWEEP_SECONDS
    wait_for(lambda: EvaluationRun.objects.get(pk=run.pk).is_finished, seconds=240, what="the resent run")
    run.refresh_from_db()
    assert (run.status, run.attempts, run.examples.count()) == ("succeeded", 1, 300)


def test_a_run_the_broker_refused_stays_queued_for_the_sweeper_and_the_upload_succeeds(
    alice, open_round, valid_csv, tmp_path, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from config.celery import app

    fake_series(tmp_path / "model")
    app.conf.task_always_eager = False  # as in production (the autouse _celery_eager sets it for each test)

    def broker_down(name, args, queue):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    monkeypatch.setattr("submissions.services.send_submission_receipt_task.delay", lambda version_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        run = _submit(alice, open_round, valid_csv).runs.get()
    assert EvaluationRun.objects.get(pk=run.pk).status == "queued"
    (record,) = [
        r for r in caplog.records if r.getMessage() == "could not send an evaluation run to the broker"
    ]
    assert (record.run, record.queue) == (run.pk, "gpu") and "Connection refused" in caplog.text
