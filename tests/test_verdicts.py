"""evaluation.trends' verdicts: a curve of every shape gets the word the Prize Rubric means, with its tests."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.trends import (
    VERDICT_AT_CHANCE,
    VERDICT_INVERSE,
    VERDICT_INVERTED_U,
    VERDICT_NONE,
    VERDICT_STANDARD,
    VERDICT_U_SHAPED,
    VERDICTS,
    ModelValues,
    _slope_weights,
    scaling_trend,
    verdict_counts,
)

SIZES = [10**6, 10**7, 10**8, 10**9]


def curve(means, *, n=400, noise=0.3, seed=1, sizes=SIZES, correct=None):
    """Models whose per-example values scatter around ``means``; ``correct``: per model, its accuracy, or None."""
    rng = np.random.default_rng(seed)
    models = []
    for i, (size, mean) in enumerate(zip(sizes, means, strict=True)):
        flags = None
        if correct is not None:
            # Exactly round(accuracy × n) examples right, spread over the examples.
            flags = (
                (np.arange(n) * correct[i] % 1 + correct[i] >= 1).tolist() if correct[i] < 1 else [True] * n
            )
        models.append(ModelValues(f"m{i}", size, (mean + rng.normal(0, noise, n)).tolist(), flags))
    return models


def test_the_verdict_words_are_exact():
    assert VERDICTS == (
        "inverse scaling",
        "inverse, then recovering (U-shaped)",
        "standard scaling",
        "standard, then worsening (inverted U)",
        "no clear trend",
        "at chance",
    )


def test_a_straight_rising_curve_is_inverse_scaling():
    trend = scaling_trend(curve([0.5, 0.6, 0.7, 0.8]), metric="classification")
    assert trend.verdict == VERDICT_INVERSE
    assert trend.end_diff[0] == pytest.approx(0.3, abs=0.06)
    assert 0 < trend.end_diff[1] < trend.end_diff[0] < trend.end_diff[2]


def test_a_straight_falling_curve_is_standard_scaling():
    trend = scaling_trend(curve([0.8, 0.7, 0.6, 0.5]), metric="logodds")
    assert trend.verdict == VERDICT_STANDARD
    assert trend.end_diff[2] < 0


def test_a_curve_that_peaks_then_falls_clearly_is_u_shaped_never_inverse_scaling():
    # The slope and the largest-minus-smallest difference are both clearly above 0: the old verdict said
    # "inverse scaling"; the fall after the peak makes it U-shaped.
    trend = scaling_trend(curve([0.5, 1.2, 1.0, 0.8]), metric="classification")
    assert trend.direction == "inverse" and trend.end_diff[1] > 0
    assert trend.verdict == VERDICT_U_SHAPED
    assert trend.u_shaped
    assert trend.peak == 1
    assert trend.fall_after_peak[1] > 0 and trend.rise_to_peak[1] > 0
    assert trend.explanations()[0].startswith(
        "Inverse, then recovering (U-shaped): the loss rises clearly from the smallest model (m0) to the peak "
        "model (m1) by +0.7"
    )


def test_a_curve_that_dips_then_rises_clearly_is_an_inverted_u():
    trend = scaling_trend(curve([1.0, 0.4, 0.7, 1.2]), metric="classification")
    assert trend.direction == "inverse"
    assert trend.verdict == VERDICT_INVERTED_U
    assert trend.trough == 1
    assert trend.fall_to_trough[0] == pytest.approx(0.6, abs=0.06)
    assert trend.explanations()[0].startswith(
        "Standard, then worsening (inverted U): the loss falls clearly from the smallest model (m0) to the "
        f"trough model (m1) by +{trend.fall_to_trough[0]:.2f} (95% CI +"
    )


def test_a_flat_curve_has_no_clear_trend():
    trend = scaling_trend(curve([1.0, 1.0, 1.0, 1.0]), metric="classification")
    assert trend.verdict == VERDICT_NONE
    assert trend.explanations()[0] == "No clear trend: the slope's 95% CI includes 0."


def test_a_zig_zag_with_a_clear_slope_but_unclear_ends_has_no_clear_trend():
    # Each example's values vary wildly between models, but never along the slope's direction: the slope's
    # interval is a point below 0, while no two models differ clearly (the ends not at all).
    means = np.array([1.0, 1.1, 0.85, 1.0])
    weights = _slope_weights(np.log10(SIZES))
    noise = np.random.default_rng(3).normal(0, 2.0, (200, 4))
    noise -= np.outer(noise @ weights, weights) / (weights @ weights)
    noise -= noise.mean(axis=0)
    values = means + noise
    trend = scaling_trend(
        [ModelValues(f"m{i}", size, values[:, i].tolist()) for i, size in enumerate(SIZES)], metric="logodds"
    )
    assert trend.direction == "standard"
    assert trend.ci_high < 0
    assert trend.end_diff[1] < 0 < trend.end_diff[2]
    assert trend.verdict == VERDICT_NONE
    assert trend.explanations()[0].startswith(
        "No clear trend: the slope's 95% CI is below 0, but the difference between the largest model (m3) and "
        "the smallest model (m0) is not clear: the log-odds difference differs by "
    )


def test_a_curve_with_a_clear_peak_and_a_clear_trough_zig_zags_with_no_clear_trend():
    trend = scaling_trend(curve([0.0, 1.0, -1.0, 0.0], noise=0.5), metric="classification")
    assert trend.zig_zag
    assert trend.verdict == VERDICT_NONE
    assert trend.explanations()[0] == (
        "No clear trend: the loss rises clearly to the peak model (m1) and falls clearly to the trough model (m2), "
        "both between the smallest and the largest model: the curve zig-zags."
    )


def test_a_noisy_bump_is_neither_u_shaped_nor_a_trend():
    trend = scaling_trend(curve([0.5, 0.55, 0.5, 0.52], noise=2.0), metric="classification")
    assert trend.verdict == VERDICT_NONE


def test_two_models_get_a_trend_but_never_a_shape():
    rising = scaling_trend(curve([0.5, 0.7], sizes=SIZES[:2]), metric="classification")
    assert rising.verdict == VERDICT_INVERSE
    flat = scaling_trend(curve([0.5, 0.5], sizes=SIZES[:2], noise=1.0), metric="classification")
    assert flat.verdict == VERDICT_NONE
    assert flat.explanations()[-1].startswith("Only 2 models")


def test_the_issues_peak_with_accuracy_at_chance_is_at_chance():
    # A curve over 4 models that peaks at the second, with every model right on half of 2-class examples.
    trend = scaling_trend(
        curve([0.5, 1.2, 1.0, 0.8], correct=[0.5] * 4), metric="classification", chance=[0.5] * 400
    )
    assert trend.verdict == VERDICT_AT_CHANCE
    assert trend.loss_verdict == VERDICT_U_SHAPED
    assert trend.accuracies == (0.5, 0.5, 0.5, 0.5)
    assert trend.chance == 0.5
    assert all(low <= 0 <= high for _, low, high in trend.above_chance)
    assert trend.explanations()[0] == (
        "At chance: every model's accuracy (50%, 50%, 50%, 50%) is within its 95% confidence interval of chance "
        "(50%), so the models may not do the task at all and the loss trend says little (on its own it would "
        "be “inverse, then recovering (U-shaped)”)."
    )


def test_one_model_clearly_above_chance_lets_the_trend_speak():
    trend = scaling_trend(
        curve([0.5, 0.6, 0.7, 0.8], correct=[0.9, 0.5, 0.5, 0.5]), metric="classification", chance=[0.5] * 400
    )
    assert trend.verdict == VERDICT_INVERSE
    assert trend.above_chance[0][1] > 0


def test_chance_is_the_mean_of_one_over_each_examples_number_of_classes():
    # Half the examples have 2 classes, half 4: chance is (1/2 + 1/4) / 2 = 37.5%, not 50% nor 25%.
    chance = [0.5, 0.25] * 200
    at_mean = scaling_trend(curve([0.5, 0.6, 0.7, 0.8], correct=[0.375] * 4), metric="logodds", chance=chance)
    assert at_mean.chance == 0.375
    assert at_mean.verdict == VERDICT_AT_CHANCE
    at_half = scaling_trend(curve([0.5, 0.6, 0.7, 0.8], correct=[0.5] * 4), metric="logodds", chance=chance)
    assert at_half.verdict == VERDICT_INVERSE  # 50% is clearly above 37.5% on 400 examples


def test_sequence_prob_is_never_at_chance():
    trend = scaling_trend(
        curve([0.5, 0.6, 0.7, 0.8], correct=[0.5] * 4), metric="sequence_prob", chance=[0.5] * 400
    )
    assert trend.verdict == VERDICT_INVERSE
    assert trend.chance is None and trend.above_chance == ()


def test_without_correctness_there_is_no_chance_check():
    trend = scaling_trend(curve([0.5, 0.6, 0.7, 0.8]), metric="classification", chance=[0.5] * 400)
    assert trend.verdict == VERDICT_INVERSE
    assert trend.chance is None


@pytest.mark.parametrize(
    ("chance", "message"),
    [([0.5] * 3, "chance must be 400 probabilities"), ([0.0] * 400, "in \\(0, 1\\]")],
)
def test_bad_chance_raises_a_clear_value_error(chance, message):
    with pytest.raises(ValueError, match=message):
        scaling_trend(curve([0.5, 0.6], sizes=SIZES[:2], correct=[0.5, 0.5]), metric="logodds", chance=chance)


def test_correctness_flags_must_match_the_values():
    models = [ModelValues("a", 10**6, [1.0, 2.0], [True]), ModelValues("b", 10**7, [1.0, 2.0], [True, False])]
    with pytest.raises(ValueError, match="model 'a' has 1 correctness flags for 2 values"):
        scaling_trend(models, metric="classification", chance=[0.5, 0.5])


@pytest.mark.parametrize(
    ("verdicts", "counts"),
    [
        (["inverse scaling", "inverse scaling"], [("inverse scaling", 2)]),
        (
            ["no clear trend", "inverse scaling", "at chance", "inverse scaling"],
            [("inverse scaling", 2), ("no clear trend", 1), ("at chance", 1)],
        ),
        ([], []),
    ],
)
def test_verdicts_are_counted_across_series_in_a_fixed_order(verdicts, counts):
    assert verdict_counts(verdicts) == counts


MIRROR = {
    VERDICT_INVERSE: VERDICT_STANDARD,
    VERDICT_STANDARD: VERDICT_INVERSE,
    VERDICT_U_SHAPED: VERDICT_INVERTED_U,
    VERDICT_INVERTED_U: VERDICT_U_SHAPED,
    VERDICT_NONE: VERDICT_NONE,
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    means=st.lists(st.floats(-2, 2), min_size=2, max_size=6),
    noise=st.floats(0.05, 2.0),
    seed=st.integers(0, 2**16),
)
def test_verdicts_follow_their_tests_and_mirror_when_the_curve_is_flipped(means, noise, seed):
    sizes = [10 ** (6 + k) for k in range(len(means))]
    models = curve(means, n=60, noise=noise, seed=seed, sizes=sizes)
    trend = scaling_trend(models, metric="logodds", n_boot=200, seed=seed)
    last = len(means) - 1
    if trend.verdict == VERDICT_INVERSE:
        assert trend.ci_low > 0 and trend.end_diff[1] > 0
        assert trend.peak == last or trend.fall_after_peak[1] <= 0  # never a curve that clearly recovers
    if trend.verdict == VERDICT_U_SHAPED:
        assert 0 < trend.peak < last and trend.rise_to_peak[1] > 0 and trend.fall_after_peak[1] > 0
    if len(means) == 2:
        assert trend.verdict in (VERDICT_INVERSE, VERDICT_STANDARD, VERDICT_NONE)
    flipped = [ModelValues(m.name, m.parameters, [-v for v in m.values]) for m in models]
    assert scaling_trend(flipped, metric="logodds", n_boot=200, seed=seed).verdict == MIRROR[trend.verdict]
