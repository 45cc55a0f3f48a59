"""The version page's cost: a constant number of queries, and each series' evidence computed once per results."""

import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluation import evidence
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.services import release_series
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import finish_run

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def finish(run: EvaluationRun, *, shift: float = 0.0):
    base = 0.5 + run.model.parameter_count / 1e9 + shift
    values = [base + (row % 7) / 100 for row in ROWS]
    finish_run(run, rows=ROWS, values=values)


@pytest.fixture
def version(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    """A version submitted before any series exists: the tests add series, models and runs as they need."""
    with django_capture_on_commit_callbacks(execute=False):
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def add_series(version, name: str, *, models: int, private: bool = False) -> ModelSeries:
    series = ModelSeries.objects.create(name=name, visibility="private" if private else "public")
    for _ in range(models):
        add_model(version, series)
    return series


def add_model(version, series: ModelSeries, *, finished: bool = True) -> EvaluationRun:
    i = series.models.count()
    model = LanguageModel.objects.create(
        series=series, name=f"{series.name}-{i}", parameter_count=10 ** (6 + i), location="/nowhere"
    )
    run = EvaluationRun.objects.create(version=version, model=model)
    if finished:
        finish(run)
    return run


class Counting:
    """Wraps a function and counts its calls."""

    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture
def counted(monkeypatch):
    trend = Counting(evidence.scaling_trend)
    reads = Counting(evidence.version_examples)
    monkeypatch.setattr(evidence, "scaling_trend", trend)
    monkeypatch.setattr(evidence, "version_examples", reads)
    return trend, reads


def page_queries(client, version) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("version_detail", args=[version.submission.pk, version.number]))
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_version_page_makes_as_many_queries_for_3_series_of_4_models_as_for_1_of_2(
    client, alice, olga, version
):
    client.force_login(alice)
    first = add_series(version, "Open A", models=2)
    add_model(version, first, finished=False)  # one still waiting in the queue, in both cases
    cold, warm = page_queries(client, version), page_queries(client, version)

    for _ in range(2):
        add_model(version, first)
    add_series(version, "Open B", models=4)
    released = add_series(version, "Secret C", models=4, private=True)
    release_series(series=released, round=version.submission.round, user=olga)
    cache.clear()
    page = client.get(reverse("version_detail", args=[version.submission.pk, version.number]))
    assert page.content.decode().count("per 10× parameters") == 3  # every series has its trend
    cache.clear()
    client.force_login(alice)  # the session back in the cache (accounts/sessions.py), as it was when cold
    assert page_queries(client, version) == cold
    assert page_queries(client, version) == warm
    assert warm < cold  # a cached view reads no example results at all


def test_a_second_view_reads_neither_the_task_file_nor_the_results_again(client, alice, version, counted):
    trend, reads = counted
    add_series(version, "Open A", models=3)
    add_series(version, "Open B", models=2)
    client.force_login(alice)
    url = reverse("version_detail", args=[version.submission.pk, version.number])
    first = client.get(url).content.decode()
    assert (trend.calls, reads.calls) == (2, 1)  # one bootstrap per series, one read of the file for both
    second = client.get(url).content.decode()
    assert (trend.calls, reads.calls) == (2, 1)
    assert second.count("per 10× parameters") == first.count("per 10× parameters") == 2
    assert "Examples with the largest value on the largest model" in second
    assert "Question 32: is 32 even?" in second  # the drill-down keeps its example texts (row 34)


