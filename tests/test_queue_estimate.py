"""A queued run shows its place in its queue and an estimated start, from recent run durations, in a constant
number of queries."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.selectors import QueuePlace, queue_places
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(db):
    gpu = ModelSeries.objects.create(name="Open", visibility="public")
    api = ModelSeries.objects.create(name="Hosted", visibility="public", backend="openai")
    for s in (gpu, api):
        LanguageModel.objects.create(series=s, name=f"{s.name}-m", parameter_count=1000, location="/nowhere")
    return gpu, api


def _submit(user, round, n, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return submit_task(
            user=user,
            round=round,
            answers={**ANSWERS, "task_name": f"Task {n}"},
            upload=TaskUpload(name="t.csv", data=make_task_csv(n=300 + n)),
        )


def _history(series: ModelSeries, minutes: list[float], user, round, capture) -> None:
    """Succeeded runs of the series that took these many minutes each."""
    now = timezone.now()
    for i, m in enumerate(minutes):
        version = _submit(user, round, 100 + i + 10 * series.pk, capture)
        version.runs.filter(model__series=series).update(
            status="succeeded", started_at=now - dt.timedelta(minutes=m), finished_at=now
        )
        version.runs.exclude(model__series=series).update(status="failed", finished_at=now)


def test_place_counts_the_runs_ahead_on_the_same_queue_and_is_unknown_without_history(
    alice, open_round, series, django_capture_on_commit_callbacks
):
    first = _submit(alice, open_round, 1, django_capture_on_commit_callbacks)
    second = _submit(alice, open_round, 2, django_capture_on_commit_callbacks)
    places = queue_places(list(second.runs.select_related("model__series")))
    # Each queue has its own line: one run (first's) ahead on each.
    assert {p.position for p in places.values()} == {2}
    assert {p.ahead for p in places.values()} == {1}
    assert {p.estimate for p in places.values()} == {"start time unknown"}
    assert first.runs.count() == 2


def test_the_estimate_is_the_median_duration_times_the_runs_to_finish_first_per_worker(
    alice, open_round, series, django_capture_on_commit_callbacks
):
    gpu, api = series
    _history(gpu, [4, 6, 100], alice, open_round, django_capture_on_commit_callbacks)  # median 6 minutes
    first = _submit(alice, open_round, 1, django_capture_on_commit_callbacks)
    second = _submit(alice, open_round, 2, django_capture_on_commit_callbacks)
    first.runs.filter(model__series=gpu).update(status="running", started_at=timezone.now())
    runs = list(second.runs.select_related("model__series"))
    places = queue_places(runs)
    on_gpu = next(r for r in runs if r.model.series == gpu)
    on_api = next(r for r in runs if r.model.series == api)
    # One run running on gpu (one worker busy), none queued ahead: it waits for that one, about 6 minutes.
    assert places[on_gpu.pk] == QueuePlace(position=1, ahead=0, wait_seconds=360.0)
    assert places[on_gpu.pk].estimate == "starts in about 6 minutes"
    assert places[on_api.pk].position == 2 and places[on_api.pk].estimate == "start time unknown"


def test_the_status_json_and_page_show_place_and_estimate_in_constant_queries(
    client, alice, open_round, series, django_capture_on_commit_callbacks
):
    gpu, _ = series
    _history(gpu, [3], alice, open_round, django_capture_on_commit_callbacks)
    client.force_login(alice)

    def cost(version) -> tuple[int, dict]:
        url = reverse("evaluation_status", args=[version.submission_id, version.number])
        with CaptureQueriesContext(connection) as queries:
            data = client.get(url).json()
        return len(queries), data

    version = _submit(alice, open_round, 1, django_capture_on_commit_callbacks)
    few, data = cost(version)
    for n in range(2, 8):
        _submit(alice, open_round, n, django_capture_on_commit_callbacks)
    _history(gpu, [3, 3, 3], alice, open_round, django_capture_on_commit_callbacks)
    later = _submit(alice, open_round, 9, django_capture_on_commit_callbacks)
    many, later_data = cost(later)
    assert many == few
    run = next(r for r in later_data["runs"] if r["series"] == "Open")
    assert (run["queue_position"], run["queue_ahead"]) == (8, 7)
    assert run["estimated_start_text"] == "starts in about 21 minutes" and run["estimated_start"]
    page = client.get(reverse("version_detail", args=[later.submission_id, later.number])).content.decode()
    assert "position 8 · starts in about 21 minutes" in page
    assert data["runs"][0]["queue_position"] == 1


def test_runs_of_a_withdrawn_submission_are_not_counted_ahead(
    alice, open_round, series, django_capture_on_commit_callbacks
):
    from submissions.services import withdraw_submission

    first = _submit(alice, open_round, 1, django_capture_on_commit_callbacks)
    second = _submit(alice, open_round, 2, django_capture_on_commit_callbacks)
    withdraw_submission(user=alice, submission=first.submission)
    places = queue_places(list(second.runs.select_related("model__series")))
    assert {p.position for p in places.values()} == {1}
    assert EvaluationRun.objects.filter(version=first, status="queued").count() == 2
