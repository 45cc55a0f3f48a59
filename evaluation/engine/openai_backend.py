"""OpenAI-compatible completions endpoints (OpenAI, vLLM, ...), through the ``openai`` package.

Two ways to read ``logp(continuation | context)``, tried in this order:

1. ``echo`` + ``logprobs``: the endpoint scores ``context + continuation`` as one string and returns each token's
   log-probability and character offset; the continuation is split off at the character boundary exactly as
   the Hugging Face backend does (a token straddling the boundary belongs to the continuation). The endpoint
   tokenizes, so it adds the BOS token where its model expects one.
2. ``top_logprobs`` of the first generated token after the context, when the endpoint refuses ``echo`` (newer
   OpenAI models do): exact only for continuations that are one token, so any continuation not found among
   the top tokens is an error, never a guess.

Requests run concurrently (a thread pool), each with several prompts; rate limits (HTTP 429), timeouts and
server errors are retried with exponential backoff and jitter, honouring ``Retry-After``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from .metrics import ScoringGroup

logger = logging.getLogger(__name__)


class EndpointError(RuntimeError):
    """The endpoint cannot score what was asked (no echo and no usable top log-probabilities, or it failed)."""


def continuation_logprob(
    text_offsets: Sequence[int], token_logprobs: Sequence[float | None], *, boundary: int, length: int
) -> float:
    """Sum of the log-probabilities of the tokens from the first one that ends after ``boundary``.

    A token's end is the next *different* start offset: byte-level tokenizers split one character into several
    tokens that share its start offset, and all of them end where the character ends.
    """
    total = 0.0
    scoring = False
    for i, start in enumerate(text_offsets):
        if start >= length:
            break  # a generated token after the echoed text
        if not scoring:
            end = next((s for s in text_offsets[i + 1 :] if s > start), length)
            scoring = end > boundary
        if scoring:
            value = token_logprobs[i]
            if value is None:
                raise EndpointError(
                    "the endpoint gave no log-probability for the first token (empty prompt?)"
                )
            total += value
    return total


class _NoEcho(EndpointError):
    """The endpoint answered an echo request without the prompt's log-probabilities."""


class _RateLimiter:
    """At most ``per_minute`` requests started per minute, across threads (None: no limit)."""

    def __init__(self, per_minute: float | None):
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self.lock = threading.Lock()
        self.next_start = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        time.sleep(max(0.0, start - now))


