"""Celery tasks: they take ids, claim before working, and do nothing twice.

Celery's autodiscovery may import this module in any process that uses the app, the web process included:
nothing here may import torch or transformers at module level. The engine's Hugging Face backend is imported by
``scorers.scorer_for`` when a worker first loads a model.
"""

import logging
import socket
import sys
import time

from celery import shared_task
from django.conf import settings

from config.logging import log_context
from evaluation import emails, services
from evaluation.engine import ContextTooShortError, ResultsCache, evaluate_task_examples, model_identity
from evaluation.engine.frames import examples_from_frame
from evaluation.evidence import precompute_evidence, precompute_reproduction_evidence
from evaluation.heartbeat import Heartbeat, RunLost
from evaluation.models import EvaluationRun
from evaluation.scorers import model_reference, scorer_for
from submissions.selectors import StoredFileInvalid, version_examples

logger = logging.getLogger(__name__)
PROGRESS_EVERY_SECONDS = 1.0
RESULTS_EMAIL_RETRIES = 6
RESULTS_EMAIL_FIRST_RETRY_SECONDS = 60

INTERNAL_ERROR = (
    "The evaluation stopped on an internal error; the organizers have the details and can retry it."
)
OUT_OF_MEMORY = (
    "The model ran out of memory even on one prompt at a time; an organizer can retry it on a machine with "
    "more memory."
)


def _out_of_memory(error: BaseException) -> bool:
    torch = sys.modules.get("torch")  # not imported: the error cannot be torch's
    return torch is not None and isinstance(error, torch.OutOfMemoryError)


