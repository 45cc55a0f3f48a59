"""Private series stay hidden from contestants until released for the round, on every page and endpoint."""

import csv
import io
import json

import pytest
from django.urls import reverse

from evaluation.models import EvaluationRun, ExampleResult, LanguageModel, ModelSeries
from evaluation.plots import find_browser
from evaluation.services import claim_run, release_series, requeue_stale_runs
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(db):
    return public_and_private_series((1_000_000, 10_000_000))


def _finish(run: EvaluationRun, values: list[float], rows: list[int]):
    finish_run(run, rows=rows, values=values, correct_below=0.7)


@pytest.fixture
def evaluated(alice, open_round, valid_csv, series, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    rows = list(range(2, 302))
    for run in version.runs.select_related("model"):
        base = 0.5 + run.model.parameter_count / 1e8
        _finish(run, [base + (row % 7) / 100 for row in rows], rows)
    return version


def test_a_new_version_gets_one_queued_run_per_model_of_every_active_series(
    alice, open_round, valid_csv, series, django_capture_on_commit_callbacks
):
    ModelSeries.objects.create(name="Retired", is_active=False)
    LanguageModel.objects.create(
        series=ModelSeries.objects.get(name="Retired"), name="old", parameter_count=1, location="x"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    runs = list(version.runs.order_by("model__name"))
    assert [r.model.name for r in runs] == ["open-0", "open-1", "secret-0", "secret-1"]
    assert {r.status for r in runs} == {"queued"}
    assert len(callbacks) == 1 + 4  # the receipt e-mail and one task per run, sent after commit


def test_a_run_is_claimed_once(evaluated, series):
    run = EvaluationRun.objects.filter(version=evaluated).first()
    run.status = "queued"
    run.save()
    first = claim_run(run_id=run.pk, worker="w1")
    assert first is not None
    assert claim_run(run_id=run.pk, worker="w2") is None


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_contestants_see_public_series_but_not_private_ones(client, evaluated, who, request):
    client.force_login(request.getfixturevalue(who))
    sub = evaluated.submission
    page = client.get(reverse("submission_detail", args=[sub.pk])).content.decode()
    assert "Open Models" in page and "open-1" in page
    assert "Secret Lab" not in page and "secret-0" not in page
    status = client.get(reverse("evaluation_status", args=[sub.pk, 1])).json()
    assert {r["series"] for r in status["runs"]} == {"Open Models"}
    table = client.get(reverse("results_csv", args=[sub.pk, 1])).content.decode()
    assert "Secret Lab" not in table and "Open Models" in table
    records = json.loads(client.get(reverse("results_json", args=[sub.pk, 1])).content)
    assert {r["series"] for r in records} == {"Open Models"}


def test_organizers_see_private_series_marked_hidden(client, olga, evaluated):
    client.force_login(olga)
    page = client.get(reverse("submission_detail", args=[evaluated.submission.pk])).content.decode()
    assert "Secret Lab" in page and "hidden from contestants until released" in page


def test_a_released_private_series_becomes_visible_to_the_rounds_contestants(
    client, alice, olga, evaluated, series
):
    release_series(series=series[1], round=evaluated.submission.round, user=olga)
    client.force_login(alice)
    sub = evaluated.submission
    page = client.get(reverse("submission_detail", args=[sub.pk])).content.decode()
    assert "Secret Lab" in page
    status = client.get(reverse("evaluation_status", args=[sub.pk, 1])).json()
    assert {r["series"] for r in status["runs"]} == {"Open Models", "Secret Lab"}


def test_other_teams_and_reviewers_get_nothing(client, charlie, rita, evaluated):
    sub = evaluated.submission
    for user in (charlie, rita):
        client.force_login(user)
        for name in ("evaluation_status", "results_csv", "results_json"):
            assert client.get(reverse(name, args=[sub.pk, 1])).status_code == 404


def test_the_version_page_shows_plots_trend_and_drill_down(client, alice, evaluated):
    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[evaluated.submission.pk])).content.decode()
    assert 'id="figures-' in page and "plotly.min.js" in page
    assert "per 10× parameters" in page  # the trend, in words
    assert "Examples with the largest value on the largest model" in page


def test_the_csv_download_escapes_formulas(client, alice, evaluated, series):
    LanguageModel.objects.filter(name="open-0").update(name="=HYPERLINK(evil)")
    client.force_login(alice)
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("results_csv", args=[evaluated.submission.pk, 1])).content.decode()
            )
        )
    )
    assert rows[0][:4] == ["series", "model", "parameters", "row"]
    assert {r[1] for r in rows[1:]} == {"'=HYPERLINK(evil)", "open-1"}


def test_the_sweeper_requeues_a_silent_run_then_fails_it_after_the_last_attempt(
    evaluated, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import datetime as dt

    from django.utils import timezone

    settings.EVALUATION_MAX_ATTEMPTS = 2
    run = EvaluationRun.objects.filter(version=evaluated).first()
    EvaluationRun.objects.filter(pk=run.pk).update(status="queued", attempts=0)
    ExampleResult.objects.filter(run=run).delete()
    later = timezone.now() + dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT + 1)

    sent = []
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: sent.append((run_id, queue)))
    claim_run(run_id=run.pk, worker="dead-1")
    with django_capture_on_commit_callbacks(execute=True):  # the run is sent once the requeue commits
        assert requeue_stale_runs(now=later) == (1, 0)
    assert sent == [(run.pk, "gpu")]
    claim_run(run_id=run.pk, worker="dead-2")
    assert requeue_stale_runs(now=later) == (0, 1)
    run.refresh_from_db()
    assert run.status == "failed" and "stopped responding 2 times" in run.failure_reason


