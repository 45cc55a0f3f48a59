"""What a worker does around a run beyond scoring it: the evidence drawn ahead of the first view, and a stored
file that no longer validates failing with a reason a contestant can read."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from evaluation import evidence
from evaluation.tasks import run_evaluation
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import FakeScorer, fake_series

pytestmark = pytest.mark.django_db(transaction=True)  # the worker's heartbeat thread needs committed data


@pytest.fixture
def version(alice, open_round, valid_csv, tmp_path, settings, monkeypatch):
    settings.EVAL_CACHE_DIR = str(tmp_path / "cache")
    fake_series(tmp_path / "model")
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)
    monkeypatch.setattr("evaluation.tasks.scorer_for", lambda model: FakeScorer())
    return submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )


def test_a_succeeded_run_has_its_evidence_drawn_before_anyone_opens_the_page(
    client, alice, version, monkeypatch
):
    from django.core.cache import cache

    cache.clear()
    run = version.runs.get()
    run_evaluation(run.pk)  # in the tests' eager mode, the evidence task it sends runs here too
    run.refresh_from_db()
    assert run.status == "succeeded"

    def not_again(*args, **kwargs):
        raise AssertionError("the page computed the evidence the worker should have drawn")

    monkeypatch.setattr(evidence, "version_examples", not_again)
    client.force_login(alice)
    page = client.get(reverse("version_detail", args=[version.submission.pk, version.number]))
    assert page.status_code == 200
    assert 'class="plot"' in page.content.decode()


def test_a_stored_file_the_validator_now_refuses_fails_its_run_with_the_validators_words(
    client, alice, version
):
    # The bytes under the version's name change (as if the rules had changed since): row 2 lost its classes.
    name = version.task_file.name
    default_storage.delete(name)
    default_storage.save(name, ContentFile(b"prompt,classes,answer_index\nQ?,,0\n"))
    run = version.runs.get()
    run_evaluation(run.pk)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.failure_reason.startswith(
        "The task file no longer passes validation, so it cannot be evaluated:"
    )
    assert "row 2, column classes" in run.failure_reason
