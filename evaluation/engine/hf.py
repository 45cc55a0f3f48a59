"""Hugging Face causal language models: tokenization at the character boundary and batched, exact scoring.

How a group (one context, several continuations) becomes one row of a batch:

1. Each ``context + continuation`` is tokenized as one string; the continuation's tokens are those from the first
   token whose character span ends after ``len(context)`` (so a token that straddles the boundary belongs to
   the continuation). The context is cut from the left when the model's context window is short; the
   continuation never is.
2. The group's sequences share their longest common token prefix (usually the whole prompt; less when the
   tokenizer merges the boundary differently per class). That prefix is fed once; each sequence's remaining
   input tokens follow as a branch that attends to the prefix and to itself only (a tree-shaped attention mask),
   with position ids continuing from the prefix. A sequence's last token is never an input, so single-token
   classes add nothing to the row: they are read off the prompt's last position.
3. Rows are sorted by length and padded on the right; pad positions attend only to themselves so they cannot
   leak into real tokens. Logits are computed only at the positions whose next token is scored.
4. When every row of a task starts with the same tokens (few-shot instructions), those are run once into a
   key/value cache that every batch reads, with position ids and the mask extended to cover it.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .cache import model_identity
from .metrics import ContextTooShortError, ScoringGroup

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Auto batch size on a CPU: no search (each trial is a full forward pass, which costs more than it saves there);
# rows are packed up to this many tokens per forward pass, which keeps the (rows x T x T) mask small too.
CPU_TOKENS_PER_BATCH = 512
# On a GPU the first batches try this many tokens and halve on out-of-memory.
CUDA_TOKENS_PER_BATCH = 65536
# A common start of all prompts shorter than this is not worth a separate pass and a cache.
MIN_SHARED_PREFIX = 8
PAD_BRANCH = 1 << 30  # branch id base for padding positions: distinct from every real branch


@dataclass(frozen=True)
class EncodedSequence:
    ids: tuple[int, ...]  # what the model reads, start token included, context already truncated
    first_scored: int  # index in ``ids`` of the continuation's first token


class Encoder:
    """Turns (context, continuation) into token ids, split at the character boundary."""

    def __init__(self, tokenizer, *, max_length: int | None):
        if not getattr(tokenizer, "is_fast", False):
            # Offsets are what make the character-boundary split exact; slow tokenizers have none.
            raise ValueError(
                "the model's tokenizer must be a fast tokenizer (tokenizer.json) with offset mappings"
            )
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.head = self._bos_head(tokenizer)
        # A first continuation token needs something before it; with no BOS and an empty context we feed BOS
        # (or EOS, as GPT-2 style models have no BOS of their own), as lm-evaluation-harness does.
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.start_token = start

    @staticmethod
    def _bos_head(tokenizer) -> tuple[int, ...]:
        """[BOS] when the tokenizer's own special-token handling adds it (Llama style), else nothing.

        We tokenize without special tokens (so no EOS or separators ever end up in a scored span) and add the BOS
        ourselves, exactly when ``tokenizer(text)`` would have.
        """
        bos = tokenizer.bos_token_id
        if bos is None:
            return ()
        with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
        without = tokenizer("a", add_special_tokens=False)["input_ids"]
        if with_special[:1] == [bos] and without[:1] != [bos]:
            return (bos,)
        return ()

    def encode(self, context: str, continuation: str) -> EncodedSequence:
        encoding = self.tokenizer(
            context + continuation, add_special_tokens=False, return_offsets_mapping=True
        )
        ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
        boundary = len(context)
        # Offsets are in characters of the Python string; the first token ending past the boundary is the first
        # continuation token, even when it starts inside the context (a merge across the boundary).
        split = next((i for i, (_, end) in enumerate(offsets) if end > boundary), len(ids))
        prompt_ids, continuation_ids = ids[:split], ids[split:]
        head = self.head
        if self.max_length is not None:
            # The model reads all tokens but the last, so a window of max_length holds max_length + 1 tokens.
            keep = self.max_length + 1 - len(head) - len(continuation_ids)
            if keep < (0 if head else 1):
                raise ContextTooShortError(
                    f"the continuation has {len(continuation_ids)} tokens, more than the model's context of "
                    f"{self.max_length} tokens can score"
                )
            prompt_ids = prompt_ids[len(prompt_ids) - keep :] if keep < len(prompt_ids) else prompt_ids
        if not head and not prompt_ids and continuation_ids:
            if self.start_token is None:
                raise ValueError(
                    "empty prompt and the tokenizer has neither a BOS nor an EOS token to start from"
                )
            head = (self.start_token,)
        full = (*head, *prompt_ids, *continuation_ids)
        return EncodedSequence(ids=full, first_scored=len(head) + len(prompt_ids))


@dataclass
class PackedRow:
    """One group laid out as a tree: shared prefix, then one branch of input tokens per sequence."""

    ids: list[int]
    positions: list[int]
    branches: list[int]  # -1 for the shared prefix, else the index of the sequence the token belongs to
    # per sequence: (row position whose logits predict the token, token id) for every scored token
    targets: list[list[tuple[int, int]]]


def pack_group(sequences: Sequence[EncodedSequence]) -> PackedRow:
    seqs = [s.ids for s in sequences]
    shared = 0
    shortest = min(len(s) for s in seqs)
    while shared < shortest and all(s[shared] == seqs[0][shared] for s in seqs):
        shared += 1
    # The last token of the longest sequence is never an input; when all sequences are the same, trim it.
    prefix_inputs = min(shared, max(len(s) for s in seqs) - 1)
    ids = list(seqs[0][:prefix_inputs])
    positions = list(range(prefix_inputs))
    branches = [-1] * prefix_inputs
    targets = []
    for index, (seq, encoded) in enumerate(zip(seqs, sequences, strict=True)):
        branch_start = len(ids)
        branch = seq[shared : len(seq) - 1]
        ids.extend(branch)
        positions.extend(range(shared, shared + len(branch)))
        branches.extend([index] * len(branch))

        def row_position(token_index: int, branch_start: int = branch_start) -> int:
            return token_index if token_index < shared else branch_start + token_index - shared

        targets.append([(row_position(j - 1), seq[j]) for j in range(encoded.first_scored, len(seq))])
    return PackedRow(ids=ids, positions=positions, branches=branches, targets=targets)


def model_context_length(config, tokenizer) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 1_000_000:
        return value
    return None


def fuse_tanh_gelu(model) -> int:
    """Compute GPT-2's tanh-approximated GELU with PyTorch's single fused kernel instead of seven elementwise ops.

    The same formula, equal to rounding (~1e-7): about a tenth of a GPT-2 forward pass on a CPU goes into those
    memory-bound elementwise ops. Returns how many activations were replaced.
    """
    from transformers.activations import GELUTanh, NewGELUActivation

    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is NewGELUActivation:
                setattr(module, name, GELUTanh())
                replaced += 1
    return replaced


class HFScorer:
    """Scores groups with a local Hugging Face causal LM, many groups per forward pass."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        batch_size: int | str = "auto",
        identity: str = "",
        max_length: int | None = None,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        if max_length is None:
            max_length = model_context_length(model.config, tokenizer)
        self.encoder = Encoder(tokenizer, max_length=max_length)
        self.batch_size = batch_size
        self.identity = identity or f"hf:{type(model).__name__}"
        self.share_task_prefix = True
        # transformers 5 renamed past_key_values to cache (the old name is deprecated); accept either.
        forward_parameters = inspect.signature(model.forward).parameters
        self._cache_argument = "cache" if "cache" in forward_parameters else "past_key_values"
        self._logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._tokens_per_batch = CUDA_TOKENS_PER_BATCH if self.device.type == "cuda" else CPU_TOKENS_PER_BATCH

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        *,
        device: str | None = None,
        dtype: str = "float32",
        batch_size: int | str = "auto",
    ) -> HFScorer:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a Hugging Face model directory (no config.json)")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device cuda was asked for, but no CUDA device is available")
        tokenizer = AutoTokenizer.from_pretrained(path)
        try:
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=DTYPES[dtype], attn_implementation="sdpa"
            )
        except (ValueError, ImportError):
            # Architectures without SDPA support read the same additive mask in eager attention.
            model = AutoModelForCausalLM.from_pretrained(
                path, dtype=DTYPES[dtype], attn_implementation="eager"
            )
        model.to(device)
        fuse_tanh_gelu(model)
        return cls(model, tokenizer, batch_size=batch_size, identity=model_identity(str(path), dtype=dtype))

    # -- scoring -----------------------------------------------------------------------------------------------

    def score(
        self, groups: Sequence[ScoringGroup], *, progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        """``logp(continuation | context)`` for every continuation of every group, in order."""
        rows = [self._pack(group) for group in groups]
        prefix_length, prefix_cache = self._task_prefix(rows)
        results: list[list[float] | None] = [None] * len(rows)
        # Longest first: the first batch is the biggest, so an out-of-memory shows up at once.
        order = sorted(range(len(rows)), key=lambda i: len(rows[i].ids), reverse=True)
        start = 0
        while start < len(order):
            batch = self._take_batch(order, start, rows)
            try:
                scores = self._score_rows([rows[i] for i in batch], prefix_length, prefix_cache)
            except torch.OutOfMemoryError:
                if len(batch) == 1 or self.batch_size != "auto":
                    raise
                self._tokens_per_batch = max(1, self._tokens_per_batch // 2)
                logger.warning("out of memory; tokens per batch lowered to %d", self._tokens_per_batch)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            for i, value in zip(batch, scores, strict=True):
                results[i] = value
            start += len(batch)
            if progress is not None:
                progress(len(batch))
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def _task_prefix(self, rows: Sequence[PackedRow]):
        """The tokens every row starts with (few-shot instructions, say), run once into a key/value cache.

        Only tokens no logit is needed at, and only with a plain full-attention cache; else (0, None).
        """
        if not self.share_task_prefix or len(rows) < 2:
            return 0, None
        first = rows[0]
        length = len(first.ids)
        for row in rows:
            # Inside the row's own shared prefix (branch -1), and before its first scored position.
            shared_inputs = row.branches.count(-1)  # the -1 entries are the row's leading shared prefix
            length = min(
                length, shared_inputs, *(position for targets in row.targets for position, _ in targets)
            )
            length = next((i for i in range(length) if row.ids[i] != first.ids[i]), length)
        if length < MIN_SHARED_PREFIX:
            return 0, None
        try:
            from transformers.cache_utils import DynamicCache, DynamicLayer

            output = self.model(
                input_ids=torch.tensor([first.ids[:length]], device=self.device),
                position_ids=torch.arange(length, device=self.device)[None],
                use_cache=True,
                **{self._cache_argument: DynamicCache()},
            )
            cache = getattr(output, "cache", None) or getattr(output, "past_key_values", None)
            if not isinstance(cache, DynamicCache) or any(
                type(layer) is not DynamicLayer for layer in cache.layers
            ):
                raise TypeError(f"{type(cache).__name__} is not a plain full-attention cache")
        except (TypeError, ValueError, AttributeError) as error:
            logger.info("not sharing the task's common prefix: %s", error)
            self.share_task_prefix = False
            return 0, None
        return length, cache

    def continuation_tokens(self, group: ScoringGroup) -> list[int]:
        """How many tokens each continuation of the group is scored on, split from its context as scored."""
        encoded = (self.encoder.encode(group.context, c) for c in group.continuations)
        return [len(e.ids) - e.first_scored for e in encoded]

    def _pack(self, group: ScoringGroup) -> PackedRow:
        try:
            return pack_group([self.encoder.encode(group.context, c) for c in group.continuations])
        except ContextTooShortError as error:
            where = f"row {group.row}: " if group.row is not None else ""
            raise ContextTooShortError(f"{where}{error}") from None

    def _take_batch(self, order: list[int], start: int, rows: list[PackedRow]) -> list[int]:
        if self.batch_size != "auto":
            return order[start : start + int(self.batch_size)]
        longest = max(1, len(rows[order[start]].ids))  # sorted: the first row of a batch is its longest
        count = max(1, self._tokens_per_batch // longest)
        return order[start : start + count]

    @torch.inference_mode()
    def _score_rows(
        self, rows: Sequence[PackedRow], prefix_length: int = 0, prefix_cache=None
    ) -> list[list[float]]:
        """One forward pass over ``rows``; their first ``prefix_length`` tokens come from ``prefix_cache``."""
        p = prefix_length
        width = max(1, max(len(r.ids) - p for r in rows))
        n = len(rows)
        ids = torch.zeros((n, width), dtype=torch.long)
        positions = torch.zeros((n, width), dtype=torch.long)
        branches = PAD_BRANCH + torch.arange(width).repeat(n, 1)  # every pad is its own branch
        for b, row in enumerate(rows):
            length = len(row.ids) - p
            ids[b, :length] = torch.tensor(row.ids[p:], dtype=torch.long)
            positions[b, :length] = torch.tensor(row.positions[p:], dtype=torch.long)
            branches[b, :length] = torch.tensor(row.branches[p:], dtype=torch.long)
        # allowed[b, q, k]: query q may read key k. Causal in row order, and a key is either in the shared prefix
        # or in the query's own branch. Pads read only themselves (a fully masked row would give NaN, and NaN
        # values times zero weights would still poison the real tokens).
        causal = torch.ones((width, width), dtype=torch.bool).tril()
        key_branch = branches[:, None, :]
        allowed = causal[None] & ((key_branch == -1) | (key_branch == branches[:, :, None]))
        # Everything may read the cached task prefix, which comes first among the keys.
        allowed = torch.cat([torch.ones((n, width, p), dtype=torch.bool), allowed], dim=2)
        mask = torch.zeros((n, 1, width, p + width), dtype=self.dtype)
        mask.masked_fill_(~allowed[:, None], torch.finfo(self.dtype).min)

        # Positions whose logits are needed (several classes often need the same one).
        keep = torch.zeros((n, width), dtype=torch.bool)
        flat_targets = []  # (batch row, row position, token id, sequence index)
        for b, row in enumerate(rows):
            for s, targets in enumerate(row.targets):
                for position, token in targets:
                    keep[b, position - p] = True
                    flat_targets.append((b, position - p, token, s))
        results = [[0.0] * len(row.targets) for row in rows]
        if not flat_targets:
            return results
        kwargs = {
            "input_ids": ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "position_ids": positions.to(self.device),
            "use_cache": False,
        }
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)  # the forward pass appends to it
            cache.batch_repeat_interleave(n)
            kwargs.update({self._cache_argument: cache, "use_cache": True})
        logits = None
        if self._logits_to_keep:
            # A 2-D boolean mask keeps just these positions, flattened in (row, position) order.
            logits = self.model(**kwargs, logits_to_keep=keep.to(self.device)).logits
            if logits.shape[:-1] != (int(keep.sum()),):
                # An architecture that reads logits_to_keep the older way (a count or 1-D indices).
                self._logits_to_keep, logits = False, None
        if logits is None:
            logits = self.model(**kwargs).logits[keep.to(self.device)]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        flat_index = (keep.flatten().cumsum(0) - 1).view(n, width)
        rows_index, positions_index, tokens, sequences = zip(*flat_targets, strict=True)
        picked = logprobs[
            flat_index[list(rows_index), list(positions_index)].to(self.device),
            torch.tensor(tokens, device=self.device),
        ].tolist()
        for b, s, value in zip(rows_index, sequences, picked, strict=True):
            results[b][s] += value
        return results
