"""Runs of task versions on language models: queueing, claiming, progress, results, the sweeper."""

import datetime as dt
import hashlib
import logging
import traceback
import uuid
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.selectors import is_organizer
from config.celery import app
from evaluation.models import (
    OF_SUBMISSIONS_NOT_WITHDRAWN,
    EvaluationRun,
    ExampleResult,
    ExampleText,
    LanguageModel,
    ModelSeries,
    Reproduction,
    ResultsEmail,
    SeriesRelease,
)
from submissions.models import Submission, SubmissionVersion
from submissions.selectors import is_reviewer_of, version_examples
from submissions.services import (
    TaskFileInvalid,
    TaskUpload,
    preview_of,
    store_task_file,
    validate_task_upload,
)

logger = logging.getLogger(__name__)

Status = EvaluationRun.Status
RUN_EVALUATION_TASK = "evaluation.tasks.run_evaluation"
SEND_RESULTS_EMAIL_TASK = "evaluation.tasks.send_results_email"
# The end of a traceback says most; a runaway one (deep recursion) must not fill the database.
TRACEBACK_CHARS = 20_000


def queue_for(model: LanguageModel) -> str:
    """The Celery queue whose workers may run this model."""
    return model.series.queue


def _send(run_id: int, queue: str) -> None:
    """Send the run's task by name: the web process never imports the worker's code (torch, transformers)."""
    if app.conf.task_always_eager:
        # Eager mode (which send_task ignores) runs tasks in this process: it is the worker then.
        from evaluation.tasks import run_evaluation

        run_evaluation.apply_async(args=[run_id], queue=queue)
        return
    try:
        app.send_task(RUN_EVALUATION_TASK, args=[run_id], queue=queue)
    except OperationalError:
        # The run is stored; the sweeper sends it again after EVALUATION_QUEUED_RESEND_SECONDS.
        logger.exception(
            "could not send an evaluation run to the broker", extra={"run": run_id, "queue": queue}
        )


def _ensure_run(version, model: LanguageModel, *, reproduction=None) -> tuple[EvaluationRun, bool]:
    """The run of this version (or of this reproduction, with ``version`` None) on this model, created and sent
    to its queue (after commit) if it is new."""
    run, created = EvaluationRun.objects.get_or_create(
        version=version, reproduction=reproduction, model=model
    )
    if created:
        transaction.on_commit(partial(_send, run.pk, queue_for(model)))
    return run, created


def _back_to_queue(run: EvaluationRun, runs, **reset) -> bool:
    """Compare-and-set ``runs`` (the run in the state the caller expects) back to ``queued`` and send it again
    after commit. False when the run was no longer in that state."""
    now = timezone.now()
    updated = runs.update(
        status=Status.QUEUED, worker="", queued_at=now, sent_at=now, progress_done=0, **reset
    )
    if updated:
        transaction.on_commit(partial(_send, run.pk, queue_for(run.model)))
    return bool(updated)


def enqueue_runs(*, version) -> list[EvaluationRun]:
    """One run per model of every active series; a model that has a run already (reused results) keeps it."""
    models = LanguageModel.objects.filter(series__is_active=True).select_related("series")
    return [_ensure_run(version, model)[0] for model in models]


# Everything a run holds but its own id and version: a copy keeps its model, status, times, attempts, failure,
# aggregates, subsample seed and engine version.
_COPIED_RUN_FIELDS = tuple(
    f.attname for f in EvaluationRun._meta.concrete_fields if f.name not in ("id", "version")
)


