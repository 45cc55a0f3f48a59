"""Suggested rubric levels for Inverse Scaling Strength and Generality, from stored results, with their reasons;
split-half stability of a verdict; both shown beside the trend and the rubric, never chosen for the reviewer, and
organizers see where a reviewer's level differs from the suggestion."""

import re
import time

import numpy as np
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contest import rubric
from evaluation.evidence import rubric_suggestions, version_evidence
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.trends import VERDICT_INVERSE, ModelValues, scaling_trend, split_halves
from reviews.services import ReviewAnswers, assign_reviewer, save_review
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))  # the 300 examples of valid_csv
SIZES = (10**6, 10**7, 10**8, 10**9)
RISING = [0.5, 0.6, 0.7, 0.8]  # clearly up at every step
STEP_FLAT = [0.5, 0.7, 0.7, 0.9]  # inverse scaling, but one step does not rise
STANDARD = [0.8, 0.7, 0.6, 0.5]
FLAT = [0.6, 0.6, 0.6, 0.6]


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def version(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the tests play it
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def evaluate(version, series: ModelSeries, means: list[float]) -> None:
    """Stored results of every model of ``series``: these means, the same small spread on every model (so the
    paired differences between models are exact), every answer right (never "at chance")."""
    for model, mean in zip(series.models.order_by("parameter_count"), means, strict=True):
        run = EvaluationRun.objects.create(version=version, model=model)
        finish_run(
            run, rows=ROWS, values=[mean + (row % 7) / 100 for row in ROWS], correct=[True] * len(ROWS)
        )


def another_series(name: str, *, private: bool) -> ModelSeries:
    series = ModelSeries.objects.create(name=name, visibility="private" if private else "public", order=3)
    for i, params in enumerate(SIZES):
        LanguageModel.objects.create(
            series=series, name=f"{name}-{i}", parameter_count=params, location=f"/nowhere/{name}-{i}"
        )
    return series


def suggestions(olga, version) -> dict:
    return rubric_suggestions(version_evidence(user=olga, version=version))


# --- Inverse Scaling Strength -------------------------------------------------------------------------------


def test_strength_is_grand_when_every_public_series_rises_clearly_at_every_step(olga, version):
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    evaluate(version, private, STANDARD)  # private series do not count for strength
    strength = suggestions(olga, version)["strength"]
    assert strength.level == rubric.GRAND
    assert strength.reason == (
        "Every public series shows inverse scaling that rises clearly at every step from one size to the next: "
        "Open Models: slope +0.10 (95% CI +0.10 to +0.10), 3 of 3 steps clearly up, the weakest "
        "open-0 → open-1 +0.10 (95% CI +0.10 to +0.10)."
    )


def test_strength_is_accepted_when_every_public_series_is_inverse_but_not_at_every_step(olga, version):
    public, _ = public_and_private_series(SIZES)
    evaluate(version, public, STEP_FLAT)
    strength = suggestions(olga, version)["strength"]
    assert strength.level == rubric.ACCEPTED
    assert strength.reason == (
        "Every public series shows inverse scaling (1 of 1), but not rising clearly at every step: "
        "Open Models rises clearly at 2 of 3 steps, the weakest open-1 → open-2 +0.00 (95% CI +0.00 to +0.00)."
    )


def test_strength_is_no_prize_when_a_public_series_is_not_inverse(olga, version):
    public, _ = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    evaluate(version, another_series("GPT", private=False), STANDARD)
    strength = suggestions(olga, version)["strength"]
    assert strength.level == rubric.NONE
    assert strength.reason == (
        "Not every public series shows inverse scaling (1 of 2 do): "
        "GPT (standard scaling, slope -0.10 (95% CI -0.10 to -0.10))."
    )


def test_no_strength_level_is_suggested_before_a_public_series_has_results(olga, version):
    _, private = public_and_private_series(SIZES)
    evaluate(version, private, RISING)
    strength = suggestions(olga, version)["strength"]
    assert strength.level is None and strength.level_name == "none yet"
    assert strength.reason == "No public series has results on 2 models yet."


# --- Inverse Scaling Generality -----------------------------------------------------------------------------


def test_generality_is_grand_when_every_public_and_private_series_is_inverse(olga, version):
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, STEP_FLAT)
    evaluate(version, private, RISING)
    generality = suggestions(olga, version)["generality"]
    assert generality.level == rubric.GRAND
    assert generality.reason == (
        "Every series tested shows it: inverse scaling on 1 of 1 public and 1 of 1 private series: "
        "Open Models (inverse scaling, slope +0.12 (95% CI +0.12 to +0.12)); "
        "Secret Lab (inverse scaling, slope +0.10 (95% CI +0.10 to +0.10))."
    )