def test_only_organizers_retry_a_failed_run(
    client, alice, olga, evaluated, django_capture_on_commit_callbacks
):
    run = EvaluationRun.objects.filter(version=evaluated).first()
    EvaluationRun.objects.filter(pk=run.pk).update(
        status="failed", failure_reason="The model's context is too short"
    )
    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[evaluated.submission.pk])).content.decode()
    assert "context is too short" in page and "Retry" not in page
    client.post(reverse("run_retry", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "failed"
    client.force_login(olga)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("run_retry", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == "queued" and len(callbacks) == 1
    assert not run.examples.exists()


def test_a_chart_downloads_as_png_for_those_who_may_see_it(client, alice, evaluated, series):
    public, private = series
    client.force_login(alice)
    hidden = client.get(reverse("figure_png", args=[evaluated.submission.pk, 1, private.pk, "scaling"]))
    assert hidden.status_code == 404
    if find_browser() is None:
        pytest.skip("PNG export needs Debian's chromium (bin/test installs it)")
    response = client.get(reverse("figure_png", args=[evaluated.submission.pk, 1, public.pk, "scaling"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_the_dashboard_shows_evaluation_progress_of_public_series(client, alice, olga, evaluated):
    client.force_login(alice)
    assert "Evaluated" in client.get(reverse("dashboard")).content.decode()
    run = EvaluationRun.objects.filter(version=evaluated, model__series__visibility="private").first()
    EvaluationRun.objects.filter(pk=run.pk).update(status="failed")
    assert (
        "failed" not in client.get(reverse("dashboard")).content.decode()
    )  # a private run is not theirs to see
    client.force_login(olga)
    assert "1 evaluation failed" in client.get(reverse("dashboard")).content.decode()


def test_a_waiting_run_shows_its_place_in_the_queue(client, alice, alice_queued_version):
    client.force_login(alice)
    page = client.get(
        reverse("submission_detail", args=[alice_queued_version.submission.pk])
    ).content.decode()
    assert "Queued · position 1" in page and "Queued · position 2" in page


@pytest.fixture
def alice_queued_version(alice, open_round, valid_csv, series, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def test_a_series_added_later_evaluates_the_current_versions_once(
    client, olga, evaluated, django_capture_on_commit_callbacks
):
    late = ModelSeries.objects.create(name="Late Lab")
    LanguageModel.objects.create(series=late, name="late-0", parameter_count=5, location="/nowhere")
    client.force_login(olga)
    action = {"action": "evaluate_current_versions", "_selected_action": [late.pk]}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("admin:evaluation_modelseries_changelist"), action)
        client.post(reverse("admin:evaluation_modelseries_changelist"), action)
    assert EvaluationRun.objects.filter(version=evaluated, model__series=late).count() == 1
    assert len(callbacks) == 1


def test_the_version_page_makes_a_constant_number_of_queries(
    client, alice, evaluated, series, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(alice)
    url = reverse("submission_detail", args=[evaluated.submission.pk])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    def add_models(start, n):  # half of them still queued, half finished
        for i in range(start, start + n):
            model = LanguageModel.objects.create(
                series=series[0], name=f"open-big-{i}", parameter_count=10**8 * (i + 1), location="/x"
            )
            run = EvaluationRun.objects.create(version=evaluated, model=model)
            if i % 2:
                _finish(run, [0.9] * 300, list(range(2, 302)))

    count()  # what is cached until its own tables change (the rounds) is cached
    add_models(0, 2)
    few = count()
    add_models(2, 6)
    assert count() == few


def test_every_scheduled_task_is_a_registered_task(evaluated, settings, django_capture_on_commit_callbacks):
    """Beat sends tasks by name: a schedule naming a task no worker knows would silently stop the sweeper."""
    from config.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]
    app.tasks["evaluation.tasks.sweep_stale_runs"].delay()  # runs in-process here; nothing is stale
    assert not EvaluationRun.objects.filter(version=evaluated, status="queued").exists()


def test_the_evaluation_section_alone_has_the_version_pages_permissions(
    client, alice, charlie, rita, evaluated
):
    url = reverse("evidence_fragment", args=[evaluated.submission.pk, 1])
    client.force_login(alice)
    html = client.get(url).content.decode()
    assert "Open Models" in html and "per 10× parameters" in html
    assert "Secret Lab" not in html and "secret-0" not in html
    for user in (charlie, rita):
        client.force_login(user)
        assert client.get(url).status_code == 404


def test_evidence_cached_for_an_organizer_never_shows_a_contestant_a_private_series(
    client, alice, olga, evaluated, series
):
    from django.core.cache import cache

    cache.clear()
    sub = evaluated.submission
    client.force_login(olga)  # computes and caches every series, the private one included
    assert "Secret Lab" in client.get(reverse("submission_detail", args=[sub.pk])).content.decode()
    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[sub.pk])).content.decode()
    fragment = client.get(reverse("evidence_fragment", args=[sub.pk, 1])).content.decode()
    for html in (page, fragment):
        assert "Open Models" in html and "open-1" in html
        assert "Secret Lab" not in html and "secret-1" not in html
    assert client.get(reverse("figure_png", args=[sub.pk, 1, series[1].pk, "scaling"])).status_code == 404
