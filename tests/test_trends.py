"""evaluation.trends: slope, paired bootstrap interval, direction, monotonicity and U-shape of a series."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.trends import (
    ModelValues,
    Trend,
    _bootstrap_means,
    _slope_weights,
    scaling_trend,
    summary,
)

# The suite's autouse fixtures are function-scoped; they do not depend on the generated data.
hypothesis_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

SIZES = [10**6, 10**7, 10**8, 10**9]


def series(means, *, n=400, noise=0.3, seed=1, sizes=SIZES, shared=0.0):
    """Models whose per-example values scatter around ``means``; ``shared`` adds a per-example offset common
    to every model (examples differ in difficulty), as real data does."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, shared, n)
    return [
        ModelValues(f"m{i}", size, (mean + difficulty + rng.normal(0, noise, n)).tolist())
        for i, (size, mean) in enumerate(zip(sizes, means, strict=True))
    ]


def test_increasing_series_is_inverse_and_monotonic():
    trend = scaling_trend(series([0.5, 0.6, 0.7, 0.8]), metric="classification")
    assert trend.direction == "inverse"
    assert trend.monotonic
    assert not trend.u_shaped
    assert 0 < trend.ci_low < trend.slope < trend.ci_high
    assert trend.slope == pytest.approx(0.1, abs=0.03)
    assert (trend.n_models, trend.n_examples) == (4, 400)
    assert trend.verdict == "inverse scaling"
    lines = trend.explanations()
    assert lines[0].startswith(
        "Inverse scaling: the slope's 95% CI is above 0 and the largest model (m3) has a higher loss than the "
        "smallest model (m0), by +0."
    )
    assert lines[1].startswith("Slope +0.")
    assert "per 10× parameters (95% CI +" in lines[1]
    assert lines[1].endswith(": above 0, the loss grows with model size.")
    assert lines[2] == (
        "The mean loss rises at every step from the smallest to the largest model (strictly monotonic)."
    )


def test_decreasing_series_is_standard():
    trend = scaling_trend(series([2.0, 1.7, 1.5, 1.2]), metric="sequence_prob")
    assert trend.direction == "standard"
    assert trend.monotonic
    assert trend.ci_low < trend.slope < trend.ci_high < 0
    assert trend.verdict == "standard scaling"
    assert trend.explanations()[0].startswith("Standard scaling: the slope's 95% CI is below 0")
    assert "falls at every step" in trend.explanations()[2]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flat_noisy_series_is_unclear(seed):
    trend = scaling_trend(series([1.0] * 4, noise=1.0, seed=seed), metric="logodds", seed=seed)
    assert trend.direction == "unclear"
    assert trend.ci_low < 0 < trend.ci_high
    assert trend.verdict == "no clear trend"
    assert trend.explanations()[0] == "No clear trend: the slope's 95% CI includes 0."


def test_rise_then_fall_is_u_shaped():
    sizes = [10**k for k in range(6, 11)]
    trend = scaling_trend(series([0.5, 0.8, 1.1, 0.8, 0.5], sizes=sizes), metric="classification")
    assert trend.u_shaped
    assert not trend.monotonic
    assert trend.direction == "unclear"
    assert trend.verdict == "inverse, then recovering (U-shaped)"
    assert trend.explanations()[0].startswith(
        "Inverse, then recovering (U-shaped): the loss rises clearly from the smallest model (m0) to the peak "
        "model (m2) by +0.6"
    )
    assert trend.explanations()[0].endswith(": larger models may recover.")
    assert "rises at 2 of 4 steps" in trend.explanations()[2]


def test_a_bump_within_the_noise_is_not_u_shaped():
    # Peak 0.02 above the ends, standard errors about 0.05: not clearly above.
    trend = scaling_trend(series([0.5, 0.52, 0.5], sizes=SIZES[:3], noise=1.0), metric="classification")
    assert not trend.u_shaped
    assert trend.verdict == "no clear trend"


