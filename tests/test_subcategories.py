"""Task Coverage evidence: a subcategory column named on the form is validated beside its field, and the version
page (and the reviewer's, beside Coverage) shows the trend of each subcategory, the small ones pooled as "other"."""

import functools
import io

import pandas as pd
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evaluation import subcategories
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.services import _send
from evaluation.subcategories import group_rows
from submissions.models import Submission
from submissions.services import SubcategoryInvalid, TaskUpload, submit_task
from submissions.taskfile import read_task_file
from tests.factories import ANSWERS
from tests.runs_support import finish_run

pytestmark = pytest.mark.django_db

# Subcategories of the generated file, in its row order: two large ones whose trends go opposite ways, two small
# ones (pooled as "other"), and empty cells (the group "(blank)", large enough to stand alone).
LAYOUT = [("arithmetic", 120), ("wordplay", 110), ("rare-a", 12), ("rare-b", 18), ("", 40)]


def task_csv(layout=LAYOUT, *, column: str = "category") -> bytes:
    records = []
    for name, count in layout:
        for _ in range(count):
            i = len(records)
            records.append(
                {
                    "prompt": f"Question {i}: is {i} even?\nAnswer:",
                    "classes": "[' Yes', ' No']",
                    "answer_index": i % 2,
                    column: name,
                    "notes": "unused",
                }
            )
    buf = io.StringIO()
    pd.DataFrame(records).to_csv(buf, index=False)
    return buf.getvalue().encode()


def rows_of(layout=LAYOUT) -> dict[str, list[int]]:
    """Each subcategory's spreadsheet rows (the header is row 1)."""
    out, row = {}, 2
    for name, count in layout:
        out[name] = list(range(row, row + count))
        row += count
    return out


def value(row: int, size: int, category: str) -> float:
    """Arithmetic worsens with size (inverse scaling), wordplay improves (standard), the rest stays flat."""
    noise = (row % 5) / 100
    if category == "arithmetic":
        return 0.5 + 0.3 * size + noise
    if category == "wordplay":
        return 1.5 - 0.3 * size + noise
    return 1.0 + noise


def finish_all(version) -> None:
    from evaluation.services import claim_run, complete_run

    category = {row: name for name, rows in rows_of().items() for row in rows}
    rows = sorted(category)
    for run in version.runs.select_related("model"):
        size = run.model.order
        values = [value(row, size, category[row]) for row in rows]
        complete_run(
            run_id=run.pk,
            token=claim_run(run_id=run.pk, worker="test"),
            result={
                "rows": rows,
                "values": values,
                "correct": [True] * len(rows),  # far from chance: the verdicts judge the values alone
                "logprobs": [[[-v, -1.0]] for v in values],
                "n_examples": len(rows),
                "mean": sum(values) / len(values),
                "stderr": 0.01,
                "accuracy": 1.0,
                "subsample_seed": None,
                "engine_version": "test",
            },
        )


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def series(db):
    return add_series("Open Models", models=3)


def add_series(name: str, *, models: int, private: bool = False) -> ModelSeries:
    series = ModelSeries.objects.create(name=name, visibility="private" if private else "public")
    for i in range(models):
        LanguageModel.objects.create(
            series=series, name=f"{name}-{i}", parameter_count=10 ** (6 + i), location="/nowhere", order=i
        )
    return series


def submit(user, round, *, data: bytes | None = None, **answers):
    return submit_task(
        user=user,
        round=round,
        answers={**ANSWERS, **answers},
        upload=TaskUpload(name="t.csv", data=data or task_csv()),
    )


