import csv
import json
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.selectors import is_organizer
from evaluation import broker, charts, drilldown, selectors, services, trends
from evaluation.evidence import (
    reproduction_evidence,
    reproductions_evidence,
    series_figures,
    version_evidence,
)
from evaluation.forms import ReproductionForm
from evaluation.models import EvaluationRun, Reproduction
from evaluation.plots import PngExportUnavailable
from evaluation.reproductions import RULE
from submissions.models import Submission
from submissions.selectors import visible_submission_or_404
from submissions.services import TaskFileInvalid, TaskUpload
from submissions.uploads import bound_form

logger = logging.getLogger(__name__)


def _version(request: HttpRequest, pk: int, number: int):
    submission = visible_submission_or_404(request.user, pk)
    return get_object_or_404(submission.versions.select_related("submission__round"), number=number)


def run_state(
    run: EvaluationRun, place: selectors.QueuePlace | None, *, now, failure_details: bool = False
) -> dict:
    """``place``: where a queued run waits; ``failure_details``: what went wrong inside a failed run, for
    organizers only (never contestants)."""
    start = place.estimated_start(now) if place else None
    state = {
        "id": run.pk,
        "series": run.model.series.name,
        "model": run.model.name,
        "parameters": run.model.parameter_count,
        "status": run.status,
        "status_label": run.get_status_display(),
        "done": run.progress_done,
        "total": run.progress_total,
        "percent": round(100 * run.progress_done / run.progress_total) if run.progress_total else 0,
        "queue_position": place.position if place else None,
        "queue_ahead": place.ahead if place else None,
        "estimated_start": start.isoformat() if start else None,
        "estimated_start_text": place.estimate if place else None,
        "failure_reason": run.failure_reason,
        "mean": run.mean,
        "stderr": run.stderr,
        "accuracy": run.accuracy,
    }
    if failure_details and run.status == EvaluationRun.Status.FAILED:
        state["failure_details"] = {
            "exception": run.failure_exception,
            "message": run.failure_message,
            "traceback": run.failure_traceback,
        }
    return state


@login_required
def evaluation_status(request: HttpRequest, pk: int, number: int) -> JsonResponse:
    """Progress of every run the viewer may see, polled by the version page."""
    version = _version(request, pk, number)
    runs = selectors.runs_visible_to(request.user, version=version)
    places = selectors.queue_places(runs)
    now = timezone.now()
    return JsonResponse(
        {
            "runs": [
                run_state(run, places.get(run.pk), now=now, failure_details=is_organizer(request.user))
                for run in runs
            ],
            "finished": all(run.is_finished for run in runs),
            "delayed": broker.delay_notice(runs),
        }
    )


