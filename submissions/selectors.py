from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from accounts.selectors import is_organizer, team_of
from config import rows
from submissions.models import KeepRequest, Round, Submission, SubmissionVersion
from submissions.taskfile import read_task_file

# Who reviews a submission is decided above this app (reviews registers its rule in its AppConfig.ready), so
# submissions lets reviewers read what they review without importing the app that assigns them.
_review_access: list[Callable[[AbstractBaseUser], Q]] = []


def register_review_access(rule: Callable[[AbstractBaseUser], Q]) -> None:
    """``rule(user)`` is a filter on submissions that ``user`` reads as a reviewer (blind, every series)."""
    if rule not in _review_access:
        _review_access.append(rule)


def _reviewed_by(user: AbstractBaseUser) -> Q:
    """What ``user`` reviews: a withdrawn submission is no longer reviewed, whatever the assignments say."""
    granted = Q(pk__in=[])
    for rule in _review_access:
        granted |= rule(user)
    return granted & Q(withdrawn_at__isnull=True)


# What a list of submissions never shows of their current version: the long answers and the stored preview,
# which can be large (a preview holds whole prompts).
LISTS_SKIP = tuple(
    f"current_version__{name}"
    for name in (
        "authors",
        "description",
        "importance",
        "expected_inverse_scaling",
        "data_generation",
        "annotator_expertise",
        "few_shot",
        "fine_tuning",
        "rlhf",
        "preview",
        "validation_warnings",
    )
)


def team_submissions(*, user: AbstractBaseUser) -> QuerySet[Submission]:
    team = team_of(user)
    return Submission.objects.filter(team=team) if team else Submission.objects.none()


@dataclass
class RoundListing:
    round: Round
    latest: list[Submission]  # the most recently changed first
    total: int


def latest_by_round(submissions: QuerySet[Submission], *, per_round: int) -> list[RoundListing]:
    """Every round (those without submissions included) with the ``per_round`` submissions of ``submissions``
    changed last (their current version and number of versions) and how many it has in all: a round of thousands
    lists a screenful. Two queries, and one per round with submissions."""
    counted = Submission.objects.filter(pk__in=submissions.order_by().values("pk"))  # whatever it annotates
    totals = dict(counted.order_by().values_list("round").annotate(n=Count("pk")))
    subs = (
        submissions.select_related("round", "team", "current_version")
        .defer(*LISTS_SKIP)
        .annotate(version_count=Count("versions", distinct=True))
        .order_by("-current_version__created_at", "-pk")
    )
    return [
        RoundListing(
            round=round,
            latest=list(subs.filter(round=round)[:per_round]) if totals.get(round.pk) else [],
            total=totals.get(round.pk, 0),
        )
        for round in Round.objects.all()
    ]


def by_round(submissions: QuerySet[Submission]) -> list[tuple[Round, list[Submission]]]:
    """Every round (those without submissions included), each with its submissions from ``submissions`` with
    their current version and number of versions: two queries in all."""
    subs = (
        submissions.select_related("round", "team", "current_version")
        .defer(*LISTS_SKIP)
        .annotate(version_count=Count("versions", distinct=True))
    )
    rounds = Round.objects.prefetch_related(Prefetch("submissions", queryset=subs, to_attr="listed"))
    return [(r, r.listed) for r in rounds]


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Organizers see every submission; contestants their team's; reviewers those they review."""
    if is_organizer(user):
        return Submission.objects.all()
    if not user.is_authenticated:
        return Submission.objects.none()
    team = team_of(user)
    own = Q(team=team) if team else Q(pk__in=[])
    return Submission.objects.filter(own | _reviewed_by(user)).distinct()


