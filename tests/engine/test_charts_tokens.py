"""Classes of different token counts: the engine counts, per run, the examples whose classes the model's
tokenizer splits into different numbers of tokens (the rules ask for equal lengths)."""

from evaluation.engine.metrics import Example, ScoringGroup
from evaluation.engine.runner import evaluate

# The "merge" tokenizer has " Yes" as one token and spells " No" and " Oh" in three (bytes).
YES_NO = (" Yes", " No")
EQUAL = (" No", " Oh")


class NoTokenizer:
    """A backend that cannot count tokens (like the OpenAI one): scores only."""

    identity = "no-tokenizer"

    def score(self, groups, *, progress=None):
        return [[-1.0 - i for i in range(len(g.continuations))] for g in groups]


def test_the_tokenizer_counts_each_class_as_scored_after_its_prompt(scorers):
    merge = scorers["merge"]
    assert merge.continuation_tokens(ScoringGroup("Answer", YES_NO)) == [1, 3]
    assert merge.continuation_tokens(ScoringGroup("Answer", EQUAL)) == [3, 3]
    # ":" + " Y" merge across the boundary: the class is scored from the straddling token on.
    assert merge.continuation_tokens(ScoringGroup("Answer:", YES_NO)) == [2, 3]


def test_a_run_counts_the_examples_with_classes_of_different_token_counts(scorers):
    examples = [
        Example(0, "Answer", YES_NO, 0),
        Example(1, "Answer", EQUAL, 1),
        Example(2, "Question", YES_NO, 1),
    ]
    result = evaluate(examples, metric="classification", scorer=scorers["merge"], model="merge")
    assert result.unequal_class_tokens == 2
    assert result.to_json()["unequal_class_tokens"] == 2
    same = evaluate(examples[1:2], metric="classification", scorer=scorers["merge"], model="merge")
    assert same.unequal_class_tokens == 0


def test_logodds_counts_an_example_once_whichever_prompt_splits_its_classes(scorers):
    examples = [
        Example(0, "Answer", YES_NO, 0, other_prompt="Reply"),
        Example(1, "Answer", EQUAL, 0, other_prompt="Reply"),
    ]
    result = evaluate(examples, metric="logodds", scorer=scorers["merge"], model="merge")
    assert result.unequal_class_tokens == 1


def test_unknown_without_a_tokenizer_or_without_classes(scorers):
    examples = [Example(0, "Answer", YES_NO, 0)]
    assert (
        evaluate(examples, metric="classification", scorer=NoTokenizer(), model="x").unequal_class_tokens
        is None
    )
    completions = [Example(0, "Answer", completion=" Yes")]
    result = evaluate(completions, metric="sequence_prob", scorer=scorers["merge"], model="merge")
    assert result.unequal_class_tokens is None
