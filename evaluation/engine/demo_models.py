"""A demo series of GPT-2-architecture models, trained offline on the CPU in a minute or two.

The corpus is the text of Python's own documentation topics (``pydoc_data.topics``, shipped with every CPython),
so nothing is downloaded. The tokenizer is a byte-level BPE trained on the same text (any Unicode prompt still
tokenizes, byte by byte where needed). Every model sees the same batches for the same number of steps; the
larger ones reach a lower loss, which is what makes the demo's scaling plots look like scaling plots.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

SPECIAL_TOKEN = "<|endoftext|>"


@dataclass(frozen=True)
class DemoSize:
    name: str
    n_layer: int
    n_embd: int
    n_head: int


# Parameter counts grow ~50x from the first to the last (embeddings included).
DEMO_SERIES = (
    DemoSize("demo-1", n_layer=1, n_embd=16, n_head=2),
    DemoSize("demo-2", n_layer=2, n_embd=64, n_head=2),
    DemoSize("demo-3", n_layer=3, n_embd=128, n_head=4),
    DemoSize("demo-4", n_layer=4, n_embd=256, n_head=4),
)


def corpus_text() -> str:
    """Python's documentation topics: ~460 kB of English prose and code, shipped with Python itself."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))


def train_tokenizer(texts: list[str], *, vocab_size: int, bos: bool = False):
    """A byte-level BPE tokenizer (GPT-2 style; ``bos=True`` adds a BOS token to every text, Llama style)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = [SPECIAL_TOKEN, "<s>"] if bos else [SPECIAL_TOKEN]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    if bos:
        bos_id = tokenizer.token_to_id("<s>")
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos_id)]
        )
        return PreTrainedTokenizerFast(
            tokenizer_object=tokenizer, bos_token="<s>", eos_token=SPECIAL_TOKEN, add_bos_token=True
        )
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=SPECIAL_TOKEN, eos_token=SPECIAL_TOKEN
    )


def gpt2_model(*, vocab_size: int, n_layer: int, n_embd: int, n_head: int, n_positions: int, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=0,
        eos_token_id=0,
        # Dropout off: the demo trains briefly, and evaluation is deterministic anyway.
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    return GPT2LMHeadModel(config)


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())  # tied embeddings are one Parameter, counted once


@dataclass(frozen=True)
class TrainedModel:
    name: str
    path: str  # relative to the series directory
    n_parameters: int
    n_layer: int
    n_embd: int
    train_loss: float
    heldout_loss: float
    seconds: float


def _batches(tokens: torch.Tensor, *, block: int, batch: int, steps: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        starts = torch.randint(0, len(tokens) - block - 1, (batch,), generator=generator)
        yield torch.stack([tokens[s : s + block] for s in starts.tolist()])


def _heldout_loss(model, tokens: torch.Tensor, *, block: int) -> float:
    chunks = [tokens[i : i + block] for i in range(0, len(tokens) - block, block)][:32]
    with torch.inference_mode():
        batch = torch.stack(chunks)
        return float(model(input_ids=batch, labels=batch).loss)


def build_demo_series(
    out: str | Path,
    *,
    sizes=DEMO_SERIES,
    steps: int = 200,
    batch: int = 16,
    block: int = 64,
    vocab_size: int = 4096,
    n_positions: int = 512,
    log: Callable[[str], None] = logger.info,
) -> list[TrainedModel]:
    """Train the series into ``out/<name>/`` (``save_pretrained``) and list it in ``out/series.json``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = corpus_text()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    tokenizer = train_tokenizer(paragraphs, vocab_size=vocab_size)
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for paragraph in paragraphs:
        ids.extend(tokenizer(paragraph, add_special_tokens=False)["input_ids"])
        ids.append(eos)
    tokens = torch.tensor(ids, dtype=torch.long)
    split = int(len(tokens) * 0.95)
    train, heldout = tokens[:split], tokens[split:]
    log(f"corpus: {len(tokens):,} tokens (vocabulary {len(tokenizer):,})")
    trained = []
    for index, size in enumerate(sizes):
        began = time.monotonic()
        model = gpt2_model(
            vocab_size=len(tokenizer),
            n_layer=size.n_layer,
            n_embd=size.n_embd,
            n_head=size.n_head,
            n_positions=n_positions,
            seed=index,
        )
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda step, warmup=warmup: (
                min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps)))
            ),
        )
        loss = torch.tensor(math.nan)
        for inputs in _batches(train, block=block, batch=batch, steps=steps, seed=1234):
            loss = model(input_ids=inputs, labels=inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
        model.eval()
        heldout_loss = _heldout_loss(model, heldout, block=block)
        path = out / size.name
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        entry = TrainedModel(
            name=size.name,
            path=size.name,
            n_parameters=parameter_count(model),
            n_layer=size.n_layer,
            n_embd=size.n_embd,
            train_loss=round(loss.item(), 4),
            heldout_loss=round(heldout_loss, 4),
            seconds=round(time.monotonic() - began, 1),
        )
        (path / "demo_model.json").write_text(json.dumps(asdict(entry), indent=2) + "\n")
        trained.append(entry)
        log(
            f"{size.name}: {entry.n_parameters:,} parameters, train loss {entry.train_loss}, "
            f"held-out loss {entry.heldout_loss} ({entry.seconds} s)"
        )
    series = {"corpus": "pydoc_data.topics (Python's documentation)", "models": [asdict(t) for t in trained]}
    (out / "series.json").write_text(json.dumps(series, indent=2) + "\n")
    return trained
