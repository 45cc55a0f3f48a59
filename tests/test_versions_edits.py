"""Editing a submission: an edit that changes nothing is refused, one that changes only answers keeps the file's
results, and the version history says what each version changed."""

import functools

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import EvaluationRun, ExampleResult, LanguageModel, ModelSeries
from evaluation.services import _send, claim_run, fail_run
from submissions.models import Submission, SubmissionVersion
from submissions.services import NothingChanged, TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))


@pytest.fixture
def series(db):
    """A public series of two models and a private one of two: four runs per version."""
    return public_and_private_series((1_000_000, 10_000_000))


@pytest.fixture
def first(alice, open_round, valid_csv, series, django_capture_on_commit_callbacks) -> SubmissionVersion:
    """Version 1, with every run finished (the test plays the worker)."""
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    for run in version.runs.select_related("model"):
        base = 0.5 + run.model.parameter_count / 1e8
        finish_run(run, rows=ROWS, values=[base + (row % 7) / 100 for row in ROWS], correct_below=0.7)
    return version


def _edit(client, submission, data: bytes | None = None, **answers):
    payload = {**ANSWERS, **answers}
    if data is not None:
        payload["task_file"] = SimpleUploadedFile("task.csv", data, content_type="text/csv")
    return client.post(reverse("submission_edit", args=[submission.pk]), payload)


def _sent_runs(callbacks) -> list[int]:
    """The ids of the runs sent to a worker by these on-commit callbacks."""
    return [c.args[0] for c in callbacks if isinstance(c, functools.partial) and c.func is _send]


def test_an_edit_that_changes_nothing_is_refused_and_keeps_what_was_typed(
    client, alice, first, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    submission = first.submission
    runs_before = EvaluationRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # The same answers as the form sends them (CR LF line breaks, surrounding spaces), and no new file.
        response = _edit(client, submission, description=f"  {ANSWERS['description']}\r\n")
    assert response.status_code == 200
    message = "Nothing changed since version 1: change an answer or upload a new file to save a new version."
    assert response.context["form"].non_field_errors() == [message]
    html = response.content.decode()
    assert message in html
    assert ANSWERS["importance"] in html  # what was typed is still in the form
    assert submission.versions.count() == 1
    assert EvaluationRun.objects.count() == runs_before
    assert callbacks == []  # no run sent, no receipt


def test_uploading_the_same_file_again_with_the_same_answers_is_refused_too(
    alice, open_round, first, valid_csv
):
    with pytest.raises(NothingChanged, match="Nothing changed since version 1"):
        submit_task(
            user=alice,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="renamed copy.csv", data=valid_csv),
            submission=first.submission,
        )
    assert first.submission.versions.count() == 1


def test_the_same_edit_saved_by_a_teammate_meanwhile_is_refused_the_second_time(
    alice, bob, open_round, first, monkeypatch
):
    from submissions import services

    validate = services.validate_task_upload
    edited = {**ANSWERS, "task_name": "Renamed"}

    def validate_while_bob_saves(**kwargs):
        monkeypatch.setattr(services, "validate_task_upload", validate)
        submission = Submission.objects.get(pk=first.submission_id)
        teammate = type(bob).objects.get(pk=bob.pk)  # as a request would load him, in alice's team
        submit_task(user=teammate, round=open_round, answers=edited, upload=None, submission=submission)
        return validate(**kwargs)

    monkeypatch.setattr(services, "validate_task_upload", validate_while_bob_saves)
    submission = Submission.objects.get(pk=first.submission_id)
    with pytest.raises(NothingChanged, match="Nothing changed since version 2"):
        submit_task(user=alice, round=open_round, answers=edited, upload=None, submission=submission)
    assert submission.versions.count() == 2