def test_generality_is_accepted_when_some_public_and_some_private_series_are_inverse(olga, version):
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    evaluate(version, private, RISING)
    evaluate(version, another_series("GPT", private=False), STANDARD)
    evaluate(version, another_series("Vault", private=True), FLAT)
    generality = suggestions(olga, version)["generality"]
    assert generality.level == rubric.ACCEPTED
    assert generality.reason.startswith(
        "Some public and some private series show it: inverse scaling on 1 of 2 public and 1 of 2 private series. "
        "With it: Open Models (inverse scaling, slope +0.10 (95% CI +0.10 to +0.10)); Secret Lab ("
    )
    assert "Without: GPT (standard scaling, slope -0.10 (95% CI -0.10 to -0.10)); Vault (no clear trend" in (
        generality.reason
    )


def test_generality_is_no_prize_when_no_private_series_is_inverse(olga, version):
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    evaluate(version, private, FLAT)
    generality = suggestions(olga, version)["generality"]
    assert generality.level == rubric.NONE
    assert generality.reason.startswith(
        "No private series shows it: inverse scaling on 1 of 1 public and 0 of 1 private series. "
        "With it: Open Models (inverse scaling, slope +0.10 (95% CI +0.10 to +0.10)). "
        "Without: Secret Lab (no clear trend, slope "
    )


def test_generality_is_no_prize_when_only_private_series_are_inverse(olga, version):
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, STANDARD)
    evaluate(version, private, RISING)
    generality = suggestions(olga, version)["generality"]
    assert generality.level == rubric.NONE
    assert generality.reason.startswith(
        "Only private series show it (Accepted asks for some public and some private): inverse scaling on 0 of 1 "
        "public and 1 of 1 private series. With it: Secret Lab (inverse scaling"
    )


def test_no_generality_level_is_suggested_before_a_private_series_has_results(olga, version):
    public, _ = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    generality = suggestions(olga, version)["generality"]
    assert generality.level is None
    assert (
        generality.reason
        == "No private series has results on 2 models yet: generality asks about private models."
    )


# --- Split-half stability -----------------------------------------------------------------------------------


def _task(*, rests_on: int | None, rise: float, noise: float, seed: int, n: int = 300, models: int = 4):
    """Values per model: a per-example base, independent noise, and a rise with model size on every example
    or only on the first ``rests_on``."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 1.5, n)
    out = []
    for i in range(models):
        values = base + rng.normal(0, noise, n)
        values[slice(rests_on)] += rise * i
        out.append(ModelValues(f"m{i}", 10 ** (6 + i), values.tolist()))
    return out


def _halves(models):
    trend = scaling_trend(models, metric="sequence_prob")
    return trend, split_halves(models, metric="sequence_prob", verdict=trend.verdict)


def test_a_trend_that_rests_on_10_examples_seldom_survives_halving_and_a_robust_one_always_does():
    trend, fragile = _halves(_task(rests_on=10, rise=0.3, noise=0.03, seed=1))
    assert trend.verdict == VERDICT_INVERSE  # the whole task passes the test...
    assert fragile.splits == 200 and fragile.share < 0.5  # ...but not in both halves of most splits
    trend, robust = _halves(_task(rests_on=None, rise=0.02, noise=0.05, seed=1))
    assert trend.verdict == VERDICT_INVERSE
    assert robust.share == 1.0
    assert robust.line() == "inverse scaling in both halves of 100% of 200 random splits"
    # Without any noise the 10 examples still have to be shared out: a half with fewer than 4 of them fails.
    trend, noiseless = _halves(_task(rests_on=10, rise=0.3, noise=0.0, seed=1))
    assert trend.verdict == VERDICT_INVERSE and 0.4 < noiseless.share < 0.8


def test_split_halves_are_seeded_and_the_line_rounds_down():
    models = _task(rests_on=10, rise=0.3, noise=0.03, seed=1)
    trend, first = _halves(models)
    assert _halves(models)[1] == first
    assert (
        first.line()
        == f"inverse scaling in both halves of {int(100 * first.agreeing / 200)}% of 200 random splits"
    )
    assert split_halves(models[:2], metric="sequence_prob", verdict=trend.verdict, splits=10).splits == 10


def test_split_halves_of_a_large_task_take_well_under_a_second_or_two():
    models = _task(rests_on=None, rise=0.02, noise=0.05, seed=3, n=10_000, models=8)
    start = time.perf_counter()
    halves = split_halves(models, metric="sequence_prob", verdict=VERDICT_INVERSE)
    assert time.perf_counter() - start < 5  # about 0.3 s on one core; generous for a busy machine
    assert halves.share == 1.0


def test_the_version_page_shows_the_split_halves_with_the_trend(client, alice, version):
    public, _ = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    client.force_login(alice)
    html = client.get(
        reverse("version_detail", args=[version.submission.pk, version.number])
    ).content.decode()
    assert "Split-half stability: inverse scaling in both halves of 100% of 200 random splits" in html
    assert f"{reverse('verdicts_help')}#split-halves" in html
    help_page = client.get(reverse("verdicts_help")).content.decode()
    assert 'id="split-halves"' in help_page and "normal approximation" in help_page
    assert 'id="suggested-levels"' in help_page


def test_split_halves_are_cached_with_the_evidence(alice, version):
    public, _ = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    first = version_evidence(user=alice, version=version)["series"][0].split_halves
    with CaptureQueriesContext(connection) as queries:
        again = version_evidence(user=alice, version=version)["series"][0].split_halves
    assert again == first
    assert not any("exampleresult" in q["sql"].lower() for q in queries)  # no per-example values read again


# --- On the review page and for organizers ------------------------------------------------------------------


@pytest.fixture
def reviewed(version, rita, olga):
    """A version whose public and private series both rise at every step, assigned to rita."""
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, RISING)
    evaluate(version, private, RISING)
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    return version


def _criterion(html: str, name: str) -> str:
    """The rubric's fieldset of one criterion."""
    return re.search(rf"<legend[^>]*>{name}</legend>(.*?)</fieldset>", html, re.S).group(1)


