from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from accounts.selectors import is_organizer
from reviews.models import Assignment, DiscussionPost, Review, SpotCheck
from submissions.selectors import LISTS_SKIP


def assignments_of(reviewer: AbstractBaseUser) -> list[Assignment]:
    """The reviewer's assignments with their review (if started), in two queries whatever their number."""
    return list(
        Assignment.objects.filter(reviewer=reviewer)
        .select_related("submission__round", "submission__current_version", "review")
        .defer(*(f"submission__{name}" for name in LISTS_SKIP))
        .order_by("submission__round__deadline", "submission__round_id", "assigned_at", "pk")
    )


def review_status(assignment: Assignment) -> str:
    """not started, draft or submitted: what the reviewer's dashboard says of an assignment."""
    review = getattr(assignment, "review", None)
    if review is None:
        return "not started"
    return "submitted" if review.is_locked else "draft"


def assigned_to(user: AbstractBaseUser) -> Q:
    """The submissions assigned to ``user`` for review, as a filter on submissions."""
    return Q(assignments__reviewer=user)


def versions_since(review: Review | None, versions) -> list:
    """The submission's versions newer than the one the review was made on, oldest first (what changed since)."""
    if review is None:
        return []
    reviewed = review.version.number
    return sorted((v for v in versions if v.number > reviewed), key=lambda v: v.number)


def reviewer_labels(submission_id: int) -> dict[int, str]:
    """Reviewer id → "Reviewer 1", "Reviewer 2"… in the order they were assigned: how reviewers are named to
    each other (organizers see names)."""
    ids = Assignment.objects.filter(submission_id=submission_id).order_by("assigned_at", "pk")
    return {rid: f"Reviewer {n}" for n, rid in enumerate(ids.values_list("reviewer_id", flat=True), start=1)}


def discussion_of(submission_id: int) -> list[DiscussionPost]:
    return list(DiscussionPost.objects.filter(submission_id=submission_id).select_related("author"))


def assignments_of_submission(submission_id: int) -> list[Assignment]:
    """A submission's assignments with their reviews, for organizers (who is assigned, who has not started)."""
    return list(
        Assignment.objects.filter(submission_id=submission_id)
        .select_related("reviewer", "review__rubric", "review__version")
        .prefetch_related("review__unlocks__unlocked_by")
        .order_by("assigned_at", "pk")
    )


def discussion_for(*, viewer: AbstractBaseUser, submission_id: int) -> list[DiscussionPost]:
    """The discussion with each author named as this viewer may know them: reviewers see "Reviewer 2" and
    "Organizer", organizers see user names."""
    labels = reviewer_labels(submission_id)
    organizer_view = is_organizer(viewer)
    posts = discussion_of(submission_id)
    for post in posts:
        if post.author_id == viewer.pk:
            post.author_label = "You"
        elif organizer_view:
            post.author_label = f"{post.author.get_username()} ({labels.get(post.author_id, 'organizer')})"
        else:
            post.author_label = labels.get(post.author_id, "Organizer")
    return posts


def other_reviews(review: Review) -> list[Review]:
    """The other submitted reviews of the same submission, each with its reviewer's label (not their name)."""
    labels = reviewer_labels(review.assignment.submission_id)
    others = list(
        Review.objects.filter(
            assignment__submission_id=review.assignment.submission_id, status=Review.Status.SUBMITTED
        )
        .exclude(pk=review.pk)
        .select_related("assignment", "rubric", "version")
        .order_by("assignment__assigned_at", "pk")
    )
    for other in others:
        other.label = labels[other.assignment.reviewer_id]
    return others


@dataclass(frozen=True)
class SpotCheckSummary:
    total: int
    labelled: int
    agreed: int
    disagreements: list

    @property
    def done(self) -> bool:
        return self.total > 0 and self.labelled == self.total

    @property
    def agreement_percent(self) -> int:
        return round(100 * self.agreed / self.labelled) if self.labelled else 0


def summarize_spot_checks(checks) -> SpotCheckSummary:
    labelled = [c for c in checks if c.label is not None]
    return SpotCheckSummary(
        total=len(checks),
        labelled=len(labelled),
        agreed=sum(1 for c in labelled if c.agrees),
        disagreements=[c for c in labelled if not c.agrees],
    )


def spot_checks_of_submission(submission) -> dict[int, SpotCheckSummary]:
    """Assignment id → the summary of its reviewer's spot-check on the current version, in one query."""
    by_assignment: dict[int, list] = {}
    for check in SpotCheck.objects.filter(
        assignment__submission=submission, version_id=submission.current_version_id
    ):
        by_assignment.setdefault(check.assignment_id, []).append(check)
    return {pk: summarize_spot_checks(checks) for pk, checks in by_assignment.items()}
