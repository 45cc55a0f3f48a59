from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.selectors import is_organizer, team_of
from submissions.models import Round, Submission, SubmissionVersion
from submissions.taskfile import read_task_file


def _with_current(qs: QuerySet[Submission], *, public_runs_only: bool) -> QuerySet[Submission]:
    """With the number of versions and the evaluation progress of the current version (distinct counts, so the
    two joins do not multiply each other)."""
    runs = Q(current_version__runs__model__series__visibility="public") if public_runs_only else Q()
    return qs.select_related("round", "team", "current_version").annotate(
        version_count=Count("versions", distinct=True),
        run_count=Count("current_version__runs", filter=runs, distinct=True),
        runs_succeeded=Count(
            "current_version__runs", filter=runs & Q(current_version__runs__status="succeeded"), distinct=True
        ),
        runs_failed=Count(
            "current_version__runs", filter=runs & Q(current_version__runs__status="failed"), distinct=True
        ),
    )


def team_submissions_by_round(*, user: AbstractBaseUser) -> list[tuple[Round, list[Submission]]]:
    """Every round, each with the submissions of the user's team in it (rounds without any included)."""
    team = team_of(user)
    subs = (
        _with_current(Submission.objects.filter(team=team), public_runs_only=True)
        if team
        else Submission.objects.none()
    )
    rounds = Round.objects.prefetch_related(
        Prefetch("submissions", queryset=subs, to_attr="team_submissions")
    )
    return [(r, r.team_submissions) for r in rounds]


def all_submissions_by_round() -> list[tuple[Round, list[Submission]]]:
    subs = _with_current(Submission.objects.all(), public_runs_only=False)
    rounds = Round.objects.prefetch_related(Prefetch("submissions", queryset=subs, to_attr="all_submissions"))
    return [(r, r.all_submissions) for r in rounds]


def submissions_visible_to(user: AbstractBaseUser) -> QuerySet[Submission]:
    """Organizers see every submission; contestants their team's; reviewers those assigned to them."""
    if is_organizer(user):
        return Submission.objects.all()
    if not user.is_authenticated:
        return Submission.objects.none()
    team = team_of(user)
    own = Q(team=team) if team else Q(pk__in=[])
    return Submission.objects.filter(own | Q(assignments__reviewer=user)).distinct()


def is_blind_to(user: AbstractBaseUser, submission: Submission) -> bool:
    """Reviewers (and anyone else outside the team who is no organizer) must not see who submitted."""
    team = team_of(user)
    return not is_organizer(user) and (team is None or team.pk != submission.team_id)


def can_edit(*, user: AbstractBaseUser, submission: Submission) -> bool:
    team = team_of(user)
    return team is not None and submission.team_id == team.pk and submission.round.is_open()


def versions_of(submission: Submission) -> QuerySet[SubmissionVersion]:
    return submission.versions.select_related("created_by").order_by("-number")


def version_examples(version: SubmissionVersion):
    """The stored file's examples, as the validator reads them (a DataFrame with a ``row`` column).

    The file was valid when submitted; should a later change of the rules reject it, say so rather than guess.
    """
    with version.task_file.open("rb") as f:
        report = read_task_file(
            f.read(), metric=version.metric, min_examples=0, filename=version.original_filename
        )
    if not report.ok:
        raise ValueError("; ".join(report.lines()))
    return report.examples