def test_the_review_page_shows_each_suggestion_with_its_reason_and_chooses_nothing(client, rita, reviewed):
    client.force_login(rita)
    html = client.get(reverse("review_page", args=[reviewed.submission.pk])).content.decode()
    strength = _criterion(html, "Inverse Scaling Strength")
    assert (
        "Suggested from the evaluation: Grand Prize</strong> — Every public series shows inverse scaling"
        in strength
    )
    assert "3 of 3 steps clearly up" in strength
    generality = _criterion(html, "Inverse Scaling Generality")
    assert "Suggested from the evaluation: Grand Prize</strong> — Every series tested shows it" in generality
    assert "Suggested from the evaluation" not in _criterion(html, "Task Importance")
    assert html.count('rubric-suggestion" id=') == 2
    assert " checked" not in html.split('id="review-form"', 1)[1]  # no level is chosen for the reviewer
    assert "Split-half stability: inverse scaling in both halves of 100% of 200 random splits" in html


def test_the_review_page_with_suggestions_costs_the_same_as_series_and_submissions_grow(
    client, rita, olga, alice, open_round, reviewed, django_capture_on_commit_callbacks
):
    client.force_login(rita)
    url = reverse("review_page", args=[reviewed.submission.pk])
    client.get(url)  # caches warm up (rubric, evidence)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    evaluate(reviewed, another_series("GPT", private=False), STANDARD)
    for i in range(3):
        with django_capture_on_commit_callbacks(execute=False):
            other = submit_task(
                user=alice,
                round=open_round,
                answers={**ANSWERS, "task_name": f"Another {i}"},
                upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
            )
        assign_reviewer(submission=other.submission, reviewer=rita, by=olga)
    client.get(url)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert "Suggested from the evaluation: No Prize" in html  # GPT scales the standard way
    assert len(many) == len(few)


def test_organizers_see_where_a_reviewer_s_level_differs_from_the_suggestion(client, rita, olga, reviewed):
    assignment = reviewed.submission.assignments.get()
    save_review(
        assignment=assignment,
        user=rita,
        answers=ReviewAnswers(levels={"strength": rubric.ACCEPTED, "generality": rubric.GRAND}),
    )
    client.force_login(olga)
    html = client.get(reverse("submission_detail", args=[reviewed.submission.pk])).content.decode()
    card = html.split('class="card mb-3 review-card"', 1)[1]
    strength = re.search(r"Inverse Scaling Strength</th>(.*?)</tr>", card, re.S).group(1)
    assert "Accepted Task" in strength and "suggested: Grand Prize" in strength
    generality = re.search(r"Inverse Scaling Generality</th>(.*?)</tr>", card, re.S).group(1)
    assert "suggested:" not in generality  # the same level as the suggestion: nothing to point out
    assert card.count("differs-from-suggestion") == 1
    assert (
        "Suggested from the evaluation of version 1 for Inverse Scaling Strength: <strong>Grand Prize</strong>"
        in html
    )
    # The reviewer's own card among the others never shows the mark: only organizers see it.
    client.force_login(rita)
    assert (
        "differs-from-suggestion"
        not in client.get(reverse("review_page", args=[reviewed.submission.pk])).content.decode()
    )


def test_the_tally_page_marks_where_a_reviewer_s_level_differs_from_the_suggestion(
    client, rita, olga, reviewed
):
    from reviews.models import Review

    assignment = reviewed.submission.assignments.get()
    save_review(
        assignment=assignment,
        user=rita,
        answers=ReviewAnswers(
            levels={**dict.fromkeys(rubric.CRITERIA_KEYS, rubric.ACCEPTED), "generality": rubric.GRAND},
            suggested_tier="third",
        ),
        submit=True,
    )
    assert Review.objects.get().is_locked
    from evaluation.evidence import precompute_evidence

    precompute_evidence(version_id=reviewed.pk)  # the tally reads the trends the worker cached
    client.force_login(olga)
    html = client.get(reverse("round_tally", args=[reviewed.submission.round_id])).content.decode()
    assert "Suggested by the evaluation: strength Grand Prize; generality Grand Prize" in html
    assert html.count("level-differs") == 1 and "suggested: grand" in html  # strength only: generality agrees
