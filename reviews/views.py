from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role, Team
from accounts.selectors import has_role, is_organizer
from config import freshness
from config.rows import get_or_404
from contest.rubric import CRITERIA_KEYS
from evaluation.evidence import cached_trends, reproductions_evidence, rubric_suggestions, version_evidence
from evaluation.forms import ReproductionForm
from evaluation.reproductions import RULE as REPRODUCTION_RULE
from evaluation.suggestions import SeriesTrend, suggested_levels
from reviews import selectors, services
from reviews.forms import DeclareConflictForm, ReviewForm
from reviews.models import Assignment, Conflict, Review, SpotCheck, TallyRule, Tier
from reviews.selectors import conflicts_of, team_or_contestant_named
from submissions.models import Round
from submissions.selectors import StoredFileInvalid, versions_of, visible_submission_or_404


def _assignment(request: HttpRequest, pk: int) -> Assignment:
    """The reviewer's own assignment to submission ``pk``; 404 for anyone else, as for a submission they
    may not see."""
    submission = visible_submission_or_404(request.user, pk, "round", "current_version")
    assignment = get_object_or_404(Assignment, submission=submission, reviewer=request.user)
    assignment.submission = submission
    return assignment


def _form(request: HttpRequest, review: Review | None) -> ReviewForm:
    rubric = review.rubric if review else services.current_rubric()
    return ReviewForm(
        request.POST if request.method == "POST" else None,
        initial=ReviewForm.initial_from(review),
        criteria=rubric.criteria,
    )


def _reviewers_only(request: HttpRequest) -> None:
    if not has_role(request.user, Role.REVIEWER):
        raise PermissionDenied("Only reviewers declare conflicts of interest.")


