"""The organizer's rounds console: every round, and per round its submissions, evaluations, review coverage and
what still blocks its decisions; rounds are created and edited here (dates Anywhere on Earth)."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from evaluation.models import EvaluationRun, ModelSeries
from pages.forms import KeepRequestForm, RoundForm
from pages.people import ensure_organizer
from reviews.models import Review
from reviews.services import DEFAULT_REVIEWERS_PER_SUBMISSION
from submissions import services as submission_services
from submissions.models import KeepRequest, Round, Submission
from submissions.selectors import LISTS_SKIP

Status = EvaluationRun.Status


def _runs(status: str) -> Count:
    return Count("current_version__runs", filter=Q(current_version__runs__status=status), distinct=True)


def round_submissions(round: Round) -> QuerySet[Submission]:
    """The round's submissions with their team, current version, number of versions, runs of the current
    version by status and review coverage (assigned, submitted): one query."""
    return (
        Submission.objects.filter(round=round)
        .select_related("team", "current_version")
        .defer(*LISTS_SKIP)
        .annotate(
            version_count=Count("versions", distinct=True),
            run_count=Count("current_version__runs", distinct=True),
            runs_queued=_runs(Status.QUEUED),
            runs_running=_runs(Status.RUNNING),
            runs_failed=_runs(Status.FAILED),
            runs_succeeded=_runs(Status.SUCCEEDED),
            assigned=Count("assignments", distinct=True),
            reviews_submitted=Count(
                "assignments__review",
                filter=Q(assignments__review__status=Review.Status.SUBMITTED),
                distinct=True,
            ),
        )
        .order_by("pk")
    )


def failed_runs(round: Round) -> list[EvaluationRun]:
    """Failed runs of the round's current versions, with what went wrong: one query."""
    return list(
        EvaluationRun.objects.filter(
            version__submission__round=round,
            version__submission__current_version=F("version"),
            status=Status.FAILED,
        )
        .select_related("model__series", "version__submission")
        .defer(*(f"version__{name.removeprefix('current_version__')}" for name in LISTS_SKIP))
        .order_by("version__submission", "model__series__order", "model__parameter_count")
    )


@dataclass
class RoundState:
    round: Round
    submissions: list[Submission]
    failed: list[EvaluationRun]
    unreleased: list[ModelSeries]
    keep_requests: list[KeepRequest]
    reviews_needed: int = DEFAULT_REVIEWERS_PER_SUBMISSION
    blockers: list[str] = field(default_factory=list)


def round_state(round: Round, *, now=None) -> RoundState:
    """Everything the console shows of a round, and what still blocks its decisions, in a constant number of
    queries however many submissions, runs and reviews it has."""
    now = now or timezone.now()
    state = RoundState(
        round=round,
        submissions=list(round_submissions(round)),
        failed=failed_runs(round),
        unreleased=list(
            ModelSeries.objects.filter(visibility=ModelSeries.Visibility.PRIVATE, is_active=True)
            .exclude(releases__round=round)
            .order_by("order", "name")
        ),
        keep_requests=list(
            KeepRequest.objects.filter(round=round).select_related("team").prefetch_related("kept")
        ),
    )
    state.blockers = _blockers(state, now=now)
    return state


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _blockers(state: RoundState, *, now) -> list[str]:
    round, subs = state.round, state.submissions
    blockers = []
    if not round.has_closed(now):
        blockers.append(f"submissions are open until {round.deadline:%B %-d, %Y} (AoE)")
    if not subs:
        blockers.append("no submissions")
    failed = sum(s.runs_failed for s in subs)
    if failed:
        blockers.append(f"{_count(failed, 'run')} failed")
    waiting = sum(s.runs_queued + s.runs_running for s in subs)
    if waiting:
        blockers.append(f"{_count(waiting, 'run')} still queued or running")
    short = sum(1 for s in subs if s.reviews_submitted < state.reviews_needed)
    if short:
        blockers.append(
            f"{_count(short, 'submission')} {'has' if short == 1 else 'have'} fewer than "
            f"{state.reviews_needed} submitted reviews"
        )
    blockers += [f"private series {series.name} not released" for series in state.unreleased]
    if round.review_deadline is None:
        blockers.append("review deadline not set")
    if round.feedback_date is None:
        blockers.append("feedback date not set")
    unanswered = [r.team.name for r in state.keep_requests if not r.is_answered]
    if unanswered:
        blockers.append(
            f"{_count(len(unanswered), 'team')} not yet chosen what to keep: {', '.join(unanswered)}"
        )
    if round.max_submissions_per_team:
        asked = {r.team_id for r in state.keep_requests}
        per_team: dict[int, list[Submission]] = {}
        for s in subs:
            per_team.setdefault(s.team_id, []).append(s)
        for team_subs in per_team.values():
            if len(team_subs) > round.max_submissions_per_team and team_subs[0].team_id not in asked:
                blockers.append(
                    f"{team_subs[0].team.name} has {len(team_subs)} submissions, above the limit of "
                    f"{round.max_submissions_per_team}: ask it to choose which to keep"
                )
    return blockers


