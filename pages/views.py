"""Pages that show several apps at once. Each app's own pages live in the app; these only combine selectors."""

from dataclasses import dataclass
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timeuntil
from django.views.decorators.http import require_http_methods

import contest
from accounts.models import Role
from accounts.selectors import has_role, is_organizer, team_of
from config import freshness
from contest import prize, rubric
from contest.rules import METRICS
from evaluation.evidence import reproductions_evidence, rubric_suggestions, version_evidence
from evaluation.forms import ReproductionForm
from evaluation.reproductions import RULE as REPRODUCTION_RULE
from evaluation.selectors import has_running_runs, with_evaluation_progress
from pages import selectors as page_selectors
from pages import services as page_services
from pages.contest_text import BY_KEY
from pages.forms import ContestTextForm
from pages.markdown import render_markdown
from reviews import selectors as reviews
from reviews.feedback import feedback_for
from reviews.selectors import assignments_of, review_status
from reviews.services import current_rubric
from submissions import selectors
from submissions.models import Metric, Round, Submission, SubmissionVersion
from submissions.taskfile import REQUIRED_COLUMNS

EXAMPLE_TASKS = Path(contest.__file__).resolve().parent / "example_tasks"


def _rounds() -> list[Round]:
    """Every round, from the cache until one changes (each page with deadlines reads them)."""
    return freshness.cached(("rounds",), lambda: list(Round.objects.all()), tables=(Round._meta.db_table,))


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    # What the body differs by: signed in or not, and whether its submit buttons are the viewer's.
    viewer = (user.is_authenticated, has_role(user, Role.CONTESTANT) and not has_role(user, Role.REVIEWER))
    body = freshness.cached_html(
        request,
        ("home", viewer, _times()),
        "_home_body.html",
        lambda: {"rounds": _rounds()},
        tables=(Round._meta.db_table,),
    )
    return freshness.render_page(request, "home.html", {"body": body})


ORGANIZER_DASHBOARD_ROWS = 25