def test_an_edit_of_answers_only_keeps_the_files_results_without_new_runs(
    client, alice, first, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    submission = first.submission
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _edit(client, submission, description="A clearer description.", importance="It matters.")
    assert response.status_code == 302
    second = Submission.objects.get().current_version
    assert second.number == 2
    assert _sent_runs(callbacks) == []  # nothing queued for a worker
    old = {r.model_id: r for r in first.runs.all()}
    new = list(second.runs.all())
    assert len(new) == len(old) == 4
    for run in new:
        original = old[run.model_id]
        assert run.pk != original.pk
        assert run.status == "succeeded"
        assert (run.mean, run.stderr, run.accuracy, run.n_examples, run.finished_at) == (
            original.mean,
            original.stderr,
            original.accuracy,
            original.n_examples,
            original.finished_at,
        )
        copied = list(run.examples.order_by("row").values_list("row", "value", "correct", "class_logprobs"))
        assert copied == list(
            original.examples.order_by("row").values_list("row", "value", "correct", "class_logprobs")
        )
    assert ExampleResult.objects.filter(run__version=first).count() == 4 * len(ROWS)  # the originals stay
    response = client.get(reverse("submission_detail", args=[submission.pk]))
    assert response.context["evidence"]["finished"]
    page = response.content.decode()
    assert 'id="figures-' in page  # the charts, at once
    assert "per 10× parameters" in page


def test_runs_not_finished_on_the_previous_version_are_queued_as_usual(
    alice, open_round, valid_csv, series, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        first = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    done, failed, running, queued = first.runs.order_by("model__series__order", "model__parameter_count")
    finish_run(done, rows=ROWS, values=[0.5] * len(ROWS))
    fail_run(run_id=failed.pk, token=claim_run(run_id=failed.pk, worker="test"), reason="Out of memory.")
    claim_run(run_id=running.pk, worker="test")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "task_name": "Even or odd, renamed"},
            upload=None,
            submission=first.submission,
        )
    by_model = {r.model_id: r for r in second.runs.all()}
    assert by_model[done.model_id].status == "succeeded"
    assert by_model[done.model_id].examples.count() == len(ROWS)
    assert (by_model[failed.model_id].status, by_model[failed.model_id].failure_reason) == (
        "failed",
        "Out of memory.",
    )
    assert by_model[running.model_id].status == by_model[queued.model_id].status == "queued"
    assert sorted(_sent_runs(callbacks)) == sorted(
        [by_model[running.model_id].pk, by_model[queued.model_id].pk]
    )


def test_a_new_file_queues_every_run(client, alice, first, django_capture_on_commit_callbacks):
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _edit(client, first.submission, make_task_csv(301))
    assert response.status_code == 302
    second = Submission.objects.get().current_version
    runs = list(second.runs.all())
    assert len(runs) == 4 and {r.status for r in runs} == {"queued"}
    assert not ExampleResult.objects.filter(run__version=second).exists()
    assert sorted(_sent_runs(callbacks)) == sorted(r.pk for r in runs)


def test_the_same_file_under_another_metric_queues_every_run(
    alice, open_round, series, django_capture_on_commit_callbacks
):
    data = make_task_csv(300, metric="logodds")  # valid for classification too (other_prompt is ignored)
    with django_capture_on_commit_callbacks(execute=False):
        first = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=data)
        )
    for run in first.runs.all():
        finish_run(run, rows=ROWS, values=[0.5] * len(ROWS))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        second = submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "metric": "logodds"},
            upload=None,
            submission=first.submission,
        )
    assert {r.status for r in second.runs.all()} == {"queued"}
    assert len(_sent_runs(callbacks)) == 4
    assert second.changes == {"metric": ["classification", "logodds"]}


def test_the_version_history_says_what_each_version_changed(
    client, alice, open_round, series, django_capture_on_commit_callbacks
):
    data = make_task_csv(300, metric="logodds")
    edits = [
        ({}, TaskUpload(name="t.csv", data=data)),
        ({"description": "Better.", "importance": "More."}, None),
        ({}, TaskUpload(name="t2.csv", data=make_task_csv(301, metric="logodds"))),
        ({"metric": "logodds", "license": "CC0-1.0"}, None),
    ]
    submission = None
    answers = dict(ANSWERS)
    with django_capture_on_commit_callbacks(execute=False):
        for changed, upload in edits:
            answers.update(changed)
            version = submit_task(
                user=alice, round=open_round, answers=answers, upload=upload, submission=submission
            )
            submission = version.submission
    expected = {
        1: "first version",
        2: "answers: description, importance",
        3: "new file (301 examples)",
        4: "metric classification → logodds; answers: licence",
    }
    assert {v.number: "; ".join(v.changes_described()) for v in submission.versions.all()} == expected
    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[submission.pk])).content.decode()
    history = page.split('id="history"')[1]
    for line in expected.values():
        assert f'<div class="small version-changes">{line}</div>' in history


def test_the_results_of_every_reused_run_are_copied_in_one_statement_however_many_models(
    alice, open_round, valid_csv, series, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    submission = version.submission

    def edit_counting_reuse(n: int) -> int:
        for run in EvaluationRun.objects.filter(version=submission.current_version, status="queued"):
            finish_run(run, rows=ROWS, values=[0.5] * len(ROWS))
        with CaptureQueriesContext(connection) as ctx, django_capture_on_commit_callbacks(execute=False):
            submit_task(
                user=alice,
                round=open_round,
                answers={**ANSWERS, "task_name": f"Name {n}"},
                upload=None,
                submission=submission,
            )
        return sum("evaluation_exampleresult" in q["sql"] for q in ctx.captured_queries)

    few = edit_counting_reuse(1)
    for i in range(4):
        LanguageModel.objects.create(
            series=ModelSeries.objects.get(name="Open Models"), name=f"more-{i}", parameter_count=10**9 + i
        )
    edit_counting_reuse(2)  # the new models' runs are queued on this version, then finished
    assert edit_counting_reuse(3) == few == 1  # one INSERT … SELECT copies every run's results