def visible_submission_or_404(user: AbstractBaseUser, pk: int, *related: str) -> Submission:
    """Submission ``pk`` (with ``related`` read along) where ``user`` may see it, as ``submissions_visible_to``
    says; else Http404, as for one that does not exist. Read by its key, then checked: what the team and the
    organizers see costs one plain query (the filtered one cost more to compile than to run), a reviewer's view
    one more."""
    if not user.is_authenticated:
        raise Http404("No such submission.")
    if related:
        submission = Submission.objects.select_related(*related).filter(pk=pk).first()
    else:  # a page's every view (the version page): its SQL compiled once
        submission = rows.by_key(Submission, pk)
    if submission is None:
        raise Http404("No such submission.")
    if (
        is_organizer(user)
        or is_team_member(user=user, submission=submission)
        or is_reviewer_of(user=user, submission=submission)
    ):
        return submission
    raise Http404("No such submission.")


def is_reviewer_of(*, user: AbstractBaseUser, submission: Submission) -> bool:
    return user.is_authenticated and Submission.objects.filter(_reviewed_by(user), pk=submission.pk).exists()


def is_blind_to(user: AbstractBaseUser, submission: Submission) -> bool:
    """Reviewers (and anyone else outside the team who is no organizer) must not see who submitted."""
    team = team_of(user)
    return not is_organizer(user) and (team is None or team.pk != submission.team_id)


def is_team_member(*, user: AbstractBaseUser, submission: Submission) -> bool:
    team = team_of(user)
    return team is not None and submission.team_id == team.pk


def can_edit(*, user: AbstractBaseUser, submission: Submission) -> bool:
    """Edit, or withdraw: a team member, before the deadline, of a submission that is not withdrawn."""
    return (
        not submission.is_withdrawn
        and is_team_member(user=user, submission=submission)
        and submission.round.is_open()
    )


def can_reinstate(*, user: AbstractBaseUser, submission: Submission) -> bool:
    return (
        submission.is_withdrawn
        and is_team_member(user=user, submission=submission)
        and not submission.round.has_closed()
    )


def versions_of(submission: Submission) -> QuerySet[SubmissionVersion]:
    return submission.versions.select_related("created_by").order_by("-number")


def previous_version(*, version: SubmissionVersion) -> SubmissionVersion | None:
    """The version that was current before ``version`` was saved (None for a submission's first)."""
    return (
        SubmissionVersion.objects.filter(submission=version.submission_id, number__lt=version.number)
        .order_by("-number")
        .first()
    )


class StoredFileInvalid(ValueError):
    """A stored task file that the validator now refuses (the rules changed since it was submitted)."""


def version_examples(version: SubmissionVersion):
    """The stored file's examples, as the validator reads them (a DataFrame with a ``row`` column, and a
    ``subcategory`` column when the version names one).

    The file was valid when submitted; should a later change of the rules reject it, say so rather than guess.
    """
    with version.task_file.open("rb") as f:
        report = read_task_file(
            f.read(),
            metric=version.metric,
            min_examples=0,
            filename=version.original_filename,
            subcategory_column=version.subcategory_column,
        )
    if not report.ok:
        raise StoredFileInvalid("; ".join(report.lines()))
    return report.examples


def keep_requests_of(*, team) -> dict[int, KeepRequest]:
    """The team's requests to choose which submissions to keep, by round id, with what it kept: two queries."""
    if team is None:
        return {}
    requests = KeepRequest.objects.filter(team=team).prefetch_related("kept")
    return {r.round_id: r for r in requests}


def out_of_decisions(*, round_ids) -> set[int]:
    """The ids of the rounds' submissions that no longer compete: withdrawn, or not among those their team chose
    to keep when the organizers asked it to choose. One query, whatever their number."""
    answered = KeepRequest.objects.filter(
        round=OuterRef("round"), team=OuterRef("team"), chosen_at__isnull=False
    )
    kept = KeepRequest.kept.through.objects.filter(
        keeprequest__round=OuterRef("round"), keeprequest__team=OuterRef("team"), submission=OuterRef("pk")
    )
    return set(
        Submission.objects.filter(round_id__in=round_ids)
        .annotate(asked=Exists(answered), kept=Exists(kept))
        .filter(Q(withdrawn_at__isnull=False) | Q(asked=True, kept=False))
        .values_list("pk", flat=True)
    )