@shared_task(
    name=services.RUN_EVALUATION_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def run_evaluation(run_id: int) -> None:
    token = services.claim_run(run_id=run_id, worker=socket.gethostname())
    if token is None:
        return  # finished, or another worker holds it: a repeated delivery changes nothing
    run = EvaluationRun.objects.select_related(
        "version__submission__round", "reproduction__version__submission__round", "model__series"
    ).get(pk=run_id)
    version = run.version or run.reproduction.version
    context = {
        "run": run.pk,
        "submission": version.submission_id,
        "version": version.number,
        "model": run.model.name,
        "attempt": run.attempts,
    }
    if run.reproduction_id:
        context["reproduction"] = run.reproduction.number
    with log_context(**context):
        _run(run, token)


def _run(run: EvaluationRun, token: str) -> None:
    started = time.monotonic()
    logger.info("evaluation run started")
    try:
        with Heartbeat(run_id=run.pk, token=token, every=settings.EVALUATION_HEARTBEAT_SECONDS) as heartbeat:
            result, cached = _evaluate(run, token, heartbeat)
    except RunLost:
        logger.warning("evaluation run abandoned: another worker has it now")
        return
    except StoredFileInvalid as error:
        logger.warning("evaluation run failed: the stored file no longer validates", exc_info=True)
        reason = f"The task file no longer passes validation, so it cannot be evaluated: {error}"
        _failed(run, token, reason=reason[:2000], error=error)
        return
    except ContextTooShortError as error:
        logger.warning("evaluation run failed: context too short", exc_info=True)
        _failed(run, token, reason=f"The model's context is too short: {error}", error=error)
        return
    except Exception as error:
        out_of_memory = _out_of_memory(error)
        logger.exception("evaluation run failed" + (": out of memory" if out_of_memory else ""))
        reason = OUT_OF_MEMORY if out_of_memory else INTERNAL_ERROR
        _failed(run, token, reason=reason, error=error)
        return
    # The heartbeat has stopped: complete_run locks the run's row, so the sweeper cannot take it meanwhile.
    if services.complete_run(run_id=run.pk, token=token, result=result):
        logger.info(
            "evaluation run succeeded",
            extra={"cached": cached, "seconds": round(time.monotonic() - started, 1)},
        )
        if run.reproduction_id:  # seen by organizers and reviewers only: no e-mail
            precompute_reproduction_evidence_task.apply_async(args=[run.reproduction_id], queue="default")
            return
        # The charts, trends and drill-down are drawn once, off the GPU queue, before anyone opens the page.
        precompute_version_evidence.apply_async(args=[run.version_id], queue="default")
        services.announce_results_if_finished(version_id=run.version_id)


def _failed(run: EvaluationRun, token: str, *, reason: str, error: BaseException) -> None:
    if services.fail_run(run_id=run.pk, token=token, reason=reason, error=error) and run.version_id:
        services.announce_results_if_finished(version_id=run.version_id)


def _evaluate(run: EvaluationRun, token: str, heartbeat: Heartbeat) -> tuple[dict, bool]:
    # A version's file, or a reproduction's: both carry the file, its metric and hash, and their submission.
    version, model = run.evaluated, run.model
    reference = model_reference(model)
    progress = _Progress(run_id=run.pk, token=token, heartbeat=heartbeat)

    def load_scorer():
        scorer = scorer_for(model)
        heartbeat.check()  # the run may have been given away while the model loaded
        return scorer

    return evaluate_task_examples(
        examples_from_frame(version_examples(version)),
        metric=version.metric,
        file_sha256=version.sha256,
        model=reference,
        model_identity=model_identity(
            reference, dtype=settings.EVALUATION_DTYPE, api_base=model.api_base or None
        ),
        load_scorer=load_scorer,
        cache=ResultsCache(settings.EVAL_CACHE_DIR),
        cap=version.submission.round.subsample_cap,
        on_start=progress.start,
        progress=progress,
    )


class _Progress:
    """Counts the scoring groups done and writes them about once a second; stops the run once it is lost."""

    def __init__(self, *, run_id: int, token: str, heartbeat: Heartbeat):
        self.run_id, self.token, self.heartbeat = run_id, token, heartbeat
        self.done = self.total = 0
        self.written = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        self._write()

    def __call__(self, groups_done: int) -> None:
        self.heartbeat.check()
        self.done += groups_done
        if time.monotonic() - self.written >= PROGRESS_EVERY_SECONDS:
            self._write()

    def _write(self) -> None:
        self.written = time.monotonic()
        if not services.record_progress(
            run_id=self.run_id, token=self.token, done=self.done, total=self.total
        ):
            raise RunLost


@shared_task(ignore_result=True)
def precompute_version_evidence(version_id: int) -> None:
    precompute_evidence(version_id=version_id)


@shared_task(ignore_result=True)
def precompute_reproduction_evidence_task(reproduction_id: int) -> None:
    precompute_reproduction_evidence(reproduction_id=reproduction_id)


@shared_task(
    name=services.SEND_RESULTS_EMAIL_TASK, bind=True, max_retries=RESULTS_EMAIL_RETRIES, ignore_result=True
)
def send_results_email(self, version_id: int, user_ids: list[int] | None = None) -> None:
    """Send the results e-mail; retry for those it failed for (only them) after 1, 2, 4, … minutes."""
    failed = emails.send_results_email(version_id=version_id, user_ids=user_ids)
    if not failed:
        return
    context = {"version": version_id, "users": failed, "attempt": self.request.retries + 1}
    if self.request.retries >= self.max_retries:
        logger.error("results e-mail not sent after every retry; giving up", extra=context)
        return
    logger.info("results e-mail will be retried", extra=context)
    raise self.retry(
        args=[version_id, failed],
        kwargs={},
        countdown=RESULTS_EMAIL_FIRST_RETRY_SECONDS * 2**self.request.retries,
    )


@shared_task(ignore_result=True)
def sweep_stale_runs() -> None:
    requeued, failed = services.requeue_stale_runs()
    resent = services.resend_queued_runs()
    if requeued or failed or resent:
        logger.info("sweeper", extra={"requeued": requeued, "failed": failed, "resent": resent})
