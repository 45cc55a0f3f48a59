"""One evaluation pipeline (subsample, cache, evaluate) for the workers and ``manage.py evaluate_task``, with
the subsample cap in the cache key."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from evaluation.engine import cache_key
from evaluation.management.commands import evaluate_task
from evaluation.tasks import run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, RoundFactory, make_task_csv
from tests.runs_support import FakeScorer, fake_series

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's heartbeat thread needs committed data

TASK = make_task_csv(n=400)


def test_the_cap_that_cut_a_file_is_part_of_the_cache_key():
    key = dict(file_sha256="a" * 64, metric="classification", model_identity="hf:x")
    assert (
        len({cache_key(**key), cache_key(**key, subsample_cap=300), cache_key(**key, subsample_cap=350)}) == 3
    )


@pytest.fixture
def scorer(tmp_path, settings, monkeypatch):
    """Runs are evaluated here with a counting scorer; the cache is the test's own."""
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    monkeypatch.setenv("EVAL_CACHE_DIR", settings.EVAL_CACHE_DIR)  # evaluate_task's, if one is set outside
    fake_series(tmp_path / "model")
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)
    scorer = FakeScorer()
    monkeypatch.setattr("evaluation.tasks.scorer_for", lambda model: scorer)
    return scorer


def _evaluated(user, round):
    version = submit_task(user=user, round=round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=TASK))
    run = version.runs.get()
    run_evaluation(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.failure_message
    return run


def test_a_round_with_a_smaller_cap_caches_its_subsample_and_never_shares_it_with_another_cap(scorer):
    small = RoundFactory(name="Small", subsample_cap=350)
    large = RoundFactory(name="Large")
    first = _evaluated(ContestantFactory(), small)
    again = _evaluated(ContestantFactory(), small)  # the same file in the same round: from the cache
    assert scorer.calls == 1
    assert first.n_examples == again.n_examples == 350
    assert first.subsample_seed == again.subsample_seed is not None
    whole = _evaluated(ContestantFactory(), large)  # every example: not the 350 of the small round
    assert scorer.calls == 2
    assert (whole.n_examples, whole.subsample_seed, whole.examples.count()) == (400, None, 400)


def test_a_worker_reads_the_result_evaluate_task_computed_for_the_same_file_and_model(
    scorer, open_round, alice, tmp_path, monkeypatch
):
    path = tmp_path / "task.csv"
    path.write_bytes(TASK)
    monkeypatch.setattr(evaluate_task, "load_scorer", lambda *args, **kwargs: scorer)
    out = StringIO()
    call_command(
        "evaluate_task", str(path), metric="classification", model=str(tmp_path / "model"), stdout=out
    )
    assert scorer.calls == 1
    run = _evaluated(alice, open_round)
    assert scorer.calls == 1  # the worker loaded no model: one pipeline, one cache key
    computed = json.loads(out.getvalue())
    assert list(run.examples.values_list("value", flat=True)) == computed["values"]
    assert run.n_examples == computed["n_examples"] == 400
