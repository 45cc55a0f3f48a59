import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from functools import partial

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.template.defaultfilters import pluralize
from django.utils import formats, timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from accounts.models import Role, Team
from accounts.selectors import has_role, is_organizer, team_of
from submissions.models import (
    ANYWHERE_ON_EARTH,
    KeepRequest,
    Round,
    Submission,
    SubmissionVersion,
    task_file_name,
)
from submissions.signals import version_created
from submissions.taskfile import Problem, TaskFileReport, read_task_file
from submissions.tasks import send_submission_receipt_task

logger = logging.getLogger(__name__)

ANSWER_FIELDS = (
    "task_name",
    "authors",
    "metric",
    "description",
    "importance",
    "expected_inverse_scaling",
    "data_generation",
    "annotator_expertise",
    "license",
    "subcategory_column",
    "few_shot",
    "fine_tuning",
    "rlhf",
    "hide_authors_in_benchmark",
)
# Answers a caller may leave out (blank on the form), with the value they then take: the subcategory column,
# the rules' optional questions and the benchmark opt-out.
OPTIONAL_ANSWERS = {
    "subcategory_column": "",
    "few_shot": "",
    "fine_tuning": "",
    "rlhf": "",
    "hide_authors_in_benchmark": False,
}
PREVIEW_EXAMPLES = 5


class TaskFileInvalid(Exception):
    """The uploaded CSV breaks the contest's format; ``report`` says where."""

    def __init__(self, report: TaskFileReport):
        super().__init__("; ".join(report.lines()))
        self.report = report


class SubcategoryInvalid(TaskFileInvalid):
    """The file is valid, but the column named as the subcategory cannot be one; ``report`` says why."""


class NothingChanged(Exception):
    """An edit with the current version's file, metric and answers: it would make an identical version."""

    def __init__(self, *, version: SubmissionVersion):
        super().__init__(
            f"Nothing changed since version {version.number}: change an answer or upload a new file "
            "to save a new version."
        )
        self.version = version


@dataclass(frozen=True)
class TaskUpload:
    name: str
    data: bytes


def ensure_may_submit(*, user: AbstractBaseUser, round: Round) -> None:
    """Raise PermissionDenied with the reason when the user may not submit to this round now."""
    if has_role(user, Role.REVIEWER):
        raise PermissionDenied(
            "Reviewers cannot submit tasks to the contest (the rules forbid it). "
            "If you want to compete, ask an organizer to remove your reviewer role first."
        )
    if not has_role(user, Role.CONTESTANT) or team_of(user) is None:
        raise PermissionDenied("Only contestants in a team can submit tasks.")
    ensure_round_open(round=round)


def ensure_may_start_submission(*, user: AbstractBaseUser, round: Round) -> None:
    """Like ensure_may_submit, for a new submission: the round's limit per team also applies."""
    ensure_may_submit(user=user, round=round)
    ensure_team_below_limit(team=team_of(user), round=round)


def ensure_team_below_limit(*, team: Team, round: Round) -> None:
    limit = round.max_submissions_per_team
    if limit is None:
        return
    count = Submission.objects.filter(team=team, round=round).count()
    if count >= limit:
        raise PermissionDenied(
            f"{round.name} accepts at most {limit} submission{pluralize(limit)} per team, and {team.name} has "
            f"{count} already. Edit one of them instead: each edit saves a new version."
        )


def ensure_round_open(*, round: Round) -> None:
    now = timezone.now()
    if not round.has_opened(now):
        raise PermissionDenied(f"{round.name} opens on {_when(round.opens_at)}.")
    if round.has_closed(now):
        raise PermissionDenied(
            f"{round.name} closed on {_when(round.closes_at)} ({round.deadline:%B %-d, %Y} Anywhere on Earth); "
            "it accepts no new submissions or edits."
        )


def _when(moment) -> str:
    return (
        formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
        + f" {timezone.get_current_timezone_name()}"
    )


def validate_task_upload(
    *, data: bytes, filename: str, metric: str, round: Round, subcategory_column: str = ""
) -> TaskFileReport:
    return read_task_file(
        data,
        metric=metric,
        min_examples=round.min_examples,
        subsample_cap=round.subsample_cap,
        filename=filename,
        subcategory_column=subcategory_column,
    )