@pytest.fixture
def version(alice, open_round, series, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        version = submit(alice, open_round, subcategory_column="category")
    finish_all(version)
    return version


# --- The validator -------------------------------------------------------------------------------


def test_the_validator_reads_the_subcategory_of_each_example_and_groups_empty_cells_as_blank():
    report = read_task_file(task_csv(), metric="classification", subcategory_column="category")
    assert report.ok
    counts = report.examples["subcategory"].value_counts().to_dict()
    assert counts == {"arithmetic": 120, "wordplay": 110, "(blank)": 40, "rare-b": 18, "rare-a": 12}
    # The column is read, so only the other extra column is reported as ignored.
    assert [str(w) for w in report.warnings] == [
        'file: these columns are not used and will be ignored: "notes"'
    ]


def test_a_column_of_more_than_50_values_is_refused_with_the_reason():
    layout = [(f"template {k}", 5) for k in range(312)]
    report = read_task_file(
        task_csv(layout, column="template"), metric="classification", subcategory_column="template"
    )
    assert not report.ok and report.errors == [] and report.examples is None
    assert report.subcategory_errors == [
        "column template has 312 different values; at most 50 make readable subcategories"
    ]


def test_a_missing_column_is_refused_naming_the_columns_the_file_has():
    report = read_task_file(task_csv(), metric="classification", subcategory_column="Category")
    assert report.subcategory_errors == [
        'the file has no column "Category"; its columns are "prompt", "classes", "answer_index", "category", "notes"'
    ]
    assert read_task_file(
        task_csv(), metric="classification", subcategory_column="prompt"
    ).subcategory_errors == [
        '"prompt" is a column the classification metric reads; the subcategory must be another column '
        "(e.g. category or template)"
    ]


def test_small_subcategories_are_pooled_as_other_after_the_large_ones():
    category = {row: name or "(blank)" for name, rows in rows_of().items() for row in rows}
    groups = group_rows(category)
    assert [(name, members, len(rows)) for name, members, rows in groups] == [
        ("arithmetic", [], 120),
        ("wordplay", [], 110),
        ("(blank)", [], 40),
        ("other", ["rare-a", "rare-b"], 30),
    ]
    assert subcategories.MIN_EXAMPLES == 30


# --- The form ------------------------------------------------------------------------------------


def _post(client, url, data: bytes | None, **answers):
    payload = {**ANSWERS, **answers}
    if data is not None:
        payload["task_file"] = SimpleUploadedFile("task.csv", data, content_type="text/csv")
    return client.post(url, payload)


def test_the_form_refuses_a_column_of_too_many_values_beside_its_field(client, alice, open_round):
    client.force_login(alice)
    layout = [(f"template {k}", 5) for k in range(60)]
    response = _post(
        client,
        reverse("submission_create", args=[open_round.pk]),
        task_csv(layout, column="template"),
        subcategory_column="template",
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["subcategory_column"] == [
        "column template has 60 different values; at most 50 make readable subcategories"
    ]
    assert "task_file" not in form.errors  # the file itself is fine
    assert not Submission.objects.exists()
    assert "at most 50 make readable subcategories" in response.content.decode()


def test_the_form_refuses_a_missing_column_beside_its_field(client, alice, open_round):
    client.force_login(alice)
    response = _post(
        client, reverse("submission_create", args=[open_round.pk]), task_csv(), subcategory_column="topic"
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["subcategory_column"] == [
        'the file has no column "topic"; its columns are "prompt", "classes", "answer_index", "category", "notes"'
    ]
    assert "task_file" not in errors
    with pytest.raises(SubcategoryInvalid):
        submit(alice, open_round, subcategory_column="topic")


# --- The version page ----------------------------------------------------------------------------


def _page(client, version) -> str:
    response = client.get(reverse("version_detail", args=[version.submission.pk, version.number]))
    assert response.status_code == 200
    return response


def test_the_version_page_shows_the_trend_and_verdict_of_each_subcategory(client, alice, version):
    client.force_login(alice)
    response = _page(client, version)
    shown = response.context["evidence"]["subcategories"]
    assert shown["column"] == "category"
    by_name = {g["name"]: g for g in shown["groups"]}
    assert list(by_name) == ["arithmetic", "wordplay", "(blank)", "other"]
    assert {name: g["n_examples"] for name, g in by_name.items()} == {
        "arithmetic": 120,
        "wordplay": 110,
        "(blank)": 40,
        "other": 30,
    }
    verdict = {name: g["verdicts"][0]["verdict"] for name, g in by_name.items()}
    assert verdict["arithmetic"] == "inverse scaling"
    assert verdict["wordplay"] == "standard scaling"
    assert verdict["other"] == verdict["(blank)"] == "no clear trend"
    assert by_name["other"]["members"] == ["rare-a", "rare-b"]
    assert set(shown["figures"]) == {g["key"] for g in shown["groups"]}  # one small chart each
    assert shown["summary"][0]["counts"][0] == {
        "verdict": "inverse scaling",
        "anchor": "inverse-scaling",
        "count": 1,
    }

    page = response.content.decode()
    assert 'id="subcategories"' in page and 'id="subcategory-figures"' in page
    assert page.count('class="col-md-6 col-xxl-4 subcategory"') == 4
    assert "120 examples" in page and "30 examples" in page
    assert "2 subcategories under 30 examples each: rare-a, rare-b" in page
    assert "Row 2 · subcategory arithmetic" in page  # the first examples name theirs
    assert "inverse scaling</a> in 1, " in page and "no clear trend</a> in 2 of 4 subcategories" in page
    # The fragment the page swaps in when a run finishes carries them too.
    fragment = client.get(reverse("evidence_fragment", args=[version.submission.pk, version.number]))
    assert 'id="subcategories"' in fragment.content.decode()


def test_a_version_without_a_subcategory_column_shows_no_subcategories(client, alice, open_round, series):
    client.force_login(alice)
    version = submit(alice, open_round)
    finish_all(version)
    response = _page(client, version)
    assert response.context["evidence"]["subcategories"] is None
    assert 'id="subcategories"' not in response.content.decode()


def test_a_private_series_appears_in_the_subcategories_only_for_those_who_see_it(
    client, alice, olga, open_round, django_capture_on_commit_callbacks
):
    add_series("Open Models", models=2)
    add_series("Secret Lab", models=2, private=True)
    with django_capture_on_commit_callbacks(execute=False):
        version = submit(alice, open_round, subcategory_column="category")
    finish_all(version)
    client.force_login(alice)
    own = _page(client, version).context["evidence"]["subcategories"]
    assert [line["series"] for line in own["summary"]] == ["Open Models"]
    assert "Secret Lab" not in _page(client, version).content.decode()
    client.force_login(olga)
    every = _page(client, version).context["evidence"]["subcategories"]
    assert [line["series"] for line in every["summary"]] == ["Open Models", "Secret Lab"]
    assert [v["series"] for v in every["groups"][0]["verdicts"]] == ["Open Models", "Secret Lab"]


def _queries(client, version) -> int:
    with CaptureQueriesContext(connection) as ctx:
        _page(client, version)
    return len(ctx.captured_queries)


def test_the_version_page_makes_as_many_queries_for_many_subcategories_and_series_as_for_few(
    client, alice, open_round, django_capture_on_commit_callbacks
):
    client.force_login(alice)
    add_series("Open A", models=2)
    few_layout = [("arithmetic", 150), ("wordplay", 150)]
    with django_capture_on_commit_callbacks(execute=False):
        few = submit(alice, open_round, data=task_csv(few_layout), subcategory_column="category")
    finish_all(few)
    cold_few, warm_few = _queries(client, few), _queries(client, few)

    add_series("Open B", models=3)
    many_layout = [(f"t{k}", 31) for k in range(12)] + [("rare", 5)]
    with django_capture_on_commit_callbacks(execute=False):
        many = submit(
            alice,
            open_round,
            data=task_csv(many_layout),
            subcategory_column="category",
            task_name="Another task",
        )
    rows = list(range(2, 2 + 31 * 12 + 5))
    for run in many.runs.select_related("model"):
        finish_run(run, rows=rows, values=[0.5 + run.model.order / 10 + (r % 7) / 100 for r in rows])
    cache.clear()
    page = _page(client, many)
    assert len(page.context["evidence"]["subcategories"]["groups"]) == 13
    cache.clear()
    client.force_login(alice)  # the session back in the cache (accounts/sessions.py), as it was when cold
    assert _queries(client, many) == cold_few
    assert _queries(client, many) == warm_few


def test_a_second_view_reads_neither_the_file_nor_the_results_for_the_subcategories(
    client, alice, version, monkeypatch
):
    reads = []
    real = subcategories.version_examples
    monkeypatch.setattr(subcategories, "version_examples", lambda v: reads.append(v.pk) or real(v))
    client.force_login(alice)
    first = _page(client, version).context["evidence"]["subcategories"]
    assert reads == [version.pk]
    assert _page(client, version).context["evidence"]["subcategories"] == first
    assert reads == [version.pk]


# --- Editing only the subcategory column --------------------------------------------------------------


def _sent_runs(callbacks) -> list[int]:
    return [c.args[0] for c in callbacks if isinstance(c, functools.partial) and c.func is _send]


def test_editing_only_the_subcategory_column_keeps_the_results_without_new_runs(
    client, alice, open_round, series, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        first = submit(alice, open_round)
    finish_all(first)
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(
            client,
            reverse("submission_edit", args=[first.submission.pk]),
            None,
            subcategory_column="category",
        )
    assert response.status_code == 302
    second = Submission.objects.get().current_version
    assert (second.number, second.subcategory_column, second.sha256) == (2, "category", first.sha256)
    assert second.changes == {"answers": ["subcategory_column"]}
    assert second.changes_described() == ["answers: subcategory column"]
    assert _sent_runs(callbacks) == []
    assert EvaluationRun.objects.filter(version=second, status="succeeded").count() == 3
    groups = _page(client, second).context["evidence"]["subcategories"]["groups"]
    assert [g["name"] for g in groups] == ["arithmetic", "wordplay", "(blank)", "other"]
    page = _page(client, second).content.decode()
    assert "answers: subcategory column" in page  # the version history says so


# --- The reviewer's page ------------------------------------------------------------------------------


@pytest.fixture
def rhea(olga, version):
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer
    from tests.factories import UserFactory

    user = UserFactory(username="rhea")
    grant_role(user=user, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=user, by=olga)
    return user


def test_the_reviewer_sees_the_subcategory_trends_beside_the_coverage_criterion(client, rhea, version):
    client.force_login(rhea)
    response = client.get(reverse("review_page", args=[version.submission.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    coverage = page.index("Task Coverage")
    nearby = page[coverage : page.index("</fieldset>", coverage)]
    assert 'href="#subcategories"' in nearby
    assert "inverse scaling in 1, standard scaling in 1, no clear trend in 2 of 4 subcategories" in nearby
    assert 'id="subcategories"' in page  # the charts themselves, in the evidence column
