"""A failed run keeps what went wrong (exception type, message, traceback) for organizers, on the version page,
in the progress JSON and in the admin; contestants see only the readable reason."""

import pytest
from django.urls import reverse

from evaluation.tasks import INTERNAL_ERROR, run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import FakeScorer, fake_series

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's heartbeat thread needs committed data


class LayerError(RuntimeError):
    pass


@pytest.fixture
def failed_run(alice, open_round, valid_csv, tmp_path, settings, monkeypatch):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    fake_series(tmp_path / "model")
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)
    monkeypatch.setattr(
        "evaluation.tasks.scorer_for", lambda model: FakeScorer(error=LayerError("shape mismatch in layer 3"))
    )
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    run = version.runs.get()
    run_evaluation(run.pk)
    run.refresh_from_db()
    return run


def test_a_failed_run_stores_the_exception_its_message_and_traceback(failed_run):
    assert failed_run.status == "failed"
    assert failed_run.failure_reason == INTERNAL_ERROR
    assert failed_run.failure_exception == "tests.test_runs_failures.LayerError"
    assert failed_run.failure_message == "shape mismatch in layer 3"
    assert failed_run.failure_traceback.startswith("Traceback (most recent call last):")
    assert "in score" in failed_run.failure_traceback
    assert failed_run.failure_traceback.rstrip().endswith("LayerError: shape mismatch in layer 3")


def _pages(client, run):
    version = run.version
    args = [version.submission_id, version.number]
    page = client.get(reverse("version_detail", args=args)).content.decode()
    status = client.get(reverse("evaluation_status", args=args)).json()
    return page, status["runs"][0]


def test_organizers_see_the_details_on_the_version_page_and_in_the_progress_json(client, olga, failed_run):
    client.force_login(olga)
    page, state = _pages(client, failed_run)
    assert "Details for organizers: tests.test_runs_failures.LayerError" in page
    assert "shape mismatch in layer 3" in page and "Traceback (most recent call last)" in page
    assert state["failure_details"] == {
        "exception": "tests.test_runs_failures.LayerError",
        "message": "shape mismatch in layer 3",
        "traceback": failed_run.failure_traceback,
    }


def test_contestants_see_the_reason_and_never_the_details(client, alice, failed_run):
    client.force_login(alice)
    page, state = _pages(client, failed_run)
    assert INTERNAL_ERROR.split(";")[0] in page
    assert "shape mismatch" not in page and "Traceback" not in page and "LayerError" not in page
    assert state["failure_reason"] == INTERNAL_ERROR
    assert "failure_details" not in state and "shape mismatch" not in str(state)


def test_the_admin_shows_the_traceback_of_a_failed_run(client, olga, failed_run):
    client.force_login(olga)
    page = client.get(reverse("admin:evaluation_evaluationrun_change", args=[failed_run.pk])).content.decode()
    assert "tests.test_runs_failures.LayerError" in page
    assert (
        "<pre" in page and "shape mismatch in layer 3" in page and "Traceback (most recent call last)" in page
    )


def test_a_retry_clears_the_details_of_the_last_failure(
    client, olga, failed_run, django_capture_on_commit_callbacks
):
    client.force_login(olga)
    client.post(reverse("run_retry", args=[failed_run.pk]))
    failed_run.refresh_from_db()
    assert failed_run.status == "queued"
    assert (failed_run.failure_exception, failed_run.failure_message, failed_run.failure_traceback) == (
        "",
        "",
        "",
    )
