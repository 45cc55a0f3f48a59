"""The Hugging Face backend gives, batched, what the definition gives one sequence at a time."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.engine.hf import ContextTooShortError, Encoder
from evaluation.engine.metrics import ScoringGroup

from .conftest import CONTEXT, reference_logp

TOLERANCE = 1e-4
# ASCII, the characters the merging tokenizer merges, accents, CJK and emoji (several bytes per character).
ALPHABET = st.sampled_from(list("abcdefgh ABC:Yes\n.,?") + ["é", "ü", "日", "本", "😀", "🎉", "\u200d", "🔬"])
prompts = st.text(ALPHABET, min_size=0, max_size=120)
classes = st.lists(st.text(ALPHABET, min_size=1, max_size=6), min_size=1, max_size=4)
groups = st.lists(st.builds(lambda p, c: ScoringGroup(p, tuple(c)), prompts, classes), min_size=1, max_size=6)
batch_sizes = st.one_of(st.integers(min_value=1, max_value=8), st.just("auto"))


def assert_matches_reference(scorer, batch, values):
    for group, group_values in zip(batch, values, strict=True):
        for continuation, value in zip(group.continuations, group_values, strict=True):
            expected = reference_logp(scorer, group.context, continuation)
            assert value == pytest.approx(expected, abs=TOLERANCE), (group.context, continuation)


@pytest.mark.parametrize("name", ["gpt2", "llama", "merge"])
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=groups, batch_size=batch_sizes, common=st.one_of(st.just(""), st.text(ALPHABET, max_size=80)))
def test_batched_scores_equal_one_sequence_at_a_time(scorers, name, batch, batch_size, common):
    """``common`` starts every prompt, as few-shot instructions do: it is run once for the whole task."""
    scorer = scorers[name]
    scorer.batch_size = batch_size
    batch = [ScoringGroup(common + g.context, g.continuations) for g in batch]
    assert_matches_reference(scorer, batch, scorer.score(batch))


def test_common_start_of_all_prompts_is_computed_once(scorers):
    scorer = scorers["llama"]
    scorer.batch_size = 2
    instructions = "Answer each question with Yes or No.\n"
    batch = [ScoringGroup(f"{instructions}Q: is {i} even?\nA:", (" Yes", " No")) for i in range(5)]
    rows = [scorer._pack(g) for g in batch]
    length, cache = scorer._task_prefix(rows)
    assert length >= 8 and cache is not None
    assert_matches_reference(scorer, batch, scorer.score(batch))


def test_classes_of_different_token_lengths_and_shared_tokens(scorers):
    scorer = scorers["gpt2"]
    scorer.batch_size = 2
    batch = [
        ScoringGroup("The value of x is", (" 1", " 12", " 123 and more words", " 1")),
        ScoringGroup("Answer:", (" Yes", " Y", " Yes, of course")),
        ScoringGroup("short", (" a",)),
    ]
    values = scorer.score(batch)
    assert_matches_reference(scorer, batch, values)
    assert values[0][0] == pytest.approx(values[0][3], abs=TOLERANCE)  # the same class twice, the same logp


def test_long_prompt_is_cut_from_the_left_and_the_continuation_kept(scorers):
    scorer = scorers["gpt2"]
    prompt = "words and more words " * 40
    encoded = scorer.encoder.encode(prompt, " the end")
    whole = scorer.tokenizer(" the end", add_special_tokens=False)["input_ids"]
    assert len(encoded.ids) == CONTEXT + 1  # the model reads CONTEXT tokens, the last is only a target
    assert list(encoded.ids[encoded.first_scored :]) == whole
    tail = scorer.tokenizer(prompt + " the end", add_special_tokens=False)["input_ids"][: -len(whole)]
    assert list(encoded.ids[: encoded.first_scored]) == tail[-encoded.first_scored :]
    assert_matches_reference(
        scorer, [ScoringGroup(prompt, (" the end",))], scorer.score([ScoringGroup(prompt, (" the end",))])
    )


def test_continuation_longer_than_the_context_is_an_error_not_a_truncation(scorers):
    with pytest.raises(ContextTooShortError):
        scorers["gpt2"].encoder.encode("prompt", " many words" * 40)


def test_bos_is_added_when_the_tokenizer_adds_one(scorers):
    llama, gpt2 = scorers["llama"], scorers["gpt2"]
    bos = llama.tokenizer.bos_token_id
    assert llama.tokenizer("Hello")["input_ids"][0] == bos
    encoded = llama.encoder.encode("Hello there", " friend")
    assert encoded.ids[0] == bos and bos not in encoded.ids[1:]
    # Truncation keeps the BOS and cuts the prompt after it.
    long = llama.encoder.encode("many words " * 50, " friend")
    assert long.ids[0] == bos and len(long.ids) == CONTEXT + 1
    assert gpt2.encoder.encode("Hello there", " friend").ids[0] != gpt2.tokenizer.bos_token_id


def test_continuation_starts_at_the_token_that_straddles_the_boundary(scorers):
    scorer = scorers["merge"]
    tokenizer = scorer.tokenizer
    yes = scorer.encoder.encode("Answer:", " Yes")
    no = scorer.encoder.encode("Answer:", " No")
    yes_tokens = tokenizer.convert_ids_to_tokens(list(yes.ids))
    assert yes_tokens[yes.first_scored :] == [":ĠY", "es"]  # ":" and " Y" merged: all scored
    assert tokenizer.convert_ids_to_tokens(list(no.ids))[no.first_scored :] == ["Ġ", "N", "o"]
    assert yes.ids[: yes.first_scored] == no.ids[: no.first_scored - 1]  # "Answer" shared; ":" only in "No"
    batch = [ScoringGroup("Answer:", (" Yes", " No", " Y"))]
    assert_matches_reference(scorer, batch, scorer.score(batch))


def test_empty_prompt_starts_from_the_start_token(scorers):
    encoded = scorers["gpt2"].encoder.encode("", "Hello")
    assert encoded.ids[0] == scorers["gpt2"].tokenizer.eos_token_id and encoded.first_scored == 1


def test_slow_tokenizer_is_refused():
    class Slow:
        is_fast = False

    with pytest.raises(ValueError, match="fast tokenizer"):
        Encoder(Slow(), max_length=None)


def test_auto_batch_size_backs_off_on_out_of_memory(scorers, monkeypatch):
    scorer = scorers["gpt2"]
    scorer.batch_size = "auto"
    batch = [ScoringGroup(f"prompt number {i}", (" a", " bb")) for i in range(12)]
    expected = scorer.score(batch)
    real = scorer._score_rows

    def small_memory(rows, *args):
        if len(rows) > 3:
            raise torch.OutOfMemoryError("pretend")
        return real(rows, *args)

    monkeypatch.setattr(scorer, "_score_rows", small_memory)
    monkeypatch.setattr(scorer, "_tokens_per_batch", 10_000)
    flat = [value for values in scorer.score(batch) for value in values]
    assert flat == pytest.approx([value for values in expected for value in values], abs=TOLERANCE)
    assert scorer._tokens_per_batch < 10_000


def test_progress_counts_every_group(scorers):
    scorer = scorers["gpt2"]
    scorer.batch_size = 3
    seen = []
    scorer.score([ScoringGroup(f"p{i}", (" a",)) for i in range(7)], progress=seen.append)
    assert sum(seen) == 7


def test_fused_gelu_changes_nothing_beyond_rounding(gpt2_dir):
    from transformers import AutoModelForCausalLM

    from evaluation.engine.hf import fuse_tanh_gelu

    plain = AutoModelForCausalLM.from_pretrained(gpt2_dir)
    fused = AutoModelForCausalLM.from_pretrained(gpt2_dir)
    assert fuse_tanh_gelu(fused) == plain.config.n_layer
    ids = torch.randint(0, plain.config.vocab_size, (2, 40))
    with torch.inference_mode():
        difference = (plain(input_ids=ids).logits - fused(input_ids=ids).logits).abs().max()
    assert difference < 1e-5
