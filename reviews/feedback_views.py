"""The organizer's feedback release pages: the wording and a preview per submission, the release (confirmed
first), and the log of every e-mail with retry for failed ones. The rules are in reviews/feedback.py."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.selectors import is_organizer
from reviews import feedback
from reviews.models import FeedbackEmail
from submissions.models import Round


def _organizer_round(request: HttpRequest, pk: int) -> Round:
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers release feedback.")
    return get_object_or_404(Round, pk=pk)


def _by_submission(recipients: list[feedback.Recipient]) -> list[dict]:
    groups: dict[int, dict] = {}
    for r in recipients:
        group = groups.setdefault(r.submission.pk, {"submission": r.submission, "recipients": []})
        group["recipients"].append(r)
    return list(groups.values())


@login_required
@require_http_methods(["GET", "POST"])
def feedback_round(request: HttpRequest, pk: int) -> HttpResponse:
    """The round's submissions and who will get which e-mail, the e-mail's wording (saved here), the release."""
    round = _organizer_round(request, pk)
    wording = feedback.feedback_wording()
    values = {"subject": wording.subject, "text": wording.text, "html": wording.html}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "") for key in values}
        try:
            feedback.save_wording(**values, by=request.user)
        except ValidationError as refused:
            problems = {key: " ".join(errors) for key, errors in refused.message_dict.items()}
        else:
            messages.success(request, "The feedback e-mail's wording is saved.")
            return redirect("feedback_round", pk=pk)
    return render(
        request,
        "organizer/feedback.html",
        {
            "round": round,
            "released": feedback.is_released(round=round),
            "not_yet_released": feedback.awards_not_yet_released(round=round),
            "blockers": feedback.release_blockers(round=round),
            "submissions": _by_submission(feedback.recipients_of(round=round)),
            "wording": wording,
            "values": values,
            "problems": problems,
            "placeholders": feedback.PLACEHOLDERS,
        },
        status=400 if problems else 200,
    )


@login_required
@require_GET
def feedback_preview(request: HttpRequest, pk: int, submission_id: int) -> HttpResponse:
    """The e-mail of one submission as its first contestant will get it (charts aside: they are attached)."""
    round = _organizer_round(request, pk)
    recipients = [r for r in feedback.recipients_of(round=round) if r.submission.pk == submission_id]
    if not recipients:
        raise Http404("No submission of this round with a contestant to write to.")
    first = recipients[0]
    try:
        message = feedback.render_feedback(
            submission=first.submission, recipient=first.user.get_username(), with_images=False, round=round
        )
    except Exception as error:  # a wording that parses may still fail on these data: say so, do not crash
        messages.error(request, f"The e-mail's wording does not render: {error}")
        return redirect("feedback_round", pk=pk)
    return render(
        request,
        "organizer/feedback_preview.html",
        {"round": round, "submission": first.submission, "recipients": recipients, "message": message},
    )


@login_required
@require_http_methods(["GET", "POST"])
def feedback_release(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks for confirmation (who gets what); POST releases."""
    round = _organizer_round(request, pk)
    if request.method == "GET":
        try:
            plan = feedback.release_feedback(round=round, by=request.user, dry_run=True)
        except ValidationError as refused:
            messages.error(request, " ".join(refused.messages))
            return redirect("feedback_round", pk=pk)
        return render(request, "organizer/feedback_release.html", {"round": round, "outcome": plan})
    try:
        outcome = feedback.release_feedback(round=round, by=request.user)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect("feedback_round", pk=pk)
    messages.success(
        request,
        f"Feedback of {round.name} released: {outcome.queued} e-mail{'s' if outcome.queued != 1 else ''} "
        f"queued, {outcome.already} already handled before.",
    )
    return redirect("feedback_log", pk=pk)


@login_required
@require_GET
def feedback_log(request: HttpRequest, pk: int) -> HttpResponse:
    round = _organizer_round(request, pk)
    emails = feedback.feedback_log(round=round)
    return render(
        request,
        "organizer/feedback_log.html",
        {
            "round": round,
            "emails": emails,
            "released": feedback.is_released(round=round),
            "failed": sum(e.status == FeedbackEmail.Status.FAILED for e in emails),
        },
    )


@login_required
@require_POST
def feedback_retry(request: HttpRequest, pk: int, email_id: int) -> HttpResponse:
    round = _organizer_round(request, pk)
    email = get_object_or_404(FeedbackEmail, pk=email_id, round=round)
    if feedback.retry_feedback_email(email=email, by=request.user):
        messages.success(request, f"The e-mail to {email.to} is queued again.")
    else:
        messages.error(request, f"The e-mail to {email.to} has not failed: nothing to retry.")
    return redirect("feedback_log", pk=pk)


@login_required
@require_POST
def feedback_retry_failed(request: HttpRequest, pk: int) -> HttpResponse:
    """Every failed e-mail of the round queued again at once (after the provider's outage, say)."""
    round = _organizer_round(request, pk)
    queued = feedback.retry_failed_feedback(round=round, by=request.user)
    if queued:
        messages.success(request, f"{queued} failed e-mail{pluralize(queued)} queued again.")
    else:
        messages.error(request, "No e-mail of this round has failed: nothing to retry.")
    return redirect("feedback_log", pk=pk)