def _copy_results_sql() -> str:
    """One INSERT … SELECT that gives each copied run of a version the per-example results of the run it copies
    (the run of the same model): the rows never leave the database."""
    q = connection.ops.quote_name
    results, runs = ExampleResult._meta, EvaluationRun._meta
    values = [q(f.column) for f in results.concrete_fields if f.name not in ("id", "run")]
    run_id, pk = q(results.get_field("run").column), q(runs.pk.column)
    model, version, status = (q(runs.get_field(name).column) for name in ("model", "version", "status"))
    # Only the models' own quoted names are formatted in; every value is a query parameter.
    return (
        f"INSERT INTO {q(results.db_table)} ({run_id}, {', '.join(values)}) "  # noqa: S608
        f"SELECT dst.{pk}, {', '.join('r.' + v for v in values)} FROM {q(results.db_table)} r "
        f"JOIN {q(runs.db_table)} src ON src.{pk} = r.{run_id} "
        f"JOIN {q(runs.db_table)} dst ON dst.{model} = src.{model} "
        f"WHERE src.{version} = %s AND dst.{version} = %s AND src.{status} = %s"
    )


def reuse_results(*, version, previous) -> list[EvaluationRun]:
    """When ``version`` has the same file and metric as ``previous``, the version it replaces, its runs would
    give the same results: give it a copy of each finished run of ``previous`` instead, with the per-example
    results, in the caller's transaction, and send nothing to a worker. Runs not finished on ``previous`` are
    left to enqueue_runs. Returns the copies (none when the file or the metric changed)."""
    if (version.sha256, version.metric) != (previous.sha256, previous.metric):
        return []
    finished = EvaluationRun.objects.filter(version=previous, status__in=(Status.SUCCEEDED, Status.FAILED))
    copies = EvaluationRun.objects.bulk_create(
        EvaluationRun(version=version, **{name: getattr(run, name) for name in _COPIED_RUN_FIELDS})
        for run in finished
    )
    if copies:
        with connection.cursor() as cursor:
            cursor.execute(_copy_results_sql(), [previous.pk, version.pk, Status.SUCCEEDED])
    logger.info(
        "results reused from the previous version",
        extra={"version": version.pk, "previous": previous.pk, "runs": len(copies)},
    )
    return copies


def enqueue_current_versions(*, series: ModelSeries) -> int:
    """Evaluate every submission's current version on a series added (or extended) after they were submitted.
    Runs that exist already are left as they are. Returns how many runs were created."""
    from submissions.models import SubmissionVersion

    models = list(series.models.select_related("series"))
    versions = SubmissionVersion.objects.filter(
        submission__current_version=F("pk"), submission__withdrawn_at__isnull=True
    )
    return sum(_ensure_run(version, model)[1] for version in versions for model in models)


NO_FAILURE = {"failure_reason": "", "failure_exception": "", "failure_message": "", "failure_traceback": ""}


def claim_run(*, run_id: int, worker: str) -> str | None:
    """Compare-and-set ``queued → running``. Returns the claim's token, or None when someone else has the run
    or it is finished (a duplicate delivery then does nothing), or its submission was withdrawn (the run stays
    queued: should the withdrawal be undone, the sweeper sends it again)."""
    # Checked apart from the claim: an UPDATE filtered through a join becomes "id IN (subquery)", whose
    # status test PostgreSQL does not check again on a row another worker claimed meanwhile.
    if EvaluationRun.objects.filter(pk=run_id).exclude(OF_SUBMISSIONS_NOT_WITHDRAWN).exists():
        logger.info("run not started: its submission is withdrawn", extra={"run": run_id})
        return None
    token = f"{worker}/{uuid.uuid4().hex[:12]}"
    now = timezone.now()
    claimed = EvaluationRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.RUNNING,
        worker=token,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        progress_done=0,
        **NO_FAILURE,
    )
    return token if claimed else None


def _owned(run_id: int, token: str):
    return EvaluationRun.objects.filter(pk=run_id, status=Status.RUNNING, worker=token)


def record_progress(*, run_id: int, token: str, done: int, total: int) -> bool:
    """Write progress and the heartbeat. False when the run is no longer this worker's (the sweeper gave it away)."""
    return bool(
        _owned(run_id, token).update(progress_done=done, progress_total=total, heartbeat_at=timezone.now())
    )


