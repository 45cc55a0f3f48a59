"""Pages that show several apps at once. Each app's own pages live in the app; these only combine selectors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import Role
from accounts.selectors import has_role, is_organizer
from evaluation.evidence import version_evidence
from evaluation.selectors import with_evaluation_progress
from reviews.selectors import assignments_of
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
        return render(request, "reviewer/dashboard.html", {"assignments": assignments_of(request.user)})
    own = with_evaluation_progress(selectors.team_submissions(user=request.user), public_series_only=True)
    return render(request, "contestant/dashboard.html", {"rounds": selectors.by_round(own)})


@login_required
def submission_detail(request: HttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    submission = get_object_or_404(
        selectors.submissions_visible_to(request.user).select_related(
            "round", "team", "current_version", "withdrawn_by"
        ),
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
            "can_reinstate": selectors.can_reinstate(user=request.user, submission=submission),
            "blind": selectors.is_blind_to(request.user, submission),
            "evidence": version_evidence(user=request.user, version=shown),
        },
    )