class OpenAIScorer:
    def __init__(
        self,
        model: str,
        *,
        api_base: str,
        api_key: str | None = None,
        concurrency: int = 8,
        prompts_per_request: int = 16,
        top_logprobs: int = 5,
        max_retries: int = 6,
        backoff_seconds: float = 0.5,
        requests_per_minute: float | None = None,
        timeout: float = 120.0,
        client=None,
    ):
        import openai

        self.model = model
        self.identity = f"openai:{model}@{api_base}"
        # Local servers (vLLM) accept any key; the openai client insists on having one.
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = client or openai.OpenAI(base_url=api_base, api_key=key, max_retries=0, timeout=timeout)
        self.concurrency = max(1, concurrency)
        self.prompts_per_request = max(1, prompts_per_request)
        self.top_logprobs = top_logprobs
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.limiter = _RateLimiter(requests_per_minute)
        self.mode: str | None = None  # "echo" or "top_logprobs", found on the first request

    # -- requests ----------------------------------------------------------------------------------------------

    def _create(self, **kwargs):
        import openai

        retryable = (openai.RateLimitError, openai.APIConnectionError, openai.InternalServerError)
        for attempt in range(self.max_retries + 1):
            self.limiter.wait()
            try:
                return self.client.completions.create(model=self.model, **kwargs)
            except retryable as error:  # APITimeoutError is an APIConnectionError
                if attempt == self.max_retries:
                    raise EndpointError(
                        f"the endpoint kept failing after {attempt + 1} tries: {error}"
                    ) from error
                delay = min(60.0, self.backoff_seconds * 2**attempt) * random.uniform(0.5, 1.0)
                response = getattr(error, "response", None)
                retry_after = response.headers.get("retry-after") if response is not None else None
                if retry_after:
                    with contextlib.suppress(ValueError):  # an HTTP date: keep our own delay
                        delay = max(delay, float(retry_after))
                logger.warning("endpoint error (%s), retrying in %.1f s", type(error).__name__, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _echo(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        texts = [context + continuation for context, continuation in pairs]
        # max_tokens=1, not 0: some servers (vLLM) refuse 0; the generated token lies past the text and is ignored.
        response = self._create(prompt=texts, echo=True, logprobs=1, max_tokens=1, temperature=0)
        choices = sorted(response.choices, key=lambda c: c.index)
        if len(choices) != len(texts):
            raise EndpointError(f"asked for {len(texts)} completions, the endpoint returned {len(choices)}")
        values = []
        for (context, _), text, choice in zip(pairs, texts, choices, strict=True):
            logprobs = choice.logprobs
            if logprobs is None or not logprobs.text_offset or not logprobs.token_logprobs:
                raise _NoEcho("no log-probabilities for the echoed prompt")
            values.append(
                continuation_logprob(
                    logprobs.text_offset, logprobs.token_logprobs, boundary=len(context), length=len(text)
                )
            )
        return values

    def _top(self, group: ScoringGroup) -> list[float]:
        response = self._create(prompt=group.context, logprobs=self.top_logprobs, max_tokens=1, temperature=0)
        logprobs = response.choices[0].logprobs
        top = (logprobs.top_logprobs or [None])[0] if logprobs is not None else None
        if not top:
            raise EndpointError(
                "the endpoint supports neither echo with logprobs nor top_logprobs, so it cannot score continuations"
            )
        values = []
        for continuation in group.continuations:
            if continuation not in top:
                where = f"row {group.row}: " if group.row is not None else ""
                raise EndpointError(
                    f"{where}the endpoint does not support echo with logprobs, and the class {continuation!r} is "
                    f"not among its top {self.top_logprobs} next tokens, so its log-probability cannot be read exactly "
                    "(this way works only for single-token classes); use an endpoint that supports echo"
                )
            values.append(float(top[continuation]))
        return values

    def _detect_mode(self, groups: Sequence[ScoringGroup]) -> None:
        import openai

        first = groups[0]
        try:
            self._echo([(first.context, first.continuations[0])])
            self.mode = "echo"
        except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
            if "echo" not in str(error).lower() and "logprob" not in str(error).lower():
                raise EndpointError(f"the endpoint refused the first request: {error}") from error
            logger.info("endpoint refuses echo with logprobs (%s); using top_logprobs", error)
            self.mode = "top_logprobs"
        except _NoEcho:
            logger.info("endpoint echoes no prompt log-probabilities; using top_logprobs")
            self.mode = "top_logprobs"

    # -- scoring -----------------------------------------------------------------------------------------------

    def score(
        self, groups: Sequence[ScoringGroup], *, progress: Callable[[int], None] | None = None
    ) -> list[list[float]]:
        if not groups:
            return []
        if self.mode is None:
            self._detect_mode(groups)
        chunks = self._chunks(groups)
        results: list[list[float] | None] = [None] * len(groups)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._score_chunk, [groups[i] for i in chunk]): chunk for chunk in chunks}
            try:
                for future in as_completed(futures):
                    chunk = futures[future]
                    for i, values in zip(chunk, future.result(), strict=True):
                        results[i] = values
                    if progress is not None:
                        progress(len(chunk))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return results  # type: ignore[return-value]

    def _chunks(self, groups: Sequence[ScoringGroup]) -> list[list[int]]:
        if self.mode == "top_logprobs":
            return [[i] for i in range(len(groups))]
        chunks, current, size = [], [], 0
        for i, group in enumerate(groups):
            if current and size + len(group.continuations) > self.prompts_per_request:
                chunks.append(current)
                current, size = [], 0
            current.append(i)
            size += len(group.continuations)
        if current:
            chunks.append(current)
        return chunks

    def _score_chunk(self, groups: Sequence[ScoringGroup]) -> list[list[float]]:
        if self.mode == "top_logprobs":
            return [self._top(group) for group in groups]
        pairs = [(g.context, c) for g in groups for c in g.continuations]
        flat = self._echo(pairs)
        out, start = [], 0
        for group in groups:
            out.append(flat[start : start + len(group.continuations)])
            start += len(group.continuations)
        return out