def record_heartbeat(*, run_id: int, token: str) -> bool:
    """The worker still holds the run (loading a model, say). False when the run is no longer this worker's."""
    return bool(_owned(run_id, token).update(heartbeat_at=timezone.now()))


@transaction.atomic
def complete_run(*, run_id: int, token: str, result: dict) -> bool:
    """Store the per-example results and the aggregates, once, and only by the worker that holds the run."""
    run = _owned(run_id, token).select_for_update().first()
    if run is None:
        logger.warning(
            "run no longer held by this worker; result dropped", extra={"run": run_id, "token": token}
        )
        return False
    ExampleResult.objects.bulk_create(
        ExampleResult(run=run, row=row, value=value, correct=correct, class_logprobs=logprobs)
        for row, value, correct, logprobs in zip(
            result["rows"],
            result["values"],
            result["correct"] or [None] * len(result["rows"]),
            result["logprobs"],
            strict=True,
        )
    )
    run.status = Status.SUCCEEDED
    run.finished_at = run.heartbeat_at = timezone.now()
    run.progress_done = run.progress_total = max(run.progress_total, 1)
    run.n_examples = result["n_examples"]
    run.mean, run.stderr, run.accuracy = result["mean"], result["stderr"], result["accuracy"]
    run.subsample_seed = result["subsample_seed"]
    run.engine_version = result["engine_version"]
    run.unequal_class_tokens = result.get("unequal_class_tokens")  # absent from results cached before
    run.save()
    return True


def fail_run(*, run_id: int, token: str, reason: str, error: BaseException | None = None) -> bool:
    """Finish the run as failed with ``reason`` (shown to its contestants) and, for organizers, what ``error``
    was: its type, message and traceback."""
    details = {}
    if error is not None:
        kind = type(error)
        details = {
            "failure_exception": f"{kind.__module__}.{kind.__qualname__}"[:200],
            "failure_message": str(error),
            "failure_traceback": "".join(traceback.format_exception(error))[-TRACEBACK_CHARS:],
        }
    return bool(
        _owned(run_id, token).update(
            status=Status.FAILED, failure_reason=reason, finished_at=timezone.now(), **details
        )
    )


def requeue_stale_runs(*, now: dt.datetime | None = None) -> tuple[int, int]:
    """Give runs whose worker went silent to another worker; after too many attempts, fail them with the reason.

    Returns (requeued, failed). Safe to run anywhere, any number of times: each change is a compare-and-set.
    """
    now = now or timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT)
    max_attempts = settings.EVALUATION_MAX_ATTEMPTS
    requeued = failed = 0
    stale = EvaluationRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale_before)
    for run in stale.select_related("model__series"):
        # Still silent when updated: the worker's heartbeat thread may have written since the read.
        base = EvaluationRun.objects.filter(
            pk=run.pk, status=Status.RUNNING, worker=run.worker, heartbeat_at__lt=stale_before
        )
        if run.attempts >= max_attempts:
            gave_up = base.update(
                status=Status.FAILED,
                finished_at=now,
                failure_reason=f"The worker evaluating this model stopped responding {run.attempts} times "
                "(it may have run out of memory). An organizer can retry it.",
            )
            failed += gave_up
            if gave_up and run.version_id:  # a reproduction's runs send no e-mail
                transaction.on_commit(partial(announce_results_if_finished, version_id=run.version_id))
        elif _back_to_queue(run, base):
            requeued += 1
            logger.warning(
                "requeued a run whose worker went silent", extra={"run": run.pk, "worker": run.worker}
            )
    return requeued, failed


