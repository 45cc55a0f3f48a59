from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from accounts.selectors import is_organizer, team_of
from submissions.models import Round, Submission, SubmissionVersion


def rounds_accepting(now=None) -> list[Round]:
    now = now or timezone.now()
    return [r for r in Round.objects.all() if r.is_open(now)]


def _with_current(qs: QuerySet[Submission]) -> QuerySet[Submission]:
    return qs.select_related("round", "team", "current_version").annotate(version_count=Count("versions"))


def team_submissions_by_round(*, user: AbstractBaseUser) -> list[tuple[Round, list[Submission]]]:
    """Every round, each with the submissions of the user's team in it (rounds without any included)."""
    team = team_of(user)
    subs = _with_current(Submission.objects.filter(team=team)) if team else Submission.objects.none()
    rounds = Round.objects.prefetch_related(
        Prefetch("submissions", queryset=subs, to_attr="team_submissions")
    )
    return [(r, r.team_submissions) for r in rounds]


def all_submissions_by_round() -> list[tuple[Round, list[Submission]]]:
    subs = _with_current(Submission.objects.all())
    rounds = Round.objects.prefetch_related(Prefetch("submissions", queryset=subs, to_attr="all_submissions"))
    return [(r, r.all_submissions) for r in rounds]


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Organizers see every submission; contestants their team's. Reviewers see theirs through assignments."""
    if is_organizer(user):
        return Submission.objects.all()
    team = team_of(user)
    return Submission.objects.filter(team=team) if team else Submission.objects.none()


def can_edit(*, user: AbstractBaseUser, submission: Submission) -> bool:
    team = team_of(user)
    return team is not None and submission.team_id == team.pk and submission.round.is_open()


def versions_of(submission: Submission) -> QuerySet[SubmissionVersion]:
    return submission.versions.select_related("created_by").order_by("-number")
