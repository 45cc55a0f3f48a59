"""Every record made while a worker holds an evaluation run, by any logger, says which run, version, model and
attempt it belongs to."""

import logging

import pytest

from config.logging import ContextFilter
from evaluation.tasks import run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import FakeScorer, fake_series

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's heartbeat thread needs committed data

CONTEXT = ("run", "submission", "version", "model", "attempt")


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())  # as LOGGING's console handler

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def records():
    handler = Records()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


class ChattyScorer(FakeScorer):
    """Logs as the engine's backends do, from the worker's thread."""

    def score(self, groups, *, progress=None):
        logging.getLogger("evaluation.engine.hf").warning("batch size halved after running out of memory")
        return super().score(groups, progress=progress)


@pytest.mark.parametrize("error", [None, RuntimeError("boom")], ids=["succeeded", "failed"])
def test_every_record_of_a_run_carries_its_run_version_model_and_attempt(
    error, alice, open_round, valid_csv, tmp_path, settings, monkeypatch, records
):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    fake_series(tmp_path / "model")
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)
    monkeypatch.setattr("evaluation.tasks.scorer_for", lambda model: ChattyScorer(error=error))
    # The results e-mail is a task of its own (run inline here, as tasks are eager): not the run's records.
    monkeypatch.setattr("evaluation.services.announce_results_if_finished", lambda **kwargs: False)
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    run = version.runs.get()
    records.clear()
    run_evaluation(run.pk)

    expected = {
        "run": run.pk,
        "submission": version.submission_id,
        "version": version.number,
        "model": "fake-1",
        "attempt": 1,
    }
    messages = [r.getMessage() for r in records]
    assert "batch size halved after running out of memory" in messages
    assert ("evaluation run failed" in messages) == (error is not None)
    assert ("evaluation run succeeded" in messages) == (error is None)
    for record in records:
        assert {key: getattr(record, key, None) for key in CONTEXT} == expected, record.getMessage()