def resend_queued_runs(*, now: dt.datetime | None = None) -> int:
    """Send again the runs still queued EVALUATION_QUEUED_RESEND_SECONDS after they were last sent: a lost
    message (a broker restart, a failed send) must not leave a run queued forever. A message that was not lost
    only makes a duplicate, which finds nothing to claim. Returns how many were sent."""
    now = now or timezone.now()
    sent_before = now - dt.timedelta(seconds=settings.EVALUATION_QUEUED_RESEND_SECONDS)
    resent = 0
    waiting = EvaluationRun.objects.filter(
        OF_SUBMISSIONS_NOT_WITHDRAWN, status=Status.QUEUED, sent_at__lt=sent_before
    )
    for run in waiting.select_related("model__series"):
        # Compare-and-set on sent_at: two sweepers at once send it once.
        if EvaluationRun.objects.filter(pk=run.pk, status=Status.QUEUED, sent_at=run.sent_at).update(
            sent_at=now
        ):
            transaction.on_commit(partial(_send, run.pk, queue_for(run.model)))
            resent += 1
            logger.warning(
                "sent a run again that stayed queued",
                extra={"run": run.pk, "sent_at": run.sent_at.isoformat()},
            )
    return resent


def claim_results_email(*, version_id: int) -> bool:
    """True for exactly one caller, once every run of the version on a public series has finished (succeeded
    or failed): that caller sends the team the results e-mail. Called after each run finishes, so when two
    workers finish the last two runs at once, both may find every run finished; the compare-and-set on
    ``claimed_at`` lets one of them through.

    No e-mail for a version superseded by a newer one before its runs finished (the team hears about the newer
    one), nor for a withdrawn submission, nor for a version without public runs.
    """
    from submissions.models import SubmissionVersion

    public = Q(runs__model__series__visibility=ModelSeries.Visibility.PUBLIC)
    version = (
        SubmissionVersion.objects.filter(pk=version_id)
        .select_related("submission")
        .annotate(
            public_runs=Count("runs", filter=public),
            public_finished=Count(
                "runs", filter=public & Q(runs__status__in=(Status.SUCCEEDED, Status.FAILED))
            ),
        )
        .get()
    )
    if not version.public_runs or version.public_finished < version.public_runs:
        return False
    if version.submission.current_version_id != version.pk or version.submission.withdrawn_at is not None:
        return False
    ResultsEmail.objects.get_or_create(version_id=version_id)  # the row whose field the claim sets
    claimed = ResultsEmail.objects.filter(version_id=version_id, claimed_at__isnull=True).update(
        claimed_at=timezone.now()
    )
    return bool(claimed)


def announce_results_if_finished(*, version_id: int) -> bool:
    """Send the results e-mail of the version (after commit, on the ``default`` queue) when its last public run
    has just finished and no one else has claimed it. True when this call sent it."""
    if not claim_results_email(version_id=version_id):
        return False
    logger.info("results e-mail claimed", extra={"version_id": version_id})

    def send() -> None:
        if app.conf.task_always_eager:
            from evaluation.tasks import send_results_email

            send_results_email.apply_async(args=[version_id], queue="default")
            return
        app.send_task(SEND_RESULTS_EMAIL_TASK, args=[version_id], queue="default")

    transaction.on_commit(send)
    return True


def retry_run(*, run: EvaluationRun, user: AbstractBaseUser) -> EvaluationRun:
    """An organizer sends a failed run back to the queue, with a fresh count of attempts."""
    if not is_organizer(user):
        raise PermissionDenied("Only organizers can retry an evaluation.")
    failed = EvaluationRun.objects.filter(pk=run.pk, status=Status.FAILED)
    if _back_to_queue(run, failed, attempts=0, **NO_FAILURE):
        ExampleResult.objects.filter(run=run).delete()
    run.refresh_from_db()
    return run


def release_series(*, series: ModelSeries, round, user: AbstractBaseUser) -> SeriesRelease:
    if not is_organizer(user):
        raise PermissionDenied("Only organizers can release a private series.")
    release, _ = SeriesRelease.objects.get_or_create(
        series=series, round=round, defaults={"released_by": user}
    )
    return release


