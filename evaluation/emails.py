"""The results e-mail: once every public run of a version has finished, its team hears the verdict of each public
series, with the charts as PNG images and a link to the version page. Private series are never mentioned."""

import logging

from django.conf import settings
from django.template.defaultfilters import slugify
from django.urls import reverse
from django.utils import timezone

from evaluation import charts
from evaluation.evidence import SeriesEvidence, public_evidence
from evaluation.models import EvaluationRun, ResultsEmail
from evaluation.plots import PngExportUnavailable
from submissions.emails import send_to_each, team_members_to_write
from submissions.models import SubmissionVersion

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _series_summary(evidence: SeriesEvidence) -> dict:
    """What the e-mail says of one series: its verdict worded as on the version page, or why it has none."""
    runs = evidence.runs
    failed = [r.model.name for r in runs if r.status == EvaluationRun.Status.FAILED]
    trend = evidence.trend
    return {
        "name": evidence.series.name,
        "verdict": trend.verdict if trend else None,
        "explanations": trend.explanations() if trend else [],
        "help_url": _absolute(reverse("verdicts_help")) + (f"#{trend.anchor}" if trend else ""),
        "succeeded": len(evidence.succeeded),
        "total": len(runs),
        "failed_models": failed,
    }


def _chart_images(version: SubmissionVersion, evidences: list[SeriesEvidence]) -> list[tuple[str, bytes]]:
    """Every chart of the public series as (file name, PNG); none, logged, when this machine cannot render them
    (no Chromium) or every renderer stays busy: the e-mail goes without them."""
    images = []
    for evidence in evidences:
        for kind, figure in evidence.figures.items():
            try:
                png = charts.chart_png(figure)
            except (PngExportUnavailable, charts.RenderersBusy) as error:
                logger.warning(
                    "results e-mail sent without chart images",
                    extra={"version": version.pk, "reason": str(error)},
                )
                return []
            images.append((f"{slugify(evidence.series.name)}-{kind}.png", png))
    return images


def send_results_email(*, version_id: int, user_ids: list[int] | None = None) -> list[int]:
    """Tell every member of the team (or those of ``user_ids``) the version's public results: one e-mail each,
    from template triples. Returns the ids of the members whose e-mail could not be sent, each failure logged."""
    version = SubmissionVersion.objects.select_related("submission__round", "submission__team").get(
        pk=version_id
    )
    evidences = public_evidence(version=version)
    images = _chart_images(version, evidences)
    context = {
        "version": version,
        "series": [_series_summary(e) for e in evidences],
        "url": _absolute(reverse("version_detail", args=[version.submission_id, version.number])),
        "images": [name for name, _ in images],
    }
    failed = send_to_each(
        users=team_members_to_write(team_id=version.submission.team_id, user_ids=user_ids),
        template="results_ready",
        context=context,
        event="results e-mail not sent",
        version_id=version_id,
        attachments=[(name, png, "image/png") for name, png in images],
    )
    if user_ids is None:  # the first attempt records the outcome; retries reach only those it failed for
        ResultsEmail.objects.filter(version_id=version_id).update(
            sent_at=timezone.now(), with_charts=bool(images)
        )
    return failed
