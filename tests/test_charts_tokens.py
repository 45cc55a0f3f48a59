"""A run records how many examples have classes of different token counts on its model's tokenizer, and the
version page warns beside the series' chart, per model."""

import pytest
from django.urls import reverse

from evaluation.models import EvaluationRun
from tests.runs_support import finish_run
from tests.test_page_cost import ROWS, add_model, add_series
from tests.test_png_cache import version  # noqa: F401

pytestmark = pytest.mark.django_db


def complete(run: EvaluationRun, **extra) -> EvaluationRun:
    finish_run(run, rows=ROWS, values=[0.5 + (row % 7) / 100 for row in ROWS], **extra)
    run.refresh_from_db()
    return run


def test_the_page_warns_per_model_whose_tokenizer_splits_the_classes_unequally(
    client,
    alice,
    version,  # noqa: F811
):
    series = add_series(version, "Open A", models=0)
    split = complete(add_model(version, series, finished=False), unequal_class_tokens=120)
    equal = complete(add_model(version, series, finished=False), unequal_class_tokens=0)
    cached_before = complete(add_model(version, series, finished=False))  # a result without the count
    assert (split.unequal_class_tokens, equal.unequal_class_tokens) == (120, 0)
    assert cached_before.unequal_class_tokens is None

    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[version.submission.pk])).content.decode()
    warning = (
        f"⚠ {split.model.name}: the classes differ in token count in 120 of 300 examples; a longer class gets a "
        "lower probability for its length alone"
    )
    assert warning in page
    assert page.count("token-warning") == 1  # not for the model whose classes are equal, nor for the unknown


def test_models_that_split_the_classes_alike_share_one_warning_line(
    client,
    alice,
    version,  # noqa: F811
):
    series = add_series(version, "Open A", models=0)
    same = [complete(add_model(version, series, finished=False), unequal_class_tokens=120) for _ in range(3)]
    other = complete(add_model(version, series, finished=False), unequal_class_tokens=7)

    client.force_login(alice)
    page = client.get(reverse("submission_detail", args=[version.submission.pk])).content.decode()
    names = ", ".join(run.model.name for run in same)
    assert f"⚠ {names}: the classes differ in token count in 120 of 300 examples;" in page
    assert f"⚠ {other.model.name}: the classes differ in token count in 7 of 300 examples;" in page
    assert page.count("token-warning") == 2