def _times() -> tuple:
    """What of the clock a page with deadlines shows: which rounds have opened and closed, to the second (a round
    opens at any instant), and each deadline's time left as the page writes it ("61 days, 11 hours": a page is
    computed again when that text changes, each hour while the deadline is days away, each minute in its last
    day; site.js counts down in between). Not the minute itself: every page of every viewer computed afresh each
    minute was the slowest of the version page's views under load."""
    now = timezone.now()
    return tuple(
        (
            r.pk,
            r.has_opened(now),
            r.has_closed(now),
            timeuntil(r.closes_at, now, depth=2),
            r.reviews_close_at and (now > r.reviews_close_at, timeuntil(r.reviews_close_at, now, depth=2)),
        )
        for r in _rounds()
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    if is_organizer(request.user):

        def listings() -> dict:
            every = with_evaluation_progress(Submission.objects.all(), public_series_only=False)
            # The latest of each round: a round of thousands is read whole in its overview, 100 rows a page.
            return {"listings": selectors.latest_by_round(every, per_round=ORGANIZER_DASHBOARD_ROWS)}

        key = ("organizer dashboard", request.user.pk, ORGANIZER_DASHBOARD_ROWS, _times())
        body = freshness.cached_html(request, key, "organizer/_dashboard_body.html", listings)
        return freshness.render_page(request, "organizer/dashboard.html", {"body": body})
    if has_role(request.user, Role.REVIEWER):
        return _reviewer_dashboard(request)

    def context() -> dict:
        own = with_evaluation_progress(selectors.team_submissions(user=request.user), public_series_only=True)
        rounds = selectors.by_round(own)
        keep_requests = selectors.keep_requests_of(team=team_of(request.user))
        for round, _ in rounds:
            round.keep_request = keep_requests.get(round.pk)
        return {"rounds": rounds}

    # Rendered once per change of the data or minute of the clock (config/freshness.py).
    key = ("contestant dashboard", request.user.pk, _times())
    body = freshness.cached_html(request, key, "contestant/_dashboard_body.html", context)
    return freshness.render_page(request, "contestant/dashboard.html", {"body": body})


@login_required
def submission_detail(request: HttpRequest, pk: int, number: int | None = None) -> HttpResponse:
    # Read without joins (they cost more to compile than to run): the body's round, team and withdrawal are read
    # when it is computed, not on every view of it.
    submission = selectors.visible_submission_or_404(request.user, pk)
    if number is None and submission.current_version_id is None:
        raise Http404("This submission has no version.")

    def context() -> dict:
        versions = list(selectors.versions_of(submission))
        version = next(
            (
                v
                for v in versions
                if (v.pk == submission.current_version_id if number is None else v.number == number)
            ),
            None,
        )
        if version is None:
            raise SubmissionVersion.DoesNotExist
        evidence = version_evidence(user=request.user, version=version)
        return {
            "submission": submission,
            "version": version,
            "versions": versions,
            "can_edit": selectors.can_edit(user=request.user, submission=submission),
            "can_reinstate": selectors.can_reinstate(user=request.user, submission=submission),
            "blind": selectors.is_blind_to(request.user, submission),
            "evidence": evidence,
            "feedback": feedback_for(user=request.user, submission=submission),
            **(
                _reviews_for_organizers(request.user, submission, version, evidence)
                if is_organizer(request.user)
                else {}
            ),
        }

    # What this viewer sees of this version, rendered once per change of the data or minute of the clock
    # (config/freshness.py): the evidence, answers and reviews are read again only after something changed. The
    # version's name (the page's title) is kept with it: a view served from the cache reads only the submission.
    shown = number if number is not None else ("current", submission.current_version_id)
    key = ("version page", request.user.pk, submission.pk, shown, _times())
    try:
        title, body = freshness.cached_html_with(
            request,
            key,
            "contestant/_submission_detail_body.html",
            context,
            lambda values: values["version"].task_name,
            # Not kept while a run is running: its progress is written without changing the stamp.
            keep=lambda values: not has_running_runs(version=values["version"]),
        )
    except SubmissionVersion.DoesNotExist:
        messages.error(request, f"This submission has no version {number}.")
        return redirect("submission_detail", pk=submission.pk)
    return freshness.render_page(request, "contestant/submission_detail.html", {"title": title, "body": body})


def _reviews_for_organizers(user, submission: Submission, shown, evidence: dict) -> dict:
    """The reviews, each criterion's level marked where it differs from the level the evaluation of the shown
    version suggests (only for reviews of that version: another version's results may suggest otherwise)."""
    assignments = reviews.assignments_of_submission(submission.pk)
    spot_checks = reviews.spot_checks_of_submission(submission)
    suggestions = rubric_suggestions(evidence)  # organizers see every series
    for assignment in assignments:
        assignment.spot_check = spot_checks.get(assignment.pk)
        review = getattr(assignment, "review", None)
        if review is not None:
            review.rows = reviews.judged_beside(review, suggestions if review.version_id == shown.pk else {})
    return {
        "assignments": assignments,
        # The shown version's reproductions; one is attached to the current version only.
        "reproductions": reproductions_evidence(user=user, version=shown, original=evidence),
        "reproduction_form": ReproductionForm()
        if shown.pk == submission.current_version_id and not submission.is_withdrawn
        else None,
        "reproduction_rule": REPRODUCTION_RULE,
        "suggestions": [
            {"criterion": c["name"], "suggestion": suggestions[c["key"]]}
            for c in current_rubric().criteria
            if c["key"] in suggestions and suggestions[c["key"]].level
        ],
        "posts": reviews.discussion_for(viewer=user, submission_id=submission.pk),
    }


REVIEW_SORTS = {
    "round": lambda a: (a.submission.round.deadline, a.submission.round_id, a.assigned_at),
    "task": lambda a: a.submission.current_version.task_name.casefold(),
    "status": lambda a: (("not started", "draft", "submitted", "conflicted").index(a.status), a.assigned_at),
    "assigned": lambda a: a.assigned_at,
}


def _reviewer_dashboard(request: HttpRequest) -> HttpResponse:
    """The reviewer's assignments with their review status and progress; filtered by status and round, sorted
    by any column (in Python: a reviewer has tens of assignments, all read in one query). Rendered once per
    change of the data or minute of the clock (config/freshness.py)."""
    status = request.GET.get("status", "")
    round_id = request.GET.get("round", "")
    sort = request.GET.get("sort", "round")

    def context() -> dict:
        assignments = assignments_of(request.user)
        conflicted = reviews.conflicted_assignments(request.user)
        for assignment in assignments:
            assignment.status = (
                "conflicted" if assignment.submission_id in conflicted else review_status(assignment)
            )
        statuses = [a.status for a in assignments]
        rounds = sorted({a.submission.round for a in assignments}, key=lambda r: (r.deadline, r.pk))
        shown = [
            a
            for a in assignments
            if (not status or a.status == status) and (not round_id or str(a.submission.round_id) == round_id)
        ]
        shown.sort(key=REVIEW_SORTS.get(sort, REVIEW_SORTS["round"]))
        return {
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
        }

    key = ("reviewer dashboard", request.user.pk, status, round_id, sort, _times())
    body = freshness.cached_html(request, key, "reviewer/_dashboard_body.html", context)
    return freshness.render_page(request, "reviewer/dashboard.html", {"body": body})


@dataclass(frozen=True)
class _MetricShown:
    key: str
    label: str
    columns: tuple[str, ...]
    text: page_selectors.ShownText


def contest_page(request: HttpRequest) -> HttpResponse:
    """The contest's rules, prizes, rubric, timeline, metrics and FAQ: organizers' text around the rules the
    code enforces (tiers, rubric, rounds, columns)."""
    texts = page_selectors.contest_texts()
    return render(
        request,
        "contest/page.html",
        {
            "texts": texts,
            "rounds": Round.objects.all(),
            "tiers": prize.TIERS,
            "total_usd": prize.TOTAL_USD,
            # The rubric in force: the wording organizers last set (the 2022 one until then).
            "levels": [rubric.LEVEL_NAMES[level] for level in rubric.LEVELS],
            "rubric": [
                (c, [c["levels"][level] for level in rubric.LEVELS]) for c in current_rubric().criteria
            ],
            "metrics": [
                _MetricShown(m, Metric(m).label, REQUIRED_COLUMNS[m], texts[f"metric_{m}"]) for m in METRICS
            ],
        },
    )


def contest_example(request: HttpRequest, metric: str) -> FileResponse:
    """A valid example task file for the metric (contest/example_tasks/README.md says where each comes from)."""
    if metric not in METRICS:
        raise Http404(f"There is no metric called {metric!r}.")
    return FileResponse(
        (EXAMPLE_TASKS / f"{metric}.csv").open("rb"),
        as_attachment=True,
        filename=f"example-{metric}.csv",
        content_type="text/csv",
    )


@login_required
@require_http_methods(["GET", "POST"])
def contest_text_edit(request: HttpRequest, key: str) -> HttpResponse:
    """An organizer writes one section of the contest page, previews it, and saves it (kept in its history)."""
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers can edit the contest page.")
    if key not in BY_KEY:
        raise Http404(f"The contest page has no section {key!r}.")
    current = page_selectors.contest_text(key=key)
    form = ContestTextForm(request.POST or None, initial={"body": current.body})
    preview = None
    if request.method == "POST" and form.is_valid():
        body = form.cleaned_data["body"]
        if "preview" in request.POST:
            preview = render_markdown(body or current.section.default)
        else:
            page_services.save_contest_text(key=key, body=body, by=request.user)
            messages.success(request, f"Saved “{current.section.title}” on the contest page.")
            return redirect(reverse("contest") + f"#{key}")
    return render(
        request,
        "organizer/contest_text_edit.html",
        {
            "form": form,
            "text": current,
            "preview": preview,
            "history": page_selectors.text_history(key=key),
        },
    )