def store_task_file(data: bytes, *, sha256: str) -> str:
    """Store the bytes under their sha256. The same bytes always land in the same file, written once."""
    name = task_file_name(sha256)
    if not default_storage.exists(name):
        stored = default_storage.save(name, ContentFile(data))
        if stored != name:  # another request stored the same bytes a moment ago
            default_storage.delete(stored)
    return name


def _changes(*, previous: SubmissionVersion | None, answers: dict, sha256: str) -> dict:
    """What a new version with these answers and file changes from ``previous`` (see SubmissionVersion.changes);
    empty when it changes nothing."""
    if previous is None:
        return {"first": True}
    changes = {}
    if sha256 != previous.sha256:
        changes["file"] = True
    if answers["metric"] != previous.metric:
        changes["metric"] = [previous.metric, answers["metric"]]
    changed = [f for f in ANSWER_FIELDS if f != "metric" and answers[f] != getattr(previous, f)]
    if changed:
        changes["answers"] = changed
    return changes


def _ensure_something_changed(*, previous: SubmissionVersion | None, answers: dict, sha256: str) -> dict:
    changes = _changes(previous=previous, answers=answers, sha256=sha256)
    if not changes:
        raise NothingChanged(version=previous)
    return changes


def preview_of(report: TaskFileReport) -> list[dict]:
    head = report.examples.head(PREVIEW_EXAMPLES)
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
        for rec in head.to_dict("records")
    ]