@login_required
def evidence_fragment(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """The version page's evaluation section alone: the page swaps it in when a run finishes."""
    version = _version(request, pk, number)
    return render(
        request,
        "evaluation/_evidence.html",
        {
            "submission": version.submission,
            "version": version,
            "evidence": version_evidence(user=request.user, version=version),
        },
    )


@login_required
def examples_drill_down(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """Every example of the version's evaluation, a page at a time, as the query string asks (a GET form).
    Whoever sees the version page sees this one, blind for reviewers as it is: no authors, no file name."""
    version = _version(request, pk, number)
    return render(
        request,
        "evaluation/drill_down.html",
        {
            "submission": version.submission,
            "version": version,
            "drill": drilldown.drill_down(user=request.user, version=version, params=request.GET),
        },
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text a spreadsheet would run as a formula gets a leading apostrophe (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@login_required
def results_download(request: HttpRequest, pk: int, number: int, fmt: str) -> HttpResponse:
    """Per-example results of every visible run, as CSV or JSON."""
    version = _version(request, pk, number)
    runs = [r for r in selectors.runs_visible_to(request.user, version=version) if r.status == "succeeded"]
    records = [
        {
            "series": result.run.model.series.name,
            "model": result.run.model.name,
            "parameters": result.run.model.parameter_count,
            "row": result.row,
            "value": result.value,
            "correct": result.correct,
            "class_logprobs": result.class_logprobs,
        }
        for result in selectors.results_of(runs)
    ]
    name = f"submission-{pk}-v{number}-results"
    if fmt == "json":
        response = HttpResponse(json.dumps(records, indent=1), content_type="application/json")
    else:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        writer = csv.writer(response)
        writer.writerow(["series", "model", "parameters", "row", "value", "correct", "class_logprobs"])
        for r in records:
            writer.writerow(
                [
                    spreadsheet_safe(v)
                    for v in (r["series"], r["model"], r["parameters"], r["row"], r["value"], r["correct"])
                ]
                + [json.dumps(r["class_logprobs"])]
            )
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
@require_POST
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_visible_to(request.user, run_id=run_id)
    if run is None:
        raise Http404("No such evaluation run.")
    try:
        services.retry_run(run=run, user=request.user)
    except PermissionDenied as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{run.model.name} is queued again.")
    back = request.POST.get("next", "")  # the rounds console retries from its own page
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    if run.reproduction_id:
        page = "submission_detail" if is_organizer(request.user) else "review_page"
        submission_id = run.reproduction.version.submission_id
        return redirect(reverse(page, args=[submission_id]) + f"#reproduction-{run.reproduction_id}")
    version = run.version
    return redirect("version_detail", pk=version.submission_id, number=version.number)


@login_required
def figure_png_download(
    request: HttpRequest, pk: int, number: int, series_id: int, kind: str
) -> HttpResponse:
    """A chart of the version page as a PNG image (for slides, e-mails and the export)."""
    version = _version(request, pk, number)
    figures = series_figures(user=request.user, version=version, series_id=series_id)
    if kind not in figures:
        raise Http404("No such chart (yet) for this version.")
    try:
        image = charts.chart_png(figures[kind])
    except charts.RenderersBusy as busy:
        logger.warning("chart PNG refused: renderers busy", extra={"reason": str(busy), "series": series_id})
        response = HttpResponse(
            "Every chart renderer of this server is busy: try again in a few seconds.",
            status=503,
            content_type="text/plain",
        )
        response["Retry-After"] = str(charts.RETRY_AFTER_SECONDS)
        return response
    except PngExportUnavailable as error:
        logger.error("PNG export unavailable", extra={"reason": str(error)})
        return HttpResponse(
            "Charts cannot be exported as images on this server right now; the organizers have been told.",
            status=503,
            content_type="text/plain",
        )
    response = HttpResponse(image, content_type="image/png")
    response["Content-Disposition"] = (
        f'attachment; filename="submission-{pk}-v{number}-{series_id}-{kind}.png"'
    )
    return response


@login_required
def verdicts_help(request: HttpRequest) -> HttpResponse:
    """What each trend verdict means, with its test and numbers: every verdict on the pages links here."""
    return render(
        request,
        "evaluation/help_verdicts.html",
        {
            "confidence_percent": round(trends.CONFIDENCE * 100),
            "n_boot": trends.N_BOOT,
            "splits": trends.SPLITS,
            "reproduction_rule": RULE,
            "verdicts": {
                "inverse": trends.VERDICT_INVERSE,
                "u_shaped": trends.VERDICT_U_SHAPED,
                "standard": trends.VERDICT_STANDARD,
                "inverted_u": trends.VERDICT_INVERTED_U,
                "none": trends.VERDICT_NONE,
                "at_chance": trends.VERDICT_AT_CHANCE,
            },
        },
    )


def _reproduced(request: HttpRequest, pk: int) -> Submission:
    """The submission, for an organizer or one of its assigned reviewers without a conflict; 404 for anyone
    else, its team included, as for a submission they may not see."""
    submission = visible_submission_or_404(request.user, pk, "round", "current_version")
    if not services.may_reproduce(user=request.user, submission=submission):
        raise Http404("No such submission.")
    return submission


def _reproduction(request: HttpRequest, pk: int, reproduction_id: int) -> Reproduction:
    submission = _reproduced(request, pk)
    return get_object_or_404(
        Reproduction.objects.select_related("created_by", "version__submission__round"),
        pk=reproduction_id,
        version__submission=submission,
    )


def reproduction_form(request: HttpRequest) -> ReproductionForm:
    return bound_form(ReproductionForm, request)


@login_required
@require_http_methods(["GET", "POST"])
def reproductions(request: HttpRequest, pk: int) -> HttpResponse:
    """The reproductions of the submission's current version, and the form that attaches one. The review page
    and the organizer's view of the submission post their form here; a refused file comes back to this page
    with every problem beside the file field and the note as it was typed."""
    submission = _reproduced(request, pk)
    form = reproduction_form(request)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["task_file"]
        try:
            reproduction = services.create_reproduction(
                user=request.user,
                submission=submission,
                upload=TaskUpload(name=upload.name, data=upload.read()),
                note=form.cleaned_data["note"],
            )
        except TaskFileInvalid as invalid:
            for line in invalid.report.lines():
                if not line.startswith("warning:"):
                    form.add_error("task_file", line)
        except PermissionDenied as refused:
            form.add_error(None, str(refused))
        else:
            messages.success(
                request,
                f"{reproduction.label} is attached with {reproduction.example_count:,} examples; it is being "
                f"evaluated on the models of version {reproduction.version.number}.",
            )
            back = "submission_detail" if is_organizer(request.user) else "review_page"
            return redirect(reverse(back, args=[submission.pk]) + f"#reproduction-{reproduction.pk}")
    version = submission.current_version
    original = version_evidence(user=request.user, version=version)
    return render(
        request,
        "evaluation/reproductions.html",
        {
            "submission": submission,
            "version": version,
            "reproductions": reproductions_evidence(user=request.user, version=version, original=original),
            "reproduction_form": form,
            "reproduction_rule": RULE,
        },
    )


@login_required
def reproduction_status(request: HttpRequest, pk: int, reproduction_id: int) -> JsonResponse:
    """Progress of the reproduction's runs, polled by the pages that show it."""
    shown = reproduction_evidence(user=request.user, reproduction=_reproduction(request, pk, reproduction_id))
    now = timezone.now()
    return JsonResponse(
        {
            "runs": [
                run_state(run, run.queue_place, now=now, failure_details=is_organizer(request.user))
                for run in shown.runs
            ],
            "finished": shown.finished,
            "delayed": broker.delay_notice(shown.runs),
        }
    )


@login_required
def reproduction_fragment(request: HttpRequest, pk: int, reproduction_id: int) -> HttpResponse:
    """One reproduction's section alone: the page swaps it in when one of its runs finishes."""
    reproduction = _reproduction(request, pk, reproduction_id)
    return render(
        request,
        "evaluation/_reproduction.html",
        {
            "submission": reproduction.version.submission,
            "r": reproduction_evidence(user=request.user, reproduction=reproduction),
        },
    )


@login_required
def reproduction_download(request: HttpRequest, pk: int, reproduction_id: int) -> FileResponse:
    reproduction = _reproduction(request, pk, reproduction_id)
    # Named after the submission, never after the file its maker uploaded (which could name them).
    name = f"submission-{pk}-v{reproduction.version.number}-reproduction-{reproduction.number}.csv"
    return FileResponse(reproduction.task_file.open("rb"), as_attachment=True, filename=name)