def test_peak_at_the_largest_model_is_not_u_shaped():
    trend = scaling_trend(series([0.5, 0.9, 0.7, 1.2]), metric="classification")
    assert not trend.u_shaped
    assert not trend.monotonic


def test_models_are_sorted_by_parameters():
    models = series([0.5, 0.6, 0.7, 0.8])
    shuffled = [models[2], models[0], models[3], models[1]]
    assert scaling_trend(shuffled, metric="classification") == scaling_trend(models, metric="classification")
    assert scaling_trend(shuffled, metric="classification").models == ("m0", "m1", "m2", "m3")


def test_bootstrap_is_deterministic_for_a_seed():
    models = series([0.5, 0.55, 0.5, 0.6], noise=1.0)
    first = scaling_trend(models, metric="classification", seed=7)
    assert scaling_trend(models, metric="classification", seed=7) == first
    other = scaling_trend(models, metric="classification", seed=8)
    assert other.slope == first.slope
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)


def test_paired_bootstrap_sees_through_shared_example_difficulty():
    # Examples differ a lot in difficulty but every model sees the same ones: the paired interval is narrow.
    trend = scaling_trend(series([0.5, 0.55, 0.6, 0.65], noise=0.05, shared=3.0), metric="classification")
    assert trend.direction == "inverse"
    assert trend.ci_high - trend.ci_low < 0.02


def test_bootstrap_means_equal_fitting_each_replicates_means():
    models = series([0.5, 0.7, 0.6, 0.9], n=50)
    values = np.array([m.values for m in models])
    x = np.log10(SIZES)
    idx = np.random.default_rng(0).integers(0, 50, size=(30, 50))
    fitted = [np.polyfit(x, values[:, row].mean(axis=1), 1)[0] for row in idx]
    ends = [values[3, row].mean() - values[0, row].mean() for row in idx]
    contrasts = np.array([_slope_weights(x), [-1.0, 0.0, 0.0, 1.0]])
    slopes, differences = _bootstrap_means(contrasts @ values, idx)
    np.testing.assert_allclose(slopes, fitted, atol=1e-12)
    np.testing.assert_allclose(differences, ends, atol=1e-12)


@hypothesis_settings
@given(
    means=st.lists(st.floats(-5, 5), min_size=2, max_size=6),
    seed=st.integers(0, 2**16),
    n=st.integers(1, 30),
)
def test_slope_equals_polyfit_on_the_means(means, seed, n):
    sizes = [10 ** (6 + k) + 3 * k for k in range(len(means))]
    trend = scaling_trend(series(means, n=n, seed=seed, sizes=sizes), metric="logodds", n_boot=50, seed=seed)
    expected = np.polyfit(np.log10(sizes), trend.means, 1)[0]
    assert trend.slope == pytest.approx(expected, abs=1e-9)
    assert trend.ci_low <= trend.ci_high
    assert trend.means == pytest.approx(
        [summary(m.values)[0] for m in series(means, n=n, seed=seed, sizes=sizes)]
    )


@hypothesis_settings
@given(
    start=st.floats(0.1, 3),
    steps=st.lists(st.floats(0.2, 1.0), min_size=1, max_size=5),
    seed=st.integers(0, 2**16),
)
def test_clearly_increasing_series_is_inverse(start, steps, seed):
    means = np.cumsum([start, *steps]).tolist()
    sizes = [10 ** (6 + k) for k in range(len(means))]
    trend = scaling_trend(series(means, n=200, noise=0.2, seed=seed, sizes=sizes), metric="classification")
    assert trend.direction == "inverse"
    assert trend.ci_low > 0
    assert trend.monotonic
    assert trend.verdict == "inverse scaling"