@login_required
@require_http_methods(["GET", "POST"])
def review_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The evidence beside the rubric form. "Save draft" keeps the form as it is; "Submit review" locks it."""
    assignment = _assignment(request, pk)
    review = services.review_of(assignment=assignment)
    form = _form(request, review)
    if request.method == "POST" and review and review.is_locked:
        messages.error(request, "This review is submitted and locked; an organizer can unlock it.")
        return redirect("review_page", pk=pk)
    if request.method == "POST" and form.is_valid():
        submit = "submit" in request.POST
        try:
            review = services.save_review(
                assignment=assignment, user=request.user, answers=form.answers(), submit=submit
            )
        except services.IncompleteReview as incomplete:
            review = incomplete.review
            for name, message in incomplete.message_dict.items():
                form.add_error(name, message)
            form.add_error(None, "Saved as a draft. To submit, complete the fields listed here.")
        except services.ReviewLocked as locked:
            messages.error(request, str(locked))
            return redirect("review_page", pk=pk)
        else:
            messages.success(
                request,
                "Review submitted; it is locked now. You can read the other reviews below."
                if submit
                else "Draft saved.",
            )
            return redirect("review_page", pk=pk)
    submission = assignment.submission
    version = submission.current_version
    evidence = version_evidence(user=request.user, version=version)
    form.suggestions = rubric_suggestions(evidence)  # an assigned reviewer sees every series
    return render(
        request,
        "reviewer/review.html",
        {
            "submission": submission,
            "version": version,
            "blind": True,
            "review": review,
            "form": form,
            "newer_versions": selectors.versions_since(review, versions_of(submission)),
            "evidence": evidence,
            # Reproductions of the version, beside its evidence and summed up beside Reproducibility.
            "reproductions": reproductions_evidence(user=request.user, version=version, original=evidence),
            "reproduction_form": ReproductionForm(),
            "reproduction_rule": REPRODUCTION_RULE,
            "spot_check": selectors.summarize_spot_checks(
                SpotCheck.objects.filter(assignment=assignment, version=version)
            ),
            # After submitting, the reviewer reads the others' submitted reviews and joins the discussion.
            "other_reviews": selectors.other_reviews(review) if review and review.is_locked else [],
            "posts": selectors.discussion_for(viewer=request.user, submission_id=submission.pk)
            if review and review.is_locked
            else None,
        },
    )


@login_required
@require_POST
def review_autosave(request: HttpRequest, pk: int) -> JsonResponse:
    """Save the draft as the reviewer types (static/site/review.js); a reload then loses nothing."""
    assignment = _assignment(request, pk)
    review = services.review_of(assignment=assignment)
    form = _form(request, review)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    try:
        review = services.save_review(assignment=assignment, user=request.user, answers=form.answers())
    except services.ReviewLocked as locked:
        return JsonResponse({"error": str(locked)}, status=409)
    return JsonResponse({"status": review.status, "saved_at": review.updated_at.isoformat()})


@login_required
@require_POST
def review_unlock(request: HttpRequest, review_id: int) -> HttpResponse:
    if not is_organizer(request.user):
        raise Http404("No such review.")  # nobody else learns that a review exists
    review = get_object_or_404(Review.objects.select_related("assignment__reviewer"), pk=review_id)
    try:
        services.unlock_review(review=review, by=request.user, reason=request.POST.get("reason", ""))
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(
            request, f"The review is open again for {review.assignment.reviewer.get_username()}."
        )
    return redirect("submission_detail", pk=review.assignment.submission_id)


@login_required
@require_POST
def discussion_post(request: HttpRequest, pk: int) -> HttpResponse:
    submission = visible_submission_or_404(request.user, pk)
    if not services.may_discuss(user=request.user, submission_id=submission.pk):
        raise Http404("No such discussion.")  # a contestant never learns there is one
    try:
        services.post_to_discussion(
            submission_id=submission.pk, author=request.user, body=request.POST.get("body", "")
        )
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, "Posted to the discussion.")
    page = "submission_detail" if is_organizer(request.user) else "review_page"
    return redirect(reverse(page, args=[submission.pk]) + "#discussion")


@login_required
@require_http_methods(["GET", "POST"])
def spot_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Label a sample of examples without the file's answers; once all are labelled, see the agreement."""
    assignment = _assignment(request, pk)
    try:
        checks = services.spot_check_sample(assignment=assignment)
    except StoredFileInvalid as unreadable:
        messages.error(request, f"The task file can no longer be read for a spot-check: {unreadable}")
        return redirect("review_page", pk=pk)
    if request.method == "POST":
        labels = {}
        for check in checks:
            value = request.POST.get(f"row_{check.row}", "")
            if value.isdigit():
                labels[check.row] = int(value)
        try:
            checks = services.label_spot_checks(assignment=assignment, user=request.user, labels=labels)
        except services.SpotCheckDone as done:
            messages.error(request, str(done))
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
        else:
            summary = selectors.summarize_spot_checks(checks)
            if not summary.done:
                messages.info(
                    request, f"{summary.labelled} of {summary.total} labelled; the rest are still open."
                )
        return redirect("spot_check", pk=pk)
    version = assignment.submission.current_version
    return render(
        request,
        "reviewer/spot_check.html",
        {
            "submission": assignment.submission,
            "version": version,
            "checks": checks,
            "summary": selectors.summarize_spot_checks(checks),
            "judges_completion": version.metric == "sequence_prob",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def conflicts(request: HttpRequest) -> HttpResponse:
    """The reviewer's conflicts of interest: those they declared, those an organizer set, and a form."""
    _reviewers_only(request)
    form = DeclareConflictForm(request.POST or None)
    if form.is_valid():
        target = team_or_contestant_named(form.cleaned_data["name"])
        if target is None:
            form.add_error("name", "No team or contestant goes by this name; check the spelling with them.")
        else:
            is_team = isinstance(target, Team)
            try:
                services.declare_conflict(
                    reviewer=request.user,
                    team=target if is_team else None,
                    person=None if is_team else target,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as refused:
                form.add_error(None, refused.messages)
            else:
                messages.success(request, f"You will not be assigned the submissions of {target}.")
                return redirect("reviewer_conflicts")
    return render(request, "reviewer/conflicts.html", {"conflicts": conflicts_of(request.user), "form": form})


@login_required
@require_POST
def conflict_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    _reviewers_only(request)
    conflict = get_object_or_404(Conflict, pk=pk, reviewer=request.user)
    try:
        services.withdraw_declared_conflict(reviewer=request.user, conflict=conflict)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"You withdrew your conflict with {conflict.team or conflict.person}.")
    return redirect("reviewer_conflicts")


def _organizer_round(request: HttpRequest, pk: int) -> Round:
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers see the prize tally.")
    return get_or_404(Round, pk)


def _tally_of(round: Round) -> selectors.RoundTally:
    try:
        return selectors.round_tally(round=round)
    except selectors.TallyUnavailable as unavailable:
        raise Http404(str(unavailable)) from unavailable


TALLY_ROWS_PER_PAGE = 100


def _beside_suggestions(rows) -> list[dict]:
    """The page's rows with, per reviewer and criterion, the level the evaluation suggests where the reviewer's
    differs (Strength and Generality: a prompt to discuss, not a rule). From the trends the worker cached: one
    query and one cache read for the page, nothing computed."""
    trends = cached_trends(versions=[row.submission.current_version for row in rows])
    shown = []
    for row in rows:
        suggested = suggested_levels(
            [
                SeriesTrend(name=c.series.name, private=c.series.is_private, trend=c.trend)
                for c in trends.get(row.submission.current_version_id, {}).values()
                if c.trend is not None
            ]
        )
        levels = {key: s.level for key, s in suggested.items() if s.level}
        shown.append(
            {
                "row": row,
                "suggested": [(key, suggested[key].level_name) for key in CRITERIA_KEYS if key in levels],
                "reviews": [
                    {
                        "reviewer": r.reviewer,
                        "cells": [
                            {
                                "level": level,
                                "suggested": levels[key]
                                if key in levels and level and level != levels[key]
                                else None,
                            }
                            for key, level in zip(CRITERIA_KEYS, r.levels, strict=True)
                        ],
                    }
                    for r in row.reviews
                ],
            }
        )
    return shown


@login_required
@require_GET
def round_tally(request: HttpRequest, pk: int) -> HttpResponse:
    """The proposed awards of a round (each reviewer's levels, the combined ones, eligibility, rank) beside the
    confirmed ones; the organizer sets ranks and the rule, and confirms or overrides each award."""
    round = _organizer_round(request, pk)
    page_number = request.GET.get("page")

    def context() -> dict:
        current = _tally_of(round)
        page = Paginator(current.rows, TALLY_ROWS_PER_PAGE).get_page(page_number)
        return {
            "t": current,
            # A round of a thousand tasks is read 100 rows at a time; the tally itself covers them all.
            "page": page,
            "shown": _beside_suggestions(page.object_list),
            "criteria": CRITERIA_KEYS,
            "rules": TallyRule.choices,
            "awards": [
                (value, label) for value, label in Tier.choices if current.number > 1 or value != Tier.GRAND
            ],
        }

    # Rendered once per change of the data (config/freshness.py): a tally of a thousand submissions is not
    # recomputed for every view, and any review, rank, rule or award is in the next one.
    body = freshness.cached_html(
        request, ("tally", round.pk, page_number), "organizer/_tally_body.html", context
    )
    return freshness.render_page(request, "organizer/tally.html", {"round": round, "body": body})


@login_required
@require_POST
def round_tally_rule(request: HttpRequest, pk: int) -> HttpResponse:
    round = _organizer_round(request, pk)
    _tally_of(round)
    try:
        services.set_tally_rule(round=round, rule=request.POST.get("rule", ""), by=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, f"The tally now combines levels by their {request.POST['rule']}.")
    return redirect("round_tally", pk=pk)


@login_required
@require_POST
def round_tally_ranks(request: HttpRequest, pk: int) -> HttpResponse:
    round = _organizer_round(request, pk)
    ranks, bad = {}, []
    for name, value in request.POST.items():
        if not name.startswith("rank_") or not name[5:].isdigit():
            continue
        value = value.strip()
        if value and not value.isdigit():
            bad.append(value)
        ranks[int(name[5:])] = int(value) if value.isdigit() else None
    if bad:
        messages.error(
            request, f"A rank is a whole number, 1 for the best (not {', '.join(map(repr, bad))})."
        )
        return redirect("round_tally", pk=pk)
    try:
        _tally_of(round)
        changed = services.set_ranks(round=round, ranks=ranks, by=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(request, f"{changed} rank{'s' if changed != 1 else ''} changed.")
    return redirect("round_tally", pk=pk)


@login_required
@require_POST
def round_tally_decide(request: HttpRequest, pk: int, submission_id: int) -> HttpResponse:
    round = _organizer_round(request, pk)
    _tally_of(round)
    try:
        award = services.decide_award(
            round=round,
            submission_id=submission_id,
            tier=request.POST.get("tier", ""),
            reason=request.POST.get("reason", ""),
            by=request.user,
        )
    except ValidationError as refused:
        messages.error(request, f"Submission {submission_id}: {' '.join(refused.messages)}")
    else:
        done = "overridden" if award.overridden_from else "confirmed"
        messages.success(request, f"Submission {submission_id}: {award.get_tier_display()} {done}.")
    return redirect(reverse("round_tally", args=[pk]) + f"#submission-{submission_id}")


@login_required
@require_GET
def round_tally_audit(request: HttpRequest, pk: int) -> HttpResponse:
    """Every decision of the round's tally: awards confirmed or overridden, ranks, the rule; who, when, why."""
    round = _organizer_round(request, pk)
    _tally_of(round)
    return render(
        request, "organizer/tally_audit.html", {"round": round, "decisions": selectors.tally_decisions(round)}
    )