def submit_task(
    *,
    user: AbstractBaseUser,
    round: Round,
    answers: dict,
    upload: TaskUpload | None,
    submission: Submission | None = None,
) -> SubmissionVersion:
    """Create a submission (or a new version of ``submission``) from the form's answers and a CSV.

    Without a new upload, a new version keeps the current version's file, re-validated for the chosen metric.
    An edit that changes neither the file, the metric nor any answer raises NothingChanged and saves nothing.
    The optional answers (OPTIONAL_ANSWERS) may be left out of ``answers``; a subcategory column that the file
    lacks or that names too many values raises SubcategoryInvalid.
    The file is validated, hashed and stored before any transaction begins: checking a large file takes seconds,
    and on the embedded SQLite a transaction holds the one write lock that every other request waits for.
    """
    answers = {**OPTIONAL_ANSWERS, **answers}
    answers["subcategory_column"] = answers["subcategory_column"].strip()
    if submission is None:
        ensure_may_start_submission(user=user, round=round)
    else:
        ensure_may_submit(user=user, round=round)
        _ensure_team_may_edit(user=user, submission=submission, round=round)
    if upload is None:
        if submission is None:
            raise TaskFileInvalid(
                TaskFileReport(
                    errors=[Problem("choose the CSV file of your task")],
                    warnings=[],
                    n_examples=0,
                    examples=None,
                )
            )
        current = submission.current_version
        with current.task_file.open("rb") as f:
            upload = TaskUpload(name=current.original_filename, data=f.read())
    sha256 = hashlib.sha256(upload.data).hexdigest()
    if submission is not None:
        # Before the file's validation, which takes seconds; checked again below on the locked submission.
        _ensure_something_changed(previous=submission.current_version, answers=answers, sha256=sha256)

    report = validate_task_upload(
        data=upload.data,
        filename=upload.name,
        metric=answers["metric"],
        round=round,
        subcategory_column=answers["subcategory_column"],
    )
    if report.errors:
        raise TaskFileInvalid(report)
    if report.subcategory_errors:
        raise SubcategoryInvalid(report)
    file_name = store_task_file(upload.data, sha256=sha256)

    with transaction.atomic():
        ensure_round_open(round=round)  # the deadline may have passed while the file was being checked
        if submission is None:
            # Locking the team makes two new submissions at once count each other against the limit.
            team = Team.objects.select_for_update().get(pk=team_of(user).pk)
            ensure_team_below_limit(team=team, round=round)
            submission = Submission.objects.create(round=round, team=team, created_by=user)
        else:
            submission = Submission.objects.select_for_update().get(pk=submission.pk)
            ensure_not_withdrawn(submission=submission)  # a teammate may have withdrawn it meanwhile
        # A teammate may have saved a version meanwhile: compare with the current one under the lock.
        changes = _ensure_something_changed(
            previous=submission.current_version, answers=answers, sha256=sha256
        )
        number = (submission.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = SubmissionVersion.objects.create(
            submission=submission,
            number=number,
            created_by=user,
            task_file=file_name,
            original_filename=upload.name[:255],
            sha256=sha256,
            size_bytes=len(upload.data),
            example_count=report.n_examples,
            validation_warnings=[str(w) for w in report.warnings],
            preview=preview_of(report),
            changes=changes,
            **{field: answers[field] for field in ANSWER_FIELDS},
        )
        submission.current_version = version
        submission.save(update_fields=["current_version"])
        transaction.on_commit(partial(_send_receipt, version.pk))
        version_created.send(sender=SubmissionVersion, version=version)
    logger.info(
        "task version stored",
        extra={
            "submission": submission.pk,
            "version": number,
            "sha256": sha256,
            "examples": report.n_examples,
        },
    )
    return version


def _send_receipt(version_id: int) -> None:
    """After commit: the version is saved, so a broker that does not answer (a Redis restart) must not turn the
    page into an error (nor keep the hooks after this one, which send its runs, from running). The receipt is
    then not sent; the error is logged."""
    try:
        send_submission_receipt_task.delay(version_id)
    except BrokerUnreachable:
        logger.exception(
            "submission receipt not sent: the broker does not answer", extra={"version": version_id}
        )


def _ensure_team_may_edit(*, user: AbstractBaseUser, submission: Submission, round: Round) -> None:
    if submission.team_id != team_of(user).pk:
        raise PermissionDenied("Only members of the submitting team can edit this submission.")
    if submission.round_id != round.pk:
        raise PermissionDenied("A submission stays in its round.")
    ensure_not_withdrawn(submission=submission)


def ensure_not_withdrawn(*, submission: Submission) -> None:
    """Raise PermissionDenied with the reason when the submission is withdrawn (it can no longer be edited)."""
    if submission.withdrawn_at is not None:
        raise PermissionDenied(
            f"This submission was withdrawn on {_when(submission.withdrawn_at)}, so it can no longer be edited. "
            "Undo the withdrawal first (possible until the round's deadline)."
        )


def _ensure_team_member(*, user: AbstractBaseUser, submission: Submission, action: str) -> None:
    team = team_of(user)
    if team is None or team.pk != submission.team_id:
        raise PermissionDenied(f"Only members of the submitting team can {action} this submission.")


def _ensure_before_deadline(*, round: Round, action: str) -> None:
    if round.has_closed():
        raise PermissionDenied(
            f"{round.name} closed on {_when(round.closes_at)} ({round.deadline:%B %-d, %Y} Anywhere on Earth): "
            f"a submission can no longer be {action} after the deadline."
        )


def ensure_may_withdraw(*, user: AbstractBaseUser, submission: Submission) -> None:
    """Raise PermissionDenied with the reason when the user may not withdraw the submission now."""
    _ensure_team_member(user=user, submission=submission, action="withdraw")
    if submission.withdrawn_at is not None:
        raise PermissionDenied(f"This submission was already withdrawn on {_when(submission.withdrawn_at)}.")
    _ensure_before_deadline(round=submission.round, action="withdrawn")


def withdraw_submission(*, user: AbstractBaseUser, submission: Submission, reason: str = "") -> Submission:
    """A team member withdraws the submission before its round's deadline. Nothing is deleted: the submission
    and its versions stay, marked withdrawn with who, when and why; the first withdrawal's record is kept when
    two teammates withdraw at once (compare-and-set on ``withdrawn_at``)."""
    ensure_may_withdraw(user=user, submission=submission)
    withdrawn = Submission.objects.filter(pk=submission.pk, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now(), withdrawn_by=user, withdrawal_reason=reason.strip()
    )
    submission.refresh_from_db(fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    if withdrawn:
        logger.info("submission withdrawn", extra={"submission": submission.pk, "user": user.pk})
    return submission


def reinstate_submission(*, user: AbstractBaseUser, submission: Submission) -> Submission:
    """Undo a withdrawal, before the round's deadline: the submission is back as it was (its queued runs are
    sent to the workers again by the sweeper). The withdrawal is kept in the log, not on the submission."""
    _ensure_team_member(user=user, submission=submission, action="reinstate")
    if submission.withdrawn_at is None:
        raise PermissionDenied("This submission is not withdrawn.")
    _ensure_before_deadline(round=submission.round, action="reinstated")
    reinstated = Submission.objects.filter(pk=submission.pk, withdrawn_at__isnull=False).update(
        withdrawn_at=None, withdrawn_by=None, withdrawal_reason=""
    )
    if reinstated:
        logger.info(
            "submission withdrawal undone",
            extra={
                "submission": submission.pk,
                "user": user.pk,
                "withdrawn_at": submission.withdrawn_at.isoformat(),
                "withdrawn_by": submission.withdrawn_by_id,
            },
        )
    submission.refresh_from_db(fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
    return submission


def ask_team_to_choose(
    *, round: Round, team: Team, keep_at_most: int, note: str, by: AbstractBaseUser
) -> KeepRequest:
    """An organizer asks a team to choose which of its submissions to the round to keep. Asking again replaces
    the question and clears the team's earlier choice."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers can ask a team to choose its submissions.")
    if keep_at_most < 1:
        raise ValidationError({"keep_at_most": "A team keeps at least one submission."})
    if not Submission.objects.filter(round=round, team=team).exists():
        raise ValidationError({"team": f"{team.name} has no submission in {round.name}."})
    with transaction.atomic():
        request, _ = KeepRequest.objects.update_or_create(
            round=round,
            team=team,
            defaults={
                "keep_at_most": keep_at_most,
                "note": note,
                "requested_by": by,
                "requested_at": timezone.now(),
                "chosen_by": None,
                "chosen_at": None,
            },
        )
        request.kept.clear()
    logger.info("team asked to choose", extra={"round": round.pk, "team": team.pk, "keep": keep_at_most})
    return request


def choose_submissions_to_keep(
    *, request: KeepRequest, user: AbstractBaseUser, submission_ids: list[int]
) -> KeepRequest:
    """A member of the team marks the submissions it keeps (one at least, at most ``keep_at_most``); the team's
    other submissions to the round are not kept. The team may change its choice until it is asked again."""
    team = team_of(user)
    if team is None or team.pk != request.team_id:
        raise PermissionDenied("Only members of the team choose which of its submissions to keep.")
    chosen = list(
        Submission.objects.filter(round=request.round_id, team=request.team_id, pk__in=submission_ids)
    )
    if not chosen or len(chosen) != len(set(submission_ids)):
        raise ValidationError({"kept": "Choose at least one of your team's submissions to this round."})
    if len(chosen) > request.keep_at_most:
        raise ValidationError({"kept": f"Keep at most {request.keep_at_most}; you chose {len(chosen)}."})
    with transaction.atomic():
        request.kept.set(chosen)
        request.chosen_by = user
        request.chosen_at = timezone.now()
        request.save(update_fields=["chosen_by", "chosen_at"])
    logger.info("team chose", extra={"request": request.pk, "kept": [s.pk for s in chosen]})
    return request


ROUND_FIELDS = ("name", "deadline", "review_deadline", "feedback_date", "max_submissions_per_team")


def save_round(*, round: Round | None, opens: dt.date, by: AbstractBaseUser, **fields) -> Round:
    """Create a round (``round`` None) or change one. Every date is a day Anywhere on Earth: the round opens at
    its first instant (00:00 UTC−12) and closes at its deadline's last. The dates must follow one another."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers can create or change rounds.")
    unknown = set(fields) - set(ROUND_FIELDS)
    if unknown:
        raise TypeError(f"not a round field: {sorted(unknown)}")
    problems = {}
    if fields["deadline"] < opens:
        problems["deadline"] = "The submission deadline comes on or after the day the round opens."
    for later in ("review_deadline", "feedback_date"):
        if fields.get(later) and fields[later] < fields["deadline"]:
            problems[later] = "This comes on or after the submission deadline."
    if (
        fields.get("review_deadline")
        and fields.get("feedback_date")
        and (fields["feedback_date"] < fields["review_deadline"])
    ):
        problems["feedback_date"] = "Feedback is returned on or after the review deadline."
    if problems:
        raise ValidationError(problems)
    round = round or Round()
    round.opens_at = dt.datetime.combine(opens, dt.time(0, 0), tzinfo=ANYWHERE_ON_EARTH)
    for name, value in fields.items():
        setattr(round, name, value)
    round.save()
    logger.info("round saved", extra={"round": round.pk, "by": by.pk})
    return round
