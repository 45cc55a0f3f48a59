"""The examples page (drill-down): every example of a version's evaluation, a page at a time, by model, sorted,
searched, two models compared; what each viewer may see; a constant number of queries however many examples."""

import math
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluation.drilldown import PER_PAGE
from evaluation.models import EvaluationRun, ExampleText, LanguageModel, ModelSeries
from evaluation.services import release_series
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

SIZES = (1_000_000, 10_000_000, 100_000_000)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def value(size_index: int, row: int) -> float:
    """A value per (model, row) whose orders by value and by change differ from the rows' order and each other;
    the private series' values are offset so that a page tells which series it shows."""
    return round((row * 37 % 101) / 100 + size_index * ((row * 11 % 17) - 8) / 10, 6)


def build(user, round, n: int):
    """A version of ``n`` examples evaluated on a public and a private series (unreleased) of three models.
    The series come after the upload, so no worker is asked to run them: the test plays the worker."""
    version = submit_task(
        user=user,
        round=round,
        answers=ANSWERS,
        upload=TaskUpload(name="alices-task-file.csv", data=make_task_csv(n)),
    )
    public, private = public_and_private_series(SIZES)
    rows = list(range(2, n + 2))
    for language_model in LanguageModel.objects.all():
        run = EvaluationRun.objects.create(version=version, model=language_model)
        k = SIZES.index(language_model.parameter_count)
        offset = 100 if language_model.series_id == private.pk else 0
        finish_run(run, rows=rows, values=[offset + value(k, row) for row in rows])
    return version, public, private


@pytest.fixture
def task(alice, open_round):
    return build(alice, open_round, 300)


def url(version, **params) -> str:
    base = reverse("examples_drill_down", args=[version.submission_id, version.number])
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{base}?{query}" if query else base


def model(name: str) -> int:
    return LanguageModel.objects.get(name=name).pk


def rows_of(html: str) -> list[int]:
    return [int(r) for r in re.findall(r'data-row="(\d+)"', html)]


def page(client, version, **params) -> str:
    response = client.get(url(version, **params))
    assert response.status_code == 200
    return response.content.decode()


ROWS = list(range(2, 302))


def expected(key) -> list[int]:
    return sorted(ROWS, key=lambda row: (key(row), row))


def test_pages_through_every_example_fifty_at_a_time(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    order = expected(lambda row: -value(2, row))  # default: the largest public model, highest value first
    seen = []
    for number in range(1, 7):
        html = page(client, version, page=number)
        seen += rows_of(html)
        assert f"Page {number} of 6" in html
    assert seen == order and len(rows_of(page(client, version))) == PER_PAGE


def test_the_page_links_keep_the_model_the_sort_and_the_search(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, model=model("open-1"), sort="row", q="question")
    assert f"?model={model('open-1')}&amp;sort=row&amp;q=question&amp;page=2" in html


@pytest.mark.parametrize(
    "sort, key",
    [
        ("value-desc", lambda row: -value(2, row)),
        ("value-asc", lambda row: value(2, row)),
        ("change-desc", lambda row: -(value(2, row) - value(0, row))),
        ("change-asc", lambda row: value(2, row) - value(0, row)),
        ("row", lambda row: row),
    ],
)
def test_each_sort_orders_every_example(client, alice, task, sort, key):
    version, _, _ = task
    client.force_login(alice)
    got = rows_of(page(client, version, sort=sort)) + rows_of(page(client, version, sort=sort, page=2))
    assert got == expected(key)[: 2 * PER_PAGE]


def test_a_chosen_model_shows_its_own_values(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, model=model("open-1"), sort="value-asc")
    first = expected(lambda row: value(1, row))[0]
    assert rows_of(html)[0] == first
    assert f"{value(1, first):.4f}" in html
    # Change without a comparison: from the series' smallest model to its largest.
    assert "Change open-0 → open-2" in html


def test_two_models_side_by_side_sorted_by_their_change(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, model=model("open-2"), compare=model("open-1"), sort="change-desc")
    order = expected(lambda row: -(value(1, row) - value(2, row)))
    assert rows_of(html) == order[:PER_PAGE]
    top = order[0]
    block = html.split(f'data-row="{top}"')[1].split("</li>")[0]
    assert "open-2" in block and "open-1" in block
    assert f"{value(2, top):.4f}" in block and f"{value(1, top):.4f}" in block
    assert f"+{value(1, top) - value(2, top):.4f}" in block


def test_each_example_shows_its_prompt_classes_correctness_and_probabilities(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, sort="row")
    block = html.split('data-row="2"')[1].split("</li>")[0]
    assert "Question 0: is 0 even?" in block
    assert "Yes" in block and "No" in block and "(answer)" in block
    v = value(2, 2)
    p = math.exp(-v) / (math.exp(-v) + math.exp(-1.0))  # finish_run's log-probabilities: [-v, -1]
    assert f"{100 * p:.1f}%" in block and f"{100 * (1 - p):.1f}%" in block
    assert ("correct" if v < 0.55 else "wrong") in block


def test_search_finds_prompts_containing_the_text_in_any_case(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, q="QUESTION 11", sort="row")
    # Prompts are "Question {i}: ..." for rows i + 2: 11 and 110-119.
    assert rows_of(html) == [13] + list(range(112, 122))
    assert "11 examples whose prompt contains" in html
    assert rows_of(page(client, version, q="100%25")) == []  # "100%": a percent sign is no wildcard


def test_search_reads_the_file_once_then_the_index(client, alice, task, monkeypatch):
    version, _, _ = task
    client.force_login(alice)
    page(client, version, q="question")
    assert ExampleText.objects.filter(version=version).count() == 300

    def no_parsing(version):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr("evaluation.services.version_examples", no_parsing)
    assert len(rows_of(page(client, version, q="question 5"))) == 11


def test_private_series_hidden_from_the_team_until_released(client, alice, olga, open_round, task):
    version, _, private = task
    client.force_login(alice)
    secret = model("secret-2")
    html = page(client, version, model=secret)
    assert "secret" not in html.lower()
    assert f"No evaluated model {secret} for the model" in html and "Showing open-2." in html
    missing = page(client, version, model=999_999)
    assert "No evaluated model 999999 for the model" in missing
    html = page(client, version, model=model("open-0"), compare=secret)
    assert "secret-2" not in html and "No evaluated model" in html

    release_series(series=private, round=open_round, user=olga)
    html = page(client, version, model=secret)
    assert "No evaluated model" not in html and f"{100 + value(2, rows_of(html)[0]):.4f}" in html


def test_the_assigned_reviewer_sees_every_series_blind(client, rita, olga, task):
    from reviews.services import assign_reviewer

    version, _, _ = task
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    client.force_login(rita)
    html = page(client, version, model=model("secret-1"), compare=model("open-1"))
    assert "No evaluated model" not in html and "secret-1" in html
    assert "Alice Example" not in html and "alices-task-file" not in html and "Team alice" not in html


@pytest.mark.parametrize(
    "params, note",
    [
        ({"model": "abc"}, "No evaluated model abc for the model"),
        ({"compare": "-3"}, "No evaluated model -3 for comparison"),
        ({"sort": "DROP TABLE"}, "Unknown sort “DROP TABLE”"),
        ({"page": "999"}, "There is no page “999”: showing page 6 of 6."),
        ({"page": "zero"}, "There is no page “zero”: showing page 1 of 6."),
        ({"q": "a" * 300}, "The search was cut to its first 200 characters."),
        ({"q": "%00question"}, None),
    ],
)
def test_bad_parameters_fall_back_and_say_so(client, alice, task, params, note):
    version, _, _ = task
    client.force_login(alice)
    html = page(client, version, **params)
    assert rows_of(html) or "q" in params  # 200 "a"s match no prompt
    if note:
        assert note in html
    else:
        assert "drill-note" not in html


def test_a_series_of_one_model_cannot_sort_by_change_without_a_comparison(
    client, alice, open_round, django_capture_on_commit_callbacks
):
    series = ModelSeries.objects.create(name="Solo")
    LanguageModel.objects.create(series=series, name="solo-0", parameter_count=1000, location="/nowhere")
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        )
    run = version.runs.get()
    finish_run(run, rows=list(range(2, 302)), values=[row / 1000 for row in range(2, 302)])
    client.force_login(alice)
    html = page(client, version, sort="change-desc")
    assert "only evaluated model of its series" in html and rows_of(html)[0] == 301