def rounds_overview() -> QuerySet[Round]:
    return Round.objects.annotate(submission_count=Count("submissions")).order_by("deadline", "pk")


def _round_fields(form: RoundForm) -> dict:
    data = dict(form.cleaned_data)
    return {"opens": data.pop("opens"), **data}


def _save_round(request: HttpRequest, form: RoundForm, round: Round | None) -> Round | None:
    if not form.is_valid():
        return None
    try:
        return submission_services.save_round(round=round, by=request.user, **_round_fields(form))
    except ValidationError as refused:
        for name, errors in refused.message_dict.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
        return None


@login_required
@require_http_methods(["GET", "POST"])
def rounds(request: HttpRequest) -> HttpResponse:
    """Every round with its dates and number of submissions, and the form for a new round."""
    ensure_organizer(request)
    form = RoundForm(request.POST if request.method == "POST" else None, prefix="round")
    if request.method == "POST" and (created := _save_round(request, form, None)):
        messages.success(request, f"Created {created.name}.")
        return redirect("round_console", pk=created.pk)
    return render(
        request,
        "organizer/rounds.html",
        {"rounds": rounds_overview(), "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def round_console(request: HttpRequest, pk: int) -> HttpResponse:
    ensure_organizer(request)
    round = get_object_or_404(Round, pk=pk)
    form = RoundForm.of(round, request.POST if request.method == "POST" else None)
    if request.method == "POST" and _save_round(request, form, round):
        messages.success(request, f"Saved {round.name}.")
        return redirect("round_console", pk=round.pk)
    return _console(request, round, form=form, keep_form=KeepRequestForm(round=round))


def _console(request, round: Round, *, form: RoundForm, keep_form: KeepRequestForm) -> HttpResponse:
    state = round_state(round)
    return render(
        request,
        "organizer/round.html",
        {"state": state, "round": round, "form": form, "keep_form": keep_form},
        status=400 if form.errors or keep_form.errors else 200,
    )


@login_required
@require_POST
def round_keep_request(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask a team of the round to choose which of its submissions to keep."""
    ensure_organizer(request)
    round = get_object_or_404(Round, pk=pk)
    keep_form = KeepRequestForm(request.POST, round=round)
    if keep_form.is_valid():
        team = keep_form.cleaned_data["team"]
        try:
            submission_services.ask_team_to_choose(
                round=round,
                team=team,
                keep_at_most=keep_form.cleaned_data["keep_at_most"],
                note=keep_form.cleaned_data["note"],
                by=request.user,
            )
        except ValidationError as refused:
            keep_form.add_error(None, " ".join(refused.messages))
        else:
            keep = keep_form.cleaned_data["keep_at_most"]
            messages.success(
                request,
                f"Asked {team.name} to choose which submission{pluralize(keep)} to keep (at most {keep}).",
            )
            return redirect("round_console", pk=round.pk)
    return _console(request, round, form=RoundForm.of(round), keep_form=keep_form)
