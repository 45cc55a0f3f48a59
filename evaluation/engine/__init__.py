"""The evaluation engine: the contest's metrics computed with causal language models.

Plain Python with no Django import, usable as a library, from Celery tasks and from ``manage.py evaluate_task``::

    from evaluation.engine import Example, evaluate_examples, load_scorer

    scorer = load_scorer("var/models/demo-4")
    result = evaluate_examples(examples, metric="classification", scorer=scorer, file_sha256=sha)

Workers and ``manage.py evaluate_task`` go through ``evaluate_task_examples`` (pipeline.py): subsample, results
cache, model loaded only on a miss.
"""

from .cache import ResultsCache, cache_key, model_identity
from .metrics import METRICS, ContextTooShortError, Example, ScoringGroup
from .pipeline import evaluate_task_examples
from .runner import (
    SUBSAMPLE_CAP,
    EvaluationResult,
    Scorer,
    count_groups,
    evaluate,
    subsample,
    subsample_seed,
)
from .version import ENGINE_VERSION

__all__ = [
    "ENGINE_VERSION",
    "METRICS",
    "SUBSAMPLE_CAP",
    "ContextTooShortError",
    "EvaluationResult",
    "Example",
    "ResultsCache",
    "Scorer",
    "ScoringGroup",
    "cache_key",
    "count_groups",
    "evaluate",
    "evaluate_examples",
    "evaluate_task_examples",
    "load_scorer",
    "model_identity",
    "subsample",
    "subsample_seed",
]


def load_scorer(
    model: str, *, device: str | None = None, dtype: str = "float32", batch_size="auto", **openai
):
    """A scorer for ``model``: a local Hugging Face directory, or ``openai:NAME`` (with ``api_base=...``)."""
    if model.startswith("openai:"):
        from .openai_backend import OpenAIScorer

        return OpenAIScorer(model.removeprefix("openai:"), **openai)
    from .hf import HFScorer

    return HFScorer.from_directory(model, device=device, dtype=dtype, batch_size=batch_size)


def evaluate_examples(
    examples,
    *,
    metric: str,
    scorer: Scorer,
    file_sha256: str,
    model: str | None = None,
    cap: int = SUBSAMPLE_CAP,
    progress=None,
) -> EvaluationResult:
    """Subsample (above ``cap``, seeded by the file's sha256), then evaluate."""
    chosen, seed = subsample(examples, file_sha256=file_sha256, cap=cap)
    return evaluate(
        chosen,
        metric=metric,
        scorer=scorer,
        model=model or scorer.identity,
        subsample_seed=seed,
        progress=progress,
    )