def test_before_any_result_the_page_says_so(client, alice, open_round, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        )
    client.force_login(alice)
    assert "No model has finished evaluating" in page(client, version, model="1", sort="x")


def test_the_version_page_links_to_the_examples_of_each_series(client, alice, task):
    version, _, _ = task
    client.force_login(alice)
    html = client.get(reverse("version_detail", args=[version.submission_id, 1])).content.decode()
    assert f"{url(version)}?model={model('open-2')}" in html and "All 300 examples of Open Models" in html


def test_a_page_costs_the_same_queries_for_300_or_3000_examples(client, alice, charlie, open_round):
    small, _, _ = build(alice, open_round, 300)
    large = submit_task(
        user=charlie,
        round=open_round,
        answers=ANSWERS,
        upload=TaskUpload(name="t.csv", data=make_task_csv(3000)),
    )
    rows = list(range(2, 3002))
    for language_model in LanguageModel.objects.all():
        run, _ = EvaluationRun.objects.get_or_create(version=large, model=language_model)
        k = SIZES.index(language_model.parameter_count)
        finish_run(run, rows=rows, values=[value(k, row) for row in rows])

    def cost(user, version, **params) -> int:
        client.force_login(user)
        page(client, version, **params)  # the first view fills the texts' index
        with CaptureQueriesContext(connection) as ctx:
            assert len(rows_of(page(client, version, **params))) == PER_PAGE
        return len(ctx.captured_queries)

    for params in (
        {},
        {"sort": "change-asc", "q": "question", "page": "2"},
        {"model": model("open-0"), "compare": model("open-2"), "sort": "change-desc"},
    ):
        assert cost(alice, small, **params) == cost(charlie, large, **params), params


def test_a_long_prompt_comes_shortened_with_a_way_to_expand_it(client, alice, open_round):
    import io

    import pandas as pd

    frame = pd.DataFrame(
        {
            "prompt": [f"Start {i} " + "filler " * 2_000 + f"end {i}:" for i in range(300)],
            "classes": [str([" Yes", " No"])] * 300,
            "answer_index": [i % 2 for i in range(300)],
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    version = submit_task(
        user=alice,
        round=open_round,
        answers=ANSWERS,
        upload=TaskUpload(name="t.csv", data=buffer.getvalue().encode()),
    )
    series = ModelSeries.objects.create(name="Solo")
    solo = LanguageModel.objects.create(series=series, name="solo-0", parameter_count=1, location="/nowhere")
    run = EvaluationRun.objects.create(version=version, model=solo)
    finish_run(run, rows=list(range(2, 302)), values=[row / 1000 for row in range(2, 302)])
    client.force_login(alice)
    html = page(client, version, sort="row")
    expand = reverse("version_example", args=[version.submission_id, 1, 2])
    assert "Start 0 " in html and "end 0:" in html and f'data-expand="{expand}"' in html
    assert "filler " * 1_000 not in html and len(html) < 200_000
