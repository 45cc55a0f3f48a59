import random
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Role
from accounts.selectors import has_role, is_organizer
from contest import rubric
from reviews.models import Assignment, DiscussionPost, Review, ReviewUnlock, Rubric, SpotCheck, Tier
from submissions.selectors import version_examples


def check_assignment(*, submission, reviewer: AbstractBaseUser) -> None:
    """Raise ValidationError when the reviewer may not review this submission."""
    if not has_role(reviewer, Role.REVIEWER):
        raise ValidationError({"reviewer": f"{reviewer.get_username()} is not a reviewer."})
    if Membership.objects.filter(user=reviewer, team_id=submission.team_id).exists():
        raise ValidationError(
            {"reviewer": f"{reviewer.get_username()} is in the submitting team: a conflict of interest."}
        )


def assign_reviewer(*, submission, reviewer: AbstractBaseUser, by: AbstractBaseUser) -> Assignment:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers assign reviewers.")
    check_assignment(submission=submission, reviewer=reviewer)
    assignment, _ = Assignment.objects.get_or_create(
        submission=submission, reviewer=reviewer, defaults={"assigned_by": by}
    )
    return assignment


class ReviewLocked(PermissionDenied):
    """The review is submitted: it changes only after an organizer unlocks it."""


class IncompleteReview(ValidationError):
    """Submitting needs a level per criterion and a suggested tier; the draft was saved all the same."""

    def __init__(self, missing: dict[str, str], *, review: Review):
        super().__init__(missing)
        self.review = review


def current_rubric() -> Rubric:
    """The rubric new reviews use: the newest version, the 2022 wording (version 1) until an organizer adds one."""
    newest = Rubric.objects.order_by("-version").first()
    return newest or Rubric.objects.get_or_create(version=1)[0]


@transaction.atomic
def add_rubric_version(*, criteria: list[dict], note: str, by: AbstractBaseUser) -> Rubric:
    """A new wording for reviews started from now on; reviews already started keep theirs."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers change the rubric.")
    if problems := rubric.criteria_problems(criteria):
        raise ValidationError({"criteria": problems})
    newest = Rubric.objects.select_for_update().order_by("-version").first()
    return Rubric.objects.create(
        version=(newest.version if newest else 0) + 1, criteria=criteria, note=note, created_by=by
    )


def review_of(*, assignment: Assignment) -> Review | None:
    return Review.objects.filter(assignment=assignment).select_related("rubric", "version").first()


def _ensure_reviewer(assignment: Assignment, user: AbstractBaseUser) -> None:
    if assignment.reviewer_id != user.pk:
        raise PermissionDenied("Only the assigned reviewer writes this review.")


@dataclass(frozen=True)
class ReviewAnswers:
    """What the review form holds; every part may be empty in a draft."""

    levels: dict[str, str] = field(default_factory=dict)
    criterion_comments: dict[str, str] = field(default_factory=dict)
    comment_for_authors: str = ""
    confidential_comment: str = ""
    suggested_tier: str = ""


def _missing_for_submission(answers: ReviewAnswers, criteria: list[dict]) -> dict[str, str]:
    missing = {
        f"level_{c['key']}": f"Choose a level for {c['name']}."
        for c in criteria
        if not answers.levels.get(c["key"])
    }
    if not answers.suggested_tier:
        missing["suggested_tier"] = "Suggest a tier."
    return missing


def save_review(
    *, assignment: Assignment, user: AbstractBaseUser, answers: ReviewAnswers, submit: bool = False
) -> Review:
    """Save the reviewer's draft, then, with ``submit``, lock it once every criterion has a level and a tier
    is suggested. The draft is saved even when submitting is refused (``IncompleteReview``): nothing typed is
    lost. A submitted review refuses every change (``ReviewLocked``).

    The review records the submission's current version each time the draft is saved: the version judged is the
    one on the reviewer's screen.
    """
    review = _save_draft(assignment=assignment, user=user, answers=answers)
    if not submit:
        return review
    if missing := _missing_for_submission(_answers_of(review), review.rubric.criteria):
        raise IncompleteReview(missing, review=review)
    now = timezone.now()
    if not Review.objects.filter(pk=review.pk, status=Review.Status.DRAFT).update(
        status=Review.Status.SUBMITTED, submitted_at=now
    ):
        raise ReviewLocked("This review is submitted and locked; an organizer can unlock it.")
    review.status, review.submitted_at = Review.Status.SUBMITTED, now
    return review


def _answers_of(review: Review) -> ReviewAnswers:
    return ReviewAnswers(
        levels=review.levels,
        criterion_comments=review.criterion_comments,
        comment_for_authors=review.comment_for_authors,
        confidential_comment=review.confidential_comment,
        suggested_tier=review.suggested_tier,
    )


@transaction.atomic
def _save_draft(*, assignment: Assignment, user: AbstractBaseUser, answers: ReviewAnswers) -> Review:
    _ensure_reviewer(assignment, user)
    assignment = Assignment.objects.select_for_update().select_related("submission").get(pk=assignment.pk)
    review = Review.objects.select_for_update().select_related("rubric").filter(assignment=assignment).first()
    if review and review.is_locked:
        raise ReviewLocked("This review is submitted and locked; an organizer can unlock it.")
    if review is None:
        review = Review(assignment=assignment, rubric=current_rubric())
    keys = {c["key"] for c in review.rubric.criteria}
    review.levels = {k: v for k, v in answers.levels.items() if k in keys and v in rubric.LEVELS}
    review.criterion_comments = {
        k: v for k, v in answers.criterion_comments.items() if k in keys and v.strip()
    }
    review.comment_for_authors = answers.comment_for_authors
    review.confidential_comment = answers.confidential_comment
    review.suggested_tier = answers.suggested_tier if answers.suggested_tier in Tier.values else ""
    review.version_id = assignment.submission.current_version_id
    review.updated_at = timezone.now()
    review.save()
    return review


@transaction.atomic
def unlock_review(*, review: Review, by: AbstractBaseUser, reason: str) -> Review:
    """Reopen a submitted review for its reviewer; the unlock is recorded with who, when and why."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers unlock a submitted review.")
    if not reason.strip():
        raise ValidationError(
            {"reason": "Say why the review is unlocked; the reviewer and the record see it."}
        )
    review = Review.objects.select_for_update().get(pk=review.pk)
    if not review.is_locked:
        raise ValidationError({"reason": "This review is not submitted; there is nothing to unlock."})
    review.status = Review.Status.DRAFT
    review.submitted_at = None
    review.save(update_fields=["status", "submitted_at"])
    ReviewUnlock.objects.create(review=review, unlocked_by=by, reason=reason.strip())
    return review


