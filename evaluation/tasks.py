"""Celery tasks: they take ids, claim before working, and do nothing twice."""

import logging
import socket
import time
from functools import partial

import torch
from celery import shared_task
from django.conf import settings

from evaluation import services
from evaluation.engine import (
    SUBSAMPLE_CAP,
    ContextTooShortError,
    ResultsCache,
    cache_key,
    count_groups,
    evaluate,
    model_identity,
    subsample,
)
from evaluation.engine.frames import examples_from_frame
from evaluation.models import EvaluationRun
from evaluation.scorers import model_reference, scorer_for
from submissions.selectors import version_examples

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 1.0


class RunLost(Exception):
    """The sweeper gave the run to another worker while this one was still on it."""


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_evaluation(run_id: int) -> None:
    token = services.claim_run(run_id=run_id, worker=socket.gethostname())
    if token is None:
        return  # finished, or another worker holds it: a repeated delivery changes nothing
    try:
        result = _evaluate(run_id, token)
    except RunLost:
        return
    except ContextTooShortError as error:
        services.fail_run(run_id=run_id, token=token, reason=f"The model's context is too short: {error}")
        return
    except torch.OutOfMemoryError:
        logger.exception("evaluation run out of memory", extra={"run": run_id})
        services.fail_run(
            run_id=run_id,
            token=token,
            reason="The model ran out of memory even on one prompt at a time; an organizer can retry it on a "
            "machine with more memory.",
        )
        return
    except Exception:
        logger.exception("evaluation run failed", extra={"run": run_id})
        services.fail_run(
            run_id=run_id,
            token=token,
            reason="The evaluation stopped on an internal error; the organizers have the details and can retry it.",
        )
        return
    services.complete_run(run_id=run_id, token=token, result=result)


def _evaluate(run_id: int, token: str) -> dict:
    run = EvaluationRun.objects.select_related("version__submission__round", "model__series").get(pk=run_id)
    version, model = run.version, run.model
    cap = version.submission.round.subsample_cap
    examples = examples_from_frame(version_examples(version))
    reference = model_reference(model)
    identity = model_identity(reference, dtype=settings.EVALUATION_DTYPE, api_base=model.api_base or None)
    # The cache holds results under the contest's cap; a round with another cap that would subsample differently
    # computes its own.
    cacheable = cap == SUBSAMPLE_CAP or len(examples) <= min(cap, SUBSAMPLE_CAP)
    cache = ResultsCache(settings.EVAL_CACHE_DIR)
    key = cache_key(file_sha256=version.sha256, metric=version.metric, model_identity=identity)

    compute = partial(
        _run_engine, run_id, token, examples, version=version, model=model, cap=cap, reference=reference
    )
    return cache.get_or_compute(key, compute)[0] if cacheable else compute()


def _run_engine(run_id: int, token: str, examples, *, version, model, cap: int, reference: str) -> dict:
    """Evaluate the (subsampled) examples, writing progress and the heartbeat about once a second."""
    chosen, seed = subsample(examples, file_sha256=version.sha256, cap=cap)
    total = count_groups(chosen, version.metric)
    services.record_progress(run_id=run_id, token=token, done=0, total=total)
    state = {"done": 0, "written": time.monotonic()}

    def progress(groups_done: int) -> None:
        state["done"] += groups_done
        now = time.monotonic()
        if now - state["written"] >= PROGRESS_EVERY_SECONDS:
            state["written"] = now
            if not services.record_progress(run_id=run_id, token=token, done=state["done"], total=total):
                raise RunLost

    return evaluate(
        chosen,
        metric=version.metric,
        scorer=scorer_for(model),
        model=reference,
        subsample_seed=seed,
        progress=progress,
    ).to_json()


@shared_task(ignore_result=True)
def sweep_stale_runs() -> None:
    requeued, failed = services.requeue_stale_runs()
    if requeued or failed:
        logger.info("sweeper", extra={"requeued": requeued, "failed": failed})
