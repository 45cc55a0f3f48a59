"""The models a worker keeps loaded between runs (loading is the slow part of a small run).

The Hugging Face backend (torch, transformers) is imported on the first load, in workers only.
"""

import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from evaluation.engine import load_scorer
from evaluation.models import LanguageModel, ModelSeries

KEEP_LOADED = 2
_loaded: OrderedDict[tuple, object] = OrderedDict()
_lock = threading.Lock()


def model_reference(model: LanguageModel) -> str:
    """What the engine calls the model: ``openai:NAME`` or a local directory (relative paths from MODELS_DIR)."""
    if model.series.backend == ModelSeries.Backend.OPENAI:
        return f"openai:{model.location}"
    path = Path(model.location)
    return str(path if path.is_absolute() else settings.MODELS_DIR / path)


def scorer_for(model: LanguageModel):
    """The engine's scorer for this model, loaded once per worker process (the least recently used goes)."""
    key = (model_reference(model), model.api_base, settings.EVALUATION_DEVICE, settings.EVALUATION_DTYPE)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    if model.series.backend == ModelSeries.Backend.OPENAI:
        scorer = load_scorer(key[0], api_base=model.api_base)
    else:
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a worker's log is no terminal
        scorer = load_scorer(key[0], device=settings.EVALUATION_DEVICE, dtype=settings.EVALUATION_DTYPE)
    with _lock:
        _loaded[key] = scorer
        while len(_loaded) > KEEP_LOADED:
            _loaded.popitem(last=False)
    return scorer
