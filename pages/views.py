"""Pages that show several apps at once. Each app's own pages live in the app; these only combine selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import Role
from accounts.selectors import has_role, is_organizer
from evaluation.evidence import version_evidence
from evaluation.selectors import with_evaluation_progress
from reviews import selectors as reviews
from reviews.selectors import assignments_of, review_status
from submissions import selectors
from submissions.models import Round, Submission


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"rounds": Round.objects.all()})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if is_organizer(request.user):
        every = with_evaluation_progress(Submission.objects.all(), public_series_only=False)
        return render(request, "organizer/dashboard.html", {"rounds": selectors.by_round(every)})
    if has_role(request.user, Role.REVIEWER):
        return _reviewer_dashboard(request)
    own = with_evaluation_progress(selectors.team_submissions(user=request.user), public_series_only=True)
    return render(request, "contestant/dashboard.html", {"rounds": selectors.by_round(own)})


@login_required
def submission_detail(request: HttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    submission = get_object_or_404(
        selectors.submissions_visible_to(request.user).select_related("round", "team", "current_version"),
        pk=pk,
    )
    versions = list(selectors.versions_of(submission))
    shown = (
        submission.current_version
        if number is None
        else next((v for v in versions if v.number == number), None)
    )
    if shown is None:
        messages.error(request, f"This submission has no version {number}.")
        return redirect("submission_detail", pk=submission.pk)
    return render(
        request,
        "contestant/submission_detail.html",
        {
            "submission": submission,
            "version": shown,
            "versions": versions,
            "can_edit": selectors.can_edit(user=request.user, submission=submission),
            "blind": selectors.is_blind_to(request.user, submission),
            "evidence": version_evidence(user=request.user, version=shown),
            **(_reviews_for_organizers(request.user, submission) if is_organizer(request.user) else {}),
        },
    )


def _reviews_for_organizers(user, submission: Submission) -> dict:
    assignments = reviews.assignments_of_submission(submission.pk)
    spot_checks = reviews.spot_checks_of_submission(submission)
    for assignment in assignments:
        assignment.spot_check = spot_checks.get(assignment.pk)
    return {
        "assignments": assignments,
        "posts": reviews.discussion_for(viewer=user, submission_id=submission.pk),
    }


REVIEW_SORTS = {
    "round": lambda a: (a.submission.round.deadline, a.submission.round_id, a.assigned_at),
    "task": lambda a: a.submission.current_version.task_name.casefold(),
    "status": lambda a: (("not started", "draft", "submitted").index(a.status), a.assigned_at),
    "assigned": lambda a: a.assigned_at,
}


def _reviewer_dashboard(request: HttpRequest) -> HttpResponse:
    """The reviewer's assignments with their review status and progress; filtered by status and round, sorted
    by any column (in Python: a reviewer has tens of assignments, all read in one query)."""
    assignments = assignments_of(request.user)
    for assignment in assignments:
        assignment.status = review_status(assignment)
    statuses = [a.status for a in assignments]
    rounds = sorted({a.submission.round for a in assignments}, key=lambda r: (r.deadline, r.pk))
    status = request.GET.get("status", "")
    round_id = request.GET.get("round", "")
    sort = request.GET.get("sort", "round")
    shown = [
        a
        for a in assignments
        if (not status or a.status == status) and (not round_id or str(a.submission.round_id) == round_id)
    ]
    shown.sort(key=REVIEW_SORTS.get(sort, REVIEW_SORTS["round"]))
    return render(
        request,
        "reviewer/dashboard.html",
        {
            "assignments": assignments,
            "shown": shown,
            "rounds": rounds,
            "submitted": statuses.count("submitted"),
            "drafts": statuses.count("draft"),
            "filters": {
                "status": status,
                "round": round_id,
                "sort": sort if sort in REVIEW_SORTS else "round",
            },
        },
    )
