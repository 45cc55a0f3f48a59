"""The contest's metric definitions, from log-probabilities to values and summaries."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.engine import Example, evaluate_examples, subsample, subsample_seed
from evaluation.engine.metrics import score_example, scoring_groups, summarize

logps = st.floats(min_value=-50, max_value=0, allow_nan=False)


@given(st.lists(logps, min_size=2, max_size=6), st.data())
def test_classification_loss_is_minus_log_softmax_at_the_answer(values, data):
    answer = data.draw(st.integers(min_value=0, max_value=len(values) - 1))
    example = Example(
        row=2, prompt="p", classes=tuple(f" c{i}" for i in range(len(values))), answer_index=answer
    )
    score = score_example(example, "classification", [values])
    probabilities = np.exp(np.array(values) - max(values))
    expected = -math.log(probabilities[answer] / probabilities.sum())
    assert score.value == pytest.approx(expected, abs=1e-9)
    assert score.value >= -1e-12
    assert score.correct == (int(np.argmax(values)) == answer)


def test_sequence_prob_loss_is_minus_the_completion_logp():
    example = Example(row=2, prompt="p", completion=" signs")
    assert [g.continuations for g in scoring_groups(example, "sequence_prob")] == [(" signs",)]
    score = score_example(example, "sequence_prob", [[-3.5]])
    assert score.value == 3.5 and score.correct is None


@given(logps, logps, logps, logps, st.sampled_from([0, 1]))
def test_logodds_is_the_change_in_logodds_signed_towards_the_answer(a0, a1, b0, b1, answer):
    example = Example(row=2, prompt="p", other_prompt="q", classes=(" Yes", " No"), answer_index=answer)
    groups = scoring_groups(example, "logodds")
    assert [(g.context, g.continuations) for g in groups] == [("p", (" Yes", " No")), ("q", (" Yes", " No"))]
    signed = score_example(example, "logodds", [[a0, a1], [b0, b1]])
    expected = (a0 - a1) - (b0 - b1)
    assert signed.value == pytest.approx(expected if answer == 0 else -expected, abs=1e-9)
    assert signed.correct == ([b0, b1][answer] > [b0, b1][1 - answer])
    absolute = score_example(example, "absolute_logodds", [[a0, a1], [b0, b1]])
    assert absolute.value == pytest.approx(abs(expected), abs=1e-9)


@given(st.lists(st.floats(min_value=-100, max_value=100), min_size=1, max_size=50))
def test_stderr_is_population_std_over_root_n(values):
    example = Example(row=2, prompt="p", completion="c")
    summary = summarize([score_example(example, "sequence_prob", [[-v]]) for v in values], "sequence_prob")
    assert summary.mean == pytest.approx(np.mean(values))
    assert summary.stderr == pytest.approx(np.std(values, ddof=0) / math.sqrt(len(values)))
    assert summary.accuracy is None


def test_subsample_is_uniform_and_fixed_by_the_file_hash():
    examples = [Example(row=i + 2, prompt=str(i), completion="x") for i in range(50)]
    assert subsample(examples, file_sha256="ab" * 32, cap=50) == (examples, None)
    first, seed = subsample(examples, file_sha256="ab" * 32, cap=10)
    again, seed_again = subsample(examples, file_sha256="ab" * 32, cap=10)
    other, other_seed = subsample(examples, file_sha256="cd" * 32, cap=10)
    assert first == again and seed == seed_again
    assert seed != other_seed and first != other
    assert len(first) == 10 and [e.row for e in first] == sorted(e.row for e in first)


def test_logodds_needs_two_classes():
    with pytest.raises(ValueError, match="exactly 2 classes"):
        scoring_groups(Example(row=7, prompt="p", other_prompt="q", classes=(" a", " b", " c")), "logodds")


def test_evaluate_examples_subsamples_above_the_cap_with_a_recorded_seed():
    class Constant:
        identity = "constant"

        def score(self, groups, *, progress=None):
            return [[-1.0] * len(g.continuations) for g in groups]

    examples = [Example(row=i + 2, prompt=str(i), completion="x") for i in range(30)]
    result = evaluate_examples(
        examples, metric="sequence_prob", scorer=Constant(), file_sha256="ef" * 32, cap=12
    )
    assert result.n_examples == len(result.rows) == len(result.values) == 12
    assert result.subsample_seed == subsample_seed("ef" * 32)
    assert result.rows == [e.row for e in subsample(examples, file_sha256="ef" * 32, cap=12)[0]]
    assert result.mean == 1.0 and result.stderr == 0.0 and result.accuracy is None and result.correct is None