DISCUSSION_LIMIT = 10_000


def may_discuss(*, user: AbstractBaseUser, submission_id: int) -> bool:
    """Organizers, and the submission's reviewers once their own review is submitted (so that nobody's judgement
    is shaped by the others' before it is made)."""
    if is_organizer(user):
        return True
    return Review.objects.filter(
        assignment__submission_id=submission_id, assignment__reviewer=user, status=Review.Status.SUBMITTED
    ).exists()


def post_to_discussion(*, submission_id: int, author: AbstractBaseUser, body: str) -> DiscussionPost:
    if not may_discuss(user=author, submission_id=submission_id):
        raise PermissionDenied("Submit your review first: the discussion opens to you then.")
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something to post."})
    if len(body) > DISCUSSION_LIMIT:
        raise ValidationError(
            {"body": f"Keep a post under {DISCUSSION_LIMIT:,} characters (this one has {len(body):,})."}
        )
    return DiscussionPost.objects.create(submission_id=submission_id, author=author, body=body)


SHOWN_TEXT = (
    20_000  # characters of a text kept with a spot check; the page loads a longer one whole on demand
)


def _shown(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT]


def spot_check_sample(*, assignment: Assignment, size: int | None = None) -> list[SpotCheck]:
    """The examples this reviewer labels on the submission's current version: ``size`` of them (the setting
    SPOT_CHECK_SIZE, 20 by default), drawn with a seed made of the reviewer and the version, so a reload, or
    another worker, draws the same ones. Drawn once; later calls return them."""
    size = size or settings.SPOT_CHECK_SIZE
    version = assignment.submission.current_version
    drawn = list(SpotCheck.objects.filter(assignment=assignment, version=version))
    if drawn:
        return drawn
    examples = version_examples(version)
    rows = sorted(int(r) for r in examples["row"])
    chosen = set(
        random.Random(f"spot-check:{assignment.reviewer_id}:{version.pk}").sample(rows, min(size, len(rows)))
    )
    checks = []
    for record in examples[examples["row"].isin(chosen)].to_dict("records"):
        shown = {
            name: _shown(record[name]) for name in ("prompt", "other_prompt", "completion") if name in record
        }
        if "classes" in record:
            shown["classes"] = [_shown(c) for c in record["classes"]]
        answer = record.get("answer_index")
        checks.append(
            SpotCheck(
                assignment=assignment,
                version=version,
                row=int(record["row"]),
                example=shown,
                answer=None if answer is None else int(answer),
            )
        )
    SpotCheck.objects.bulk_create(
        checks, ignore_conflicts=True
    )  # two tabs drawing at once draw the same rows
    return list(SpotCheck.objects.filter(assignment=assignment, version=version))


class SpotCheckDone(PermissionDenied):
    """Every example is labelled and the agreement shown: the labels no longer change."""


@transaction.atomic
def label_spot_checks(
    *, assignment: Assignment, user: AbstractBaseUser, labels: dict[int, int]
) -> list[SpotCheck]:
    """Record the reviewer's labels (row → class index, or 1/0 for a completion judged right/wrong). Labels may
    come a few at a time; once every example is labelled the answers are revealed and the labels are final."""
    _ensure_reviewer(assignment, user)
    checks = list(
        SpotCheck.objects.select_for_update().filter(
            assignment=assignment, version_id=assignment.submission.current_version_id
        )
    )
    if checks and all(c.label is not None for c in checks):
        raise SpotCheckDone("The spot-check is complete; its labels are final.")
    now = timezone.now()
    for check in checks:
        label = labels.get(check.row)
        if label is None:
            continue
        choices = len(check.example.get("classes", ())) if check.answer is not None else 2
        if not 0 <= label < choices:
            raise ValidationError(
                {f"row_{check.row}": f"Row {check.row}: choose one of the {choices} options."}
            )
        check.label, check.labelled_at = label, now
    SpotCheck.objects.bulk_update(checks, ["label", "labelled_at"])
    return checks
