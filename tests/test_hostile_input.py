"""Hostile input through the web: stored data that no page may fail on, fields that refuse what breaks
e-mails and pages, and size limits that keep pages small."""

import io

import pandas as pd
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.services import claim_run, complete_run
from reviews.services import assign_reviewer
from submissions.models import SubmissionVersion
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(db):
    series = ModelSeries.objects.create(name="Open Models", visibility="public")
    for i, params in enumerate((1_000_000, 10_000_000)):
        LanguageModel.objects.create(
            series=series, name=f"open-{i}", parameter_count=params, location=f"/nowhere/open-{i}"
        )
    return series


def _finish_runs(version: SubmissionVersion, *, worst_row: int) -> None:
    """Every run succeeds, with `worst_row` the worst example on every model (so the drill-down shows it)."""
    rows = list(range(2, version.example_count + 2))
    for run in version.runs.all():
        values = [2.0 if row == worst_row else 0.5 + (row % 7) / 100 for row in rows]
        complete_run(
            run_id=run.pk,
            token=claim_run(run_id=run.pk, worker="test"),
            result={
                "rows": rows,
                "values": values,
                "correct": [v < 0.7 for v in values],
                "logprobs": [[[-v, -1.0]] for v in values],
                "n_examples": len(values),
                "mean": sum(values) / len(values),
                "stderr": 0.01,
                "accuracy": 0.5,
                "subsample_seed": None,
                "engine_version": "test",
            },
        )


def _submit(user, round, data: bytes, django_capture_on_commit_callbacks, **answers) -> SubmissionVersion:
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        return submit_task(
            user=user, round=round, answers={**ANSWERS, **answers}, upload=TaskUpload(name="t.csv", data=data)
        )


# --- No page fails on stored data --------------------------------------------------------------


@pytest.mark.parametrize("bad_classes", [r"[' Yes', ' \ud800']", r"['\udfff', ' No']"])
def test_a_stored_file_with_invalid_unicode_still_shows_every_page(
    client, alice, rita, olga, open_round, series, bad_classes, django_capture_on_commit_callbacks
):
    """A file stored before the validator refused such cells (or put in storage some other way)."""
    version = _submit(alice, open_round, make_task_csv(300), django_capture_on_commit_callbacks)
    # Row 10, after the stored preview of the first examples, gets a class that escapes to a lone surrogate.
    table = pd.read_csv(io.BytesIO(make_task_csv(300)), dtype=str)
    table.loc[8, "classes"] = bad_classes
    name = default_storage.save("tasks/hostile.csv", ContentFile(table.to_csv(index=False).encode()))
    SubmissionVersion.objects.filter(pk=version.pk).update(task_file=name)
    _finish_runs(version, worst_row=10)
    assert EvaluationRun.objects.filter(version=version, status="succeeded").count() == 2
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)

    page = reverse("submission_detail", args=[version.submission.pk])
    for user in (alice, rita, olga):
        client.force_login(user)
        response = client.get(page)
        assert response.status_code == 200, user
        assert "Open Models" in response.content.decode()
    admin_page = reverse("admin:submissions_submissionversion_change", args=[version.pk])
    assert client.get(admin_page).status_code == 200