def test_a_run_that_finishes_brings_its_series_a_new_trend_and_leaves_the_others_cached(
    client, alice, olga, version, counted
):
    trend, reads = counted
    growing = add_series(version, "Open A", models=2)
    add_series(version, "Open B", models=2)
    waiting = add_model(version, growing, finished=False)
    client.force_login(alice)
    url = reverse("version_detail", args=[version.submission.pk, version.number])
    assert "Only 2 models" in client.get(url).content.decode()
    assert trend.calls == 2

    finish(waiting)
    page = client.get(url).content.decode()
    assert trend.calls == 3 and reads.calls == 2  # only the series whose results changed
    assert "Open A-2" in page and page.count("Only 2 models") == 1

    # The run fails: the series' other two results are those it had before, still in the cache.
    EvaluationRun.objects.filter(pk=waiting.pk).update(status="failed", failure_reason="lost")
    assert client.get(url).content.decode().count("Only 2 models") == 2
    assert trend.calls == 3
    # Retried by an organizer, it finishes again with other values: its series is computed again.
    client.force_login(olga)
    client.post(reverse("run_retry", args=[waiting.pk]))
    finish(EvaluationRun.objects.get(pk=waiting.pk), shift=1.0)
    client.force_login(alice)
    client.get(url)
    assert trend.calls == 4


def test_the_evaluation_section_alone_is_what_the_page_shows(client, alice, version):
    add_series(version, "Open A", models=2)
    client.force_login(alice)
    fragment = client.get(reverse("evidence_fragment", args=[version.submission.pk, version.number]))
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert 'id="evaluation"' in html and "per 10× parameters" in html and 'id="figures-' in html
    assert "<html" not in html  # just the section, for the page to swap in


def test_code_that_draws_differently_computes_the_evidence_again(
    client, alice, version, counted, monkeypatch
):
    trend, _ = counted
    add_series(version, "Open A", models=2)
    client.force_login(alice)
    url = reverse("version_detail", args=[version.submission.pk, version.number])
    client.get(url)
    assert trend.calls == 1
    monkeypatch.setattr(evidence, "CODE_FINGERPRINT", "a-later-deploy")
    client.get(url)
    assert trend.calls == 2


def test_evidence_computed_when_a_run_succeeds_is_ready_for_the_first_view(
    client, alice, olga, version, counted
):
    trend, reads = counted
    add_series(version, "Open A", models=2)
    add_series(version, "Secret B", models=2, private=True)
    evidence.precompute_evidence(version_id=version.pk)  # what the worker does once a run has succeeded
    assert (trend.calls, reads.calls) == (2, 1)
    for user in (alice, olga):
        client.force_login(user)
        client.get(reverse("version_detail", args=[version.submission.pk, version.number]))
    assert (trend.calls, reads.calls) == (2, 1)


def test_a_cached_view_reads_the_submission_alone_and_still_names_its_version(client, alice, version):
    add_series(version, "Open A", models=2)
    client.force_login(alice)
    url = reverse("version_detail", args=[version.submission.pk, version.number])
    for _ in range(2):  # the first view stores the evidence, which the second view's page is cached with
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(url)
    assert not [q["sql"] for q in ctx.captured_queries if "submissions_submissionversion" in q["sql"]]
    assert f"<title>{version.task_name} · Inverse Scaling Prize</title>" in page.content.decode()
    current = client.get(reverse("submission_detail", args=[version.submission.pk]))  # the current version
    assert f"<title>{version.task_name} · Inverse Scaling Prize</title>" in current.content.decode()


def test_a_version_that_does_not_exist_sends_back_to_the_current_one_cached_or_not(client, alice, version):
    client.force_login(alice)
    for _ in range(2):
        response = client.get(reverse("version_detail", args=[version.submission.pk, 7]), follow=True)
        assert response.redirect_chain == [(reverse("submission_detail", args=[version.submission.pk]), 302)]
        assert "This submission has no version 7." in response.content.decode()


def test_the_charts_name_plotlys_template_which_the_page_loads_once(client, alice, version):
    from evaluation.plots import TEMPLATE, template_json

    add_series(version, "Open A", models=2)
    add_series(version, "Open B", models=2)
    client.force_login(alice)
    html = client.get(
        reverse("version_detail", args=[version.submission.pk, version.number])
    ).content.decode()
    charts = re.findall(r'<script id="figures-[^"]+" type="application/json">(.*?)</script>', html)
    assert len(charts) == 3  # both series and the two together
    for chart in map(json.loads, charts):
        assert chart["scaling"]["layout"]["template"] == TEMPLATE
    assert "barpolar" in template_json()["data"] and "barpolar" not in html  # not one chart carries it whole
    assert html.count("/static/site/plotly-template") == 1