def test_two_models_use_the_bootstrap_too():
    trend = scaling_trend(series([0.5, 0.6], sizes=SIZES[:2]), metric="absolute_logodds")
    assert trend.n_models == 2
    assert trend.ci_low < trend.slope < trend.ci_high
    assert trend.direction == "inverse"
    assert trend.verdict == "inverse scaling"
    assert trend.end_diff[1:] == pytest.approx((trend.ci_low, trend.ci_high))  # log10 sizes 1 apart
    assert not trend.u_shaped
    assert trend.explanations()[-1].startswith("Only 2 models")
    assert "log-odds difference grows" in trend.explanations()[1]


def test_constant_values_give_a_point_interval():
    models = [ModelValues(f"m{i}", size, [1.0] * 10) for i, size in enumerate(SIZES)]
    trend = scaling_trend(models, metric="classification")
    assert trend.slope == trend.ci_low == trend.ci_high == 0
    assert trend.end_diff == (0, 0, 0)
    assert trend.direction == "unclear"
    assert trend.verdict == "no clear trend"
    assert not trend.monotonic


@pytest.mark.parametrize(
    ("models", "message"),
    [
        ([], "at least 2 models"),
        ([ModelValues("a", 10**6, [1.0, 2.0])], "at least 2 models of different sizes, got 1"),
        ([ModelValues("a", 10**6, [1.0]), ModelValues("b", 10**7, [1.0, 2.0])], "the counts differ"),
        ([ModelValues("a", 10**6, [1.0]), ModelValues("b", 10**6, [2.0])], "the same size"),
        ([ModelValues("a", 0, [1.0]), ModelValues("b", 10**6, [2.0])], "positive"),
        ([ModelValues("a", 10**6, []), ModelValues("b", 10**7, [])], "no per-example values"),
        (
            [ModelValues("a", 10**6, [1.0]), ModelValues("b", 10**7, [float("nan")])],
            "'b' has a value that is not",
        ),
    ],
)
def test_bad_input_raises_a_clear_value_error(models, message):
    with pytest.raises(ValueError, match=message):
        scaling_trend(models, metric="classification")


def test_unknown_metric_raises():
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        scaling_trend(series([0.5, 0.6], sizes=SIZES[:2]), metric="accuracy")


def test_summary_uses_ddof_0():
    mean, stderr = summary([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert stderr == pytest.approx(np.std([1, 2, 3, 4]) / 2)
    with pytest.raises(ValueError, match="non-empty"):
        summary([])


def test_explanations_of_a_hand_built_trend():
    trend = Trend(
        slope=0.21,
        ci_low=0.12,
        ci_high=0.3,
        direction="inverse",
        monotonic=True,
        u_shaped=False,
        n_models=4,
        n_examples=300,
        verdict="inverse scaling",
        end_diff=(0.6, 0.35, 0.9),
    )
    assert trend.explanations() == [
        "Inverse scaling: the slope's 95% CI is above 0 and the largest model has a higher loss than the "
        "smallest model, by +0.60 (95% CI +0.35 to +0.90).",
        "Slope +0.21 per 10× parameters (95% CI +0.12 to +0.30): above 0, the loss grows with model size.",
        "The mean loss rises at every step from the smallest to the largest model (strictly monotonic).",
    ]


def test_small_slopes_keep_two_significant_digits():
    trend = Trend(-0.0042, -0.0071, 0.0013, "unclear", False, False, 3, 100, metric="logodds")
    assert trend.explanations()[1].startswith("Slope -0.0042 per 10× parameters (95% CI -0.0071 to +0.0013)")


def test_an_interval_is_written_with_two_significant_digits_of_its_largest_number_whatever_the_float_noise():
    from evaluation.trends import interval_text

    assert interval_text((0.1, 0.1, 0.1)) == "+0.10 (95% CI +0.10 to +0.10)"
    assert interval_text((0.09999999999999998, 0.1, 0.09999999999999987)) == "+0.10 (95% CI +0.10 to +0.10)"
    assert interval_text((0.0123, -0.002, 0.031)) == "+0.012 (95% CI -0.002 to +0.031)"
    assert interval_text((-1.5, -2.25, 0.0)) == "-1.50 (95% CI -2.25 to +0.00)"
