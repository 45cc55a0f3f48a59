import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import team_of
from submissions import selectors, services
from submissions.forms import SubmissionForm, WithdrawalForm
from submissions.models import KeepRequest, Round, Submission
from submissions.services import NothingChanged, TaskFileInvalid, TaskUpload
from submissions.uploads import bound_form

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = (
    "The database could not be reached for a moment, so nothing was saved. Your answers are kept below: "
    "choose the file again and submit once more."
)


def _form(request: HttpRequest, **kwargs) -> SubmissionForm:
    return bound_form(SubmissionForm, request, **kwargs)


def _upload_of(form: SubmissionForm) -> TaskUpload | None:
    f = form.cleaned_data.get("task_file")
    return TaskUpload(name=f.name, data=f.read()) if f else None


def _save(request, form: SubmissionForm, *, round: Round, submission: Submission | None):
    """Run the submission service; on a bad CSV, put every problem beside the file field (and those of the
    subcategory column beside its own) and keep the answers; on an edit that changes nothing, say so above the
    form and keep what was typed. Returns the new version (None when nothing was saved) and the page's status:
    503 when the database dropped during the save."""
    try:
        version = services.submit_task(
            user=request.user,
            round=round,
            answers=form.answers(),
            upload=_upload_of(form),
            submission=submission,
        )
        return version, 200
    except (OperationalError, InterfaceError):
        # The service writes in one transaction, which the database rolled back: nothing half-made remains.
        logger.exception(
            "task version not saved: the database dropped",
            extra={"round": round.pk, "submission": submission.pk if submission else None},
        )
        connection.close_if_unusable_or_obsolete()  # the page below then reads through a new connection
        form.add_error(None, DATABASE_UNAVAILABLE)
        return None, 503
    except TaskFileInvalid as invalid:
        for line in invalid.report.lines():
            if not line.startswith(("warning:", "subcategory:")):
                form.add_error("task_file", line)
        for reason in invalid.report.subcategory_errors:
            form.add_error("subcategory_column", reason)
    except NothingChanged as unchanged:
        form.add_error(None, str(unchanged))
    return None, 200


@login_required
@require_http_methods(["GET", "POST"])
def submission_create(request: HttpRequest, round_id: int) -> HttpResponse:
    round = get_object_or_404(Round, pk=round_id)
    try:
        services.ensure_may_start_submission(user=request.user, round=round)
    except PermissionDenied as refused:  # the page says why, once: no flash message beside it
        return render(
            request, "contestant/submit_refused.html", {"round": round, "reason": str(refused)}, status=403
        )
    form = _form(request)
    status = 200
    if request.method == "POST" and form.is_valid():
        version, status = _save(request, form, round=round, submission=None)
        if version:
            messages.success(
                request,
                f"“{version.task_name}” is submitted to {round.name} with {version.example_count:,} examples.",
            )
            return redirect(version.submission)
    return render(
        request,
        "contestant/submission_form.html",
        {"form": form, "round": round, "submission": None},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission_edit(request: HttpRequest, pk: int) -> HttpResponse:
    submission = selectors.visible_submission_or_404(request.user, pk, "round")
    round = submission.round
    try:
        services.ensure_may_submit(user=request.user, round=round)
        services.ensure_not_withdrawn(submission=submission)
        if not selectors.can_edit(user=request.user, submission=submission):
            raise PermissionDenied("Only members of the submitting team can edit this submission.")
    except PermissionDenied as refused:
        messages.error(request, str(refused))
        return redirect("submission_detail", pk=submission.pk)
    current = submission.current_version
    form = _form(
        request,
        initial={f: getattr(current, f) for f in services.ANSWER_FIELDS},
        file_required=False,
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        version, status = _save(request, form, round=round, submission=submission)
        if version:
            messages.success(
                request, f"Saved version {version.number} of “{version.task_name}”; it is now current."
            )
            return redirect("submission_detail", pk=submission.pk)
    return render(
        request,
        "contestant/submission_form.html",
        {"form": form, "round": round, "submission": submission},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    """Asks to confirm (GET), then withdraws (POST) with an optional reason."""
    submission = selectors.visible_submission_or_404(request.user, pk, "round", "current_version")
    form = WithdrawalForm(request.POST or None)
    try:
        services.ensure_may_withdraw(user=request.user, submission=submission)
        if request.method == "POST" and form.is_valid():
            services.withdraw_submission(
                user=request.user, submission=submission, reason=form.cleaned_data["reason"]
            )
            messages.success(
                request,
                f"“{submission}” is withdrawn. It is kept for the record, but no longer reviewed or evaluated. "
                "You can undo this until the round's deadline.",
            )
            return redirect(submission)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
        return redirect(submission)
    return render(request, "contestant/withdraw_confirm.html", {"submission": submission, "form": form})


@login_required
@require_POST
def submission_reinstate(request: HttpRequest, pk: int) -> HttpResponse:
    submission = selectors.visible_submission_or_404(request.user, pk, "round")
    try:
        services.reinstate_submission(user=request.user, submission=submission)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"“{submission}” is no longer withdrawn.")
    return redirect(submission)


@login_required
def version_download(request: HttpRequest, pk: int, number: int) -> FileResponse:
    submission = selectors.visible_submission_or_404(request.user, pk)
    version = get_object_or_404(submission.versions, number=number)
    # A file's name can carry its authors' names: blind reviewers get a neutral one.
    blind = selectors.is_blind_to(request.user, submission)
    name = f"submission-{pk}-v{number}.csv" if blind else version.original_filename
    return FileResponse(
        version.task_file.open("rb"), as_attachment=True, filename=name, content_type="text/csv"
    )


@login_required
def version_example(request: HttpRequest, pk: int, number: int, row: int) -> JsonResponse:
    """One example of a version in full, for the pages that show long texts shortened; 404 to whoever may
    not see the version, as on the version page."""
    submission = selectors.visible_submission_or_404(request.user, pk)
    version = get_object_or_404(submission.versions, number=number)
    try:
        examples = selectors.version_examples(version)
    except ValueError as unreadable:  # the stored file no longer validates: the page shows no texts either
        raise Http404("This version's file can no longer be read.") from unreadable
    found = examples[examples["row"] == row]
    if found.empty:
        raise Http404(f"This version has no example on row {row}.")
    example = found.iloc[0]
    texts = {name: example[name] for name in ("prompt", "other_prompt", "completion") if name in example}
    return JsonResponse({"row": row, **texts})


@login_required
@require_http_methods(["GET", "POST"])
def keep_choice(request: HttpRequest, round_id: int) -> HttpResponse:
    """The team marks which of its submissions to the round it keeps, when an organizer asked it to."""
    team = team_of(request.user)
    keep_request = get_object_or_404(
        KeepRequest.objects.select_related("round", "requested_by"), round=round_id, team=team
    )
    submissions = list(
        Submission.objects.filter(round=round_id, team=team).select_related("current_version").order_by("pk")
    )
    error = None
    if request.method == "POST":
        chosen = [int(pk) for pk in request.POST.getlist("kept") if pk.isdigit()]
        try:
            services.choose_submissions_to_keep(
                request=keep_request, user=request.user, submission_ids=chosen
            )
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(
                request, f"Saved: your team keeps {len(chosen)} submission{pluralize(len(chosen))}."
            )
            return redirect("dashboard")
    kept = set(keep_request.kept.values_list("pk", flat=True))
    return render(
        request,
        "contestant/keep_choice.html",
        {"keep_request": keep_request, "submissions": submissions, "kept": kept, "error": error},
        status=400 if error else 200,
    )
