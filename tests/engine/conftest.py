"""Tiny random-initialised causal LMs, built once per test session in a temporary directory (seconds).

- ``gpt2_dir``: GPT-2 architecture with a byte-level BPE tokenizer trained here (no BOS), short context.
- ``llama_dir``: Llama architecture (rotary positions) whose tokenizer adds a BOS token, like Llama's.
- ``merge_dir``: GPT-2 with a hand-made tokenizer that merges the prompt's last character with the first
  character of some classes (":" + " Y" becomes one token ":ĠY"), so the boundary falls inside a token.
"""

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evaluation.engine.demo_models import corpus_text, gpt2_model, train_tokenizer  # noqa: E402
from evaluation.engine.hf import HFScorer  # noqa: E402

CONTEXT = 48  # small on purpose: long prompts must be truncated from the left
EXTRA_TEXT = ["héllo wörld — naïve café 😀🎉 日本語のテキスト Ελληνικά", "Answer: Yes. Answer: No. Q: A: B:"]


@pytest.fixture(scope="session")
def corpus():
    return [p for p in corpus_text().split("\n\n") if p.strip()][:200] + EXTRA_TEXT


def _save(model, tokenizer, path):
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory, corpus):
    tokenizer = train_tokenizer(corpus, vocab_size=400)
    model = gpt2_model(vocab_size=len(tokenizer), n_layer=2, n_embd=32, n_head=2, n_positions=CONTEXT)
    return _save(model, tokenizer, tmp_path_factory.mktemp("gpt2"))


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory, corpus):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(corpus, vocab_size=400, bos=True)
    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return _save(LlamaForCausalLM(config), tokenizer, tmp_path_factory.mktemp("llama"))


def merging_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {"<|endoftext|>": 0, **{char: i + 1 for i, char in enumerate(alphabet)}}
    merges = [("Ġ", "Y"), (":", "ĠY"), ("e", "s"), ("ĠY", "es")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    # No regex pre-split: BPE may merge across spaces and punctuation, hence across the prompt/class boundary.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )


@pytest.fixture(scope="session")
def merge_dir(tmp_path_factory):
    tokenizer = merging_tokenizer()
    model = gpt2_model(vocab_size=len(tokenizer), n_layer=2, n_embd=32, n_head=2, n_positions=CONTEXT, seed=2)
    return _save(model, tokenizer, tmp_path_factory.mktemp("merge"))


@pytest.fixture(scope="session")
def model_dirs(gpt2_dir, llama_dir, merge_dir):
    return {"gpt2": gpt2_dir, "llama": llama_dir, "merge": merge_dir}


@pytest.fixture(scope="session")
def scorers(model_dirs):
    """One loaded scorer per tiny model (tests change ``batch_size`` on them as they need)."""
    return {name: HFScorer.from_directory(path, device="cpu") for name, path in model_dirs.items()}


def reference_logp(scorer: HFScorer, context: str, continuation: str) -> float:
    """The definition, computed the slow way: one sequence, no batching, no padding, full fp32 logits."""
    encoded = scorer.encoder.encode(context, continuation)
    ids = torch.tensor([encoded.ids[:-1]])
    with torch.inference_mode():
        logprobs = torch.log_softmax(scorer.model(input_ids=ids).logits[0].float(), dim=-1)
    return sum(float(logprobs[j - 1, encoded.ids[j]]) for j in range(encoded.first_scored, len(encoded.ids)))