def index_example_texts(*, version) -> bool:
    """Copy the texts of the version's examples into ``ExampleText`` (once: a version's file never changes), so
    the drill-down searches, sorts and pages them in SQL. False when the stored file can no longer be read (the
    drill-down then shows values without texts). Two viewers filling at once insert the same rows; the second
    one's are ignored."""
    if ExampleText.objects.filter(version=version).exists():
        return True
    # A file that no longer validates is not read again on every view: the answer is kept for a day.
    unreadable = f"example-texts:unreadable:{version.sha256}:{version.metric}"
    if cache.get(unreadable):
        return False
    try:
        frame = version_examples(version)
    except ValueError as error:
        logger.warning(
            "drill-down: stored file unreadable", extra={"version": version.pk, "error": str(error)}
        )
        cache.set(unreadable, True, 24 * 3600)
        return False

    def text(value) -> str:
        return value if isinstance(value, str) else ""

    def index(value) -> int | None:
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    # One transaction: a viewer sees all of a version's texts or none, never a search over half of them.
    with transaction.atomic():
        ExampleText.objects.bulk_create(
            (
                ExampleText(
                    version=version,
                    row=int(example["row"]),
                    prompt=text(example.get("prompt")),
                    other_prompt=text(example.get("other_prompt")),
                    completion=text(example.get("completion")),
                    classes=[str(c) for c in example.get("classes") or []],
                    answer_index=index(example.get("answer_index")),
                )
                for example in frame.to_dict("records")
            ),
            batch_size=1_000,
            ignore_conflicts=True,
        )
    return True


def may_reproduce(*, user: AbstractBaseUser, submission: Submission) -> bool:
    """Organizers, and the submission's assigned reviewers without a conflict, attach and see reproductions; its
    team never does (nor learns that one exists)."""
    return is_organizer(user) or is_reviewer_of(user=user, submission=submission)


def _models_of(version) -> list[LanguageModel]:
    """The models the version was evaluated on (public and private series alike); the active series' models when
    it has no run yet."""
    used = LanguageModel.objects.filter(runs__version=version).select_related("series").distinct()
    return list(used) or list(LanguageModel.objects.filter(series__is_active=True).select_related("series"))


def create_reproduction(
    *, user: AbstractBaseUser, submission: Submission, upload: TaskUpload, note: str = ""
) -> Reproduction:
    """Attach a reproduction of the submission's current version: the file is checked by the submissions'
    validator with the version's metric and the round's limits (TaskFileInvalid says where it breaks), stored,
    and evaluated on every model the version was evaluated on."""
    if not may_reproduce(user=user, submission=submission):
        raise PermissionDenied("Only organizers and the submission's reviewers attach reproductions.")
    if submission.is_withdrawn:
        raise PermissionDenied("The submission is withdrawn: it is no longer reviewed.")
    version = submission.current_version
    report = validate_task_upload(
        data=upload.data, filename=upload.name, metric=version.metric, round=submission.round
    )
    if report.errors:
        raise TaskFileInvalid(report)
    sha256 = hashlib.sha256(upload.data).hexdigest()
    file_name = store_task_file(upload.data, sha256=sha256)
    with transaction.atomic():
        # Locking the version numbers two reproductions uploaded at once one after the other.
        SubmissionVersion.objects.select_for_update().filter(pk=version.pk).first()
        number = (version.reproductions.aggregate(n=Max("number"))["n"] or 0) + 1
        reproduction = Reproduction.objects.create(
            version=version,
            number=number,
            created_by=user,
            note=note,
            task_file=file_name,
            original_filename=upload.name[:255],
            sha256=sha256,
            example_count=report.n_examples,
            preview=preview_of(report),
        )
        for model in _models_of(version):
            _ensure_run(None, model, reproduction=reproduction)
    logger.info(
        "reproduction stored",
        extra={"submission": submission.pk, "version": version.number, "reproduction": number},
    )
    return reproduction
