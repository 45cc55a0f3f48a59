"""Feedback release: once an organizer releases a round's feedback, each contestant of each submission gets one
e-mail (the reviewers' comments for the authors, the decision, the private series' plots) and the version page
shows them the same feedback and the private plots.

What contestants read is built in one place (:func:`feedback_context`) from the submitted reviews, never with
a confidential comment or a reviewer's name (reviewers are "Reviewer 1", "Reviewer 2" in a fixed order). The
e-mail's wording is the organizers' :class:`FeedbackTemplate` (the files under templates/emails/ until they edit
it), rendered by an engine that loads no file and no tag library, with autoescaping on for the HTML.

Sending is idempotent: one :class:`FeedbackEmail` row per (round, submission, recipient), created once; a task
sends a row only after moving it ``queued → sending`` by compare-and-set. Releasing again (or after a crash)
creates the missing rows and sends the rows still queued; a row once claimed is never sent again by itself.
"""

import logging
import re
from dataclasses import dataclass, field
from email.mime.image import MIMEImage
from email.utils import make_msgid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import DNS_NAME, EmailMultiAlternatives
from django.db import transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaultfilters import slugify
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone

from accounts.selectors import is_organizer
from contest import tally
from contest.text import one_line
from evaluation import charts
from evaluation.evidence import private_evidence
from evaluation.models import ModelSeries, SeriesRelease
from evaluation.plots import PngExportUnavailable
from reviews.models import Award, FeedbackEmail, FeedbackRelease, FeedbackTemplate, Review, Tier
from reviews.selectors import tally_rounds
from submissions.models import Round, Submission
from submissions.selectors import is_team_member, out_of_decisions

logger = logging.getLogger(__name__)

SEND_FEEDBACK_EMAIL_TASK = "reviews.tasks.send_feedback_email"
TEMPLATE_FILES = {
    "subject": "emails/feedback_subject.txt",
    "text": "emails/feedback.txt",
    "html": "emails/feedback.html",
}
PLACEHOLDERS = (
    "recipient",
    "task_name",
    "round_name",
    "tier",
    "prize_usd",
    "accepted",
    "reviews",
    "series",
    "url",
)
_DEBUG_TAG = re.compile(r"{%-?\s*debug\b")

Status = FeedbackEmail.Status


# The wording ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wording:
    subject: str
    text: str
    html: str
    saved: FeedbackTemplate | None = None  # None: the default from files


def _engine(*, autoescape: bool) -> Engine:
    """Django's template language with its built-in tags and filters only: no loader (an ``include`` or
    ``extends`` finds nothing) and no library to ``load``."""
    return Engine(autoescape=autoescape, libraries={}, loaders=[])


def _default_wording() -> Wording:
    sources = {key: get_template(name).template.source for key, name in TEMPLATE_FILES.items()}
    return Wording(subject=sources["subject"].strip(), text=sources["text"], html=sources["html"])


def feedback_wording() -> Wording:
    saved = FeedbackTemplate.objects.select_related("saved_by").first()
    if saved is None:
        return _default_wording()
    return Wording(subject=saved.subject, text=saved.text, html=saved.html, saved=saved)


def check_wording(*, subject: str, text: str, html: str) -> dict[str, str]:
    """Field → what is wrong with it (empty when all three render)."""
    problems = {}
    for key, source in (("subject", subject), ("text", text), ("html", html)):
        if not source.strip():
            problems[key] = "This part of the e-mail is empty."
        elif _DEBUG_TAG.search(source):
            problems[key] = "The {% debug %} tag is not allowed: it would mail the server's internals."
        else:
            try:
                _engine(autoescape=key == "html").from_string(source)
            except TemplateSyntaxError as error:
                problems[key] = f"Template error: {error}"
    return problems


def save_wording(*, subject: str, text: str, html: str, by: AbstractBaseUser) -> FeedbackTemplate:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers word the feedback e-mail.")
    problems = check_wording(subject=subject, text=text, html=html)
    if problems:
        raise ValidationError(problems)
    return FeedbackTemplate.objects.create(subject=subject.strip(), text=text, html=html, saved_by=by)


# What contestants read -----------------------------------------------------------------------------------------


def tier_wording(tier: str | None) -> str:
    if tier in tally.PRIZES:
        return f"{Tier(tier).label} (${tally.AMOUNT_USD[tier]:,})"
    if tier == Tier.ACCEPTED:
        return "Accepted: in the benchmark, with co-authorship, no prize"
    return "Not accepted"


def reviews_for_authors(reviews: list[Review]) -> list[dict]:
    """The submitted reviews as the authors may read them: numbered, never named, never the confidential
    comment; each criterion with its comment (those without one are left out)."""
    out = []
    for number, review in enumerate(reviews, start=1):
        criteria = [
            {"name": c["name"], "comment": review.criterion_comments.get(c["key"], "").strip()}
            for c in review.rubric.criteria
        ]
        out.append(
            {
                "reviewer": f"Reviewer {number}",
                "comment": review.comment_for_authors.strip(),
                "criteria": [c for c in criteria if c["comment"]],
            }
        )
    return out


def _submitted_reviews(submission_ids: list[int]) -> dict[int, list[Review]]:
    reviews = (
        Review.objects.filter(assignment__submission__in=submission_ids, status=Review.Status.SUBMITTED)
        .select_related("rubric", "assignment")
        .order_by("assignment__assigned_at", "assignment_id")
    )
    by_submission: dict[int, list[Review]] = {}
    for review in reviews:
        by_submission.setdefault(review.assignment.submission_id, []).append(review)
    return by_submission


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


@dataclass
class Image:
    cid: str
    filename: str
    png: bytes


@dataclass
class FeedbackMessage:
    subject: str
    text: str
    html: str
    images: list[Image] = field(default_factory=list)


def _private_series(submission: Submission, *, with_images: bool) -> tuple[list[dict], list[Image]]:
    """Each private series' verdict and, where this machine renders PNGs, its charts (none, logged, when it
    cannot: the e-mail goes without them, and the site has the interactive plots)."""
    evidences = private_evidence(version=submission.current_version)
    series = [
        {"name": e.series.name, "verdict": e.trend.verdict if e.trend else "", "images": []}
        for e in evidences
    ]
    if not with_images:
        return series, []
    images = []
    try:
        for entry, evidence in zip(series, evidences, strict=True):
            for kind, figure in evidence.figures.items():
                name = f"{slugify(evidence.series.name)}-{kind}"
                image = Image(cid=f"{name}@feedback", filename=f"{name}.png", png=charts.chart_png(figure))
                images.append(image)
                entry["images"].append({"cid": image.cid, "kind": kind, "filename": image.filename})
    except (PngExportUnavailable, charts.RenderersBusy) as error:
        logger.warning(
            "feedback e-mail sent without chart images",
            extra={"submission": submission.pk, "reason": str(error)},
        )
        for entry in series:
            entry["images"] = []
        return series, []
    return series, images


def feedback_context(
    *,
    submission: Submission,
    award: Award | None,
    reviews: list[Review],
    recipient: str,
    round: Round | None = None,
) -> dict:
    """The placeholders of the e-mail (plain data only: the wording is organizers' text, and a template can
    reach only what it is given). ``round`` is the round whose feedback this is (the submission's own unless
    the final round's tally decided it again)."""
    tier = award.tier if award else None
    return {
        "recipient": recipient,
        "task_name": submission.current_version.task_name,
        "round_name": (round or submission.round).name,
        "tier": tier_wording(tier),
        "prize_usd": tally.AMOUNT_USD.get(tier or ""),
        "accepted": tier in (*tally.PRIZES, Tier.ACCEPTED),
        "reviews": reviews_for_authors(reviews),
        "series": [],
        "url": _absolute(reverse("version_detail", args=[submission.pk, submission.current_version.number])),
    }


def render_feedback(
    *,
    submission: Submission,
    recipient: str,
    wording: Wording | None = None,
    with_images: bool = True,
    round: Round | None = None,
) -> FeedbackMessage:
    """The e-mail to one contestant about one submission in ``round``'s feedback (the submission's own round
    unless given: the final round's feedback also tells round 1's authors the final decision), as it will be
    (or was) sent."""
    wording = wording or feedback_wording()
    round = round or submission.round
    award = Award.objects.filter(submission=submission, round=round).first()
    context = feedback_context(
        submission=submission,
        award=award,
        reviews=_submitted_reviews([submission.pk]).get(submission.pk, []),
        recipient=recipient,
        round=round,
    )
    context["series"], images = _private_series(submission, with_images=with_images)
    text_engine, html_engine = _engine(autoescape=False), _engine(autoescape=True)
    return FeedbackMessage(
        # Plain strings: the template engine marks what it renders safe, which only the HTML is.
        subject=one_line(
            str.__str__(text_engine.from_string(wording.subject).render(Context(context, autoescape=False)))
        ),
        text=str.__str__(text_engine.from_string(wording.text).render(Context(context, autoescape=False))),
        html=html_engine.from_string(wording.html).render(Context(context, autoescape=True)),
        images=images,
    )


def rounds_deciding(submission: Submission) -> list[Round]:
    """The rounds whose feedback speaks of the submission: its own and, for a round-1 submission, the final
    round, whose tally may upgrade it."""
    rounds = tally_rounds()
    if submission.round not in rounds:
        return [submission.round]
    return rounds[rounds.index(submission.round) :]


def feedback_for(*, user: AbstractBaseUser, submission: Submission) -> dict | None:
    """What the version page shows the team of the submission once feedback about it is released and its
    award decided (None before, and for anyone else): the tier of the latest released decision and the
    reviewers' comments for the authors; or, for a task still competing in a round released without it
    (submitted late), that its decision comes with a later release (``pending``). Three queries at most with a
    decision, whatever the number of reviews; four for a pending one."""
    if not is_team_member(user=user, submission=submission):
        return None
    # Only what a release told the team: an award confirmed after its round's release (a task submitted late)
    # shows when *Release again* sends its e-mail.
    award = (
        Award.objects.filter(
            submission=submission,
            round__in=rounds_deciding(submission),
            released_at__isnull=False,
        )
        .select_related("round")
        .order_by("-round__deadline", "-round_id")
        .first()
    )
    if award is None:
        release = FeedbackRelease.objects.filter(round=submission.round_id).first()
        if release is None or submission.pk in out_of_decisions(round_ids=[submission.round_id]):
            return None
        return {"pending": True, "round": submission.round.name, "released_at": release.released_at}
    return {
        "round": award.round.name,
        "final": award.round_id != submission.round_id,
        "tier": tier_wording(award.tier),
        "reviews": reviews_for_authors(_submitted_reviews([submission.pk]).get(submission.pk, [])),
    }


# Releasing -----------------------------------------------------------------------------------------------------


def covered_rounds(round: Round) -> list[Round]:
    """The rounds whose submissions ``round``'s feedback speaks to: the final round's tally decides round 1's
    submissions again (the rules let it upgrade them), so its feedback goes to their authors as well."""
    rounds = tally_rounds()
    if round not in rounds:
        return [round]
    return rounds[: rounds.index(round) + 1]


def _submissions_of(round: Round):
    """The submissions that get feedback in ``round``'s release: those its tally decides (withdrawn ones and
    those their team chose not to keep compete for nothing, and are told nothing)."""
    covered = [r.pk for r in covered_rounds(round)]
    return (
        Submission.objects.filter(round__in=covered, withdrawn_at__isnull=True, current_version__isnull=False)
        .exclude(pk__in=out_of_decisions(round_ids=covered))
        .select_related("round", "team", "current_version")
        .order_by("pk")
    )


def release_blockers(*, round: Round) -> list[str]:
    """Why the round's feedback cannot be released yet (empty when it can)."""
    awarded = set(Award.objects.filter(round=round).values_list("submission_id", flat=True))
    missing = [s.pk for s in _submissions_of(round) if s.pk not in awarded]
    if not missing:
        return []
    return [
        "Confirm the award of every submission in the tally first; none yet for "
        + ", ".join(f"#{pk}" for pk in missing)
        + "."
    ]


@dataclass
class Recipient:
    submission: Submission
    user: AbstractBaseUser
    email: FeedbackEmail | None  # None: not created yet


def recipients_of(*, round: Round) -> list[Recipient]:
    """Every (submission, team member with an address) of the round, with the e-mail row where it exists: the
    preview and the log read it, and releasing creates the rows that are missing. Three queries."""
    submissions = list(_submissions_of(round))
    members: dict[int, list] = {}
    users = (
        get_user_model()
        .objects.filter(membership__team__in={s.team_id for s in submissions})
        .exclude(email="")
        .select_related("membership")
        .order_by("pk")
    )
    for user in users:
        members.setdefault(user.membership.team_id, []).append(user)
    emails = {
        (e.submission_id, e.recipient_id): e
        for e in FeedbackEmail.objects.filter(round=round, submission__in=[s.pk for s in submissions])
    }
    return [
        Recipient(submission=s, user=user, email=emails.get((s.pk, user.pk)))
        for s in submissions
        for user in members.get(s.team_id, [])
    ]


@dataclass
class ReleaseOutcome:
    created: int  # e-mail rows created by this release
    queued: int  # rows sent to the queue (new ones and those a crash left queued)
    already: int  # rows claimed before: sent, sending or failed; not sent again
    plan: list[tuple[str, str, str]]  # (address, task, what happens) for every recipient


def release_feedback(*, round: Round, by: AbstractBaseUser, dry_run: bool = False) -> ReleaseOutcome:
    """Release the round's feedback: the site shows it (and the private series) to the contestants, and each
    of them is sent one e-mail per submission, on the ``default`` queue once this commits. Safe to repeat: what
    was sent is not sent again, what a crash left unsent is sent now."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers release feedback.")
    blockers = release_blockers(round=round)
    if blockers:
        raise ValidationError(blockers)
    recipients = recipients_of(round=round)
    plan = [
        (
            r.user.email,
            r.submission.current_version.task_name,
            "send" if r.email is None or r.email.status == Status.QUEUED else f"already {r.email.status}",
        )
        for r in recipients
    ]
    if dry_run:
        return ReleaseOutcome(
            created=sum(r.email is None for r in recipients),
            queued=sum(p[2] == "send" for p in plan),
            already=sum(p[2] != "send" for p in plan),
            plan=plan,
        )
    with transaction.atomic():
        FeedbackRelease.objects.get_or_create(round=round, defaults={"released_by": by})
        Award.objects.filter(round=round, released_at__isnull=True).update(released_at=timezone.now())
        for series in ModelSeries.objects.filter(visibility=ModelSeries.Visibility.PRIVATE):
            for covered in covered_rounds(round):
                SeriesRelease.objects.get_or_create(
                    series=series, round=covered, defaults={"released_by": by}
                )
        wording = feedback_wording()
        new = [
            FeedbackEmail(
                round=round,
                submission=r.submission,
                recipient=r.user,
                to=r.user.email,
                subject=_subject(wording, r, round),
            )
            for r in recipients
            if r.email is None
        ]
        # A concurrent release may have created some of them: the unique constraint keeps the first.
        FeedbackEmail.objects.bulk_create(new, ignore_conflicts=True)
        queued = list(
            FeedbackEmail.objects.filter(round=round, status=Status.QUEUED).values_list("pk", flat=True)
        )
        for email_id in queued:
            _enqueue(email_id)
    logger.info(
        "feedback released",
        extra={"round": round.pk, "new_emails": len(new), "queued": len(queued), "by": by.pk},
    )
    return ReleaseOutcome(
        created=len(new), queued=len(queued), already=len(recipients) - len(queued), plan=plan
    )


def _subject(wording: Wording, recipient: Recipient, round: Round) -> str:
    try:
        return render_feedback(
            submission=recipient.submission,
            recipient=recipient.user.get_username(),
            wording=Wording(subject=wording.subject, text="", html=""),
            with_images=False,
            round=round,
        ).subject[:300]
    except Exception:  # the log shows the subject when it is sent; a broken one fails then, with its reason
        return ""


def _enqueue(email_id: int) -> None:
    def send() -> None:
        from reviews.tasks import send_feedback_email

        send_feedback_email.apply_async(args=[email_id], queue="default")

    transaction.on_commit(send)


def is_released(*, round: Round) -> bool:
    return FeedbackRelease.objects.filter(round=round).exists()


def awards_not_yet_released(*, round: Round) -> list[int]:
    """The submissions whose award the round's tally confirmed since its release: their teams are told (site
    and e-mail) when it is released again."""
    return list(
        Award.objects.filter(round=round, released_at__isnull=True, round__feedback_release__isnull=False)
        .order_by("submission_id")
        .values_list("submission_id", flat=True)
    )


# Sending -------------------------------------------------------------------------------------------------------


def claim_feedback_email(*, email_id: int) -> bool:
    """True for exactly one caller: the one that moved the row from queued to sending."""
    return bool(
        FeedbackEmail.objects.filter(pk=email_id, status=Status.QUEUED).update(
            status=Status.SENDING, claimed_at=timezone.now()
        )
    )


def send_feedback_email(*, email_id: int) -> bool:
    """Send one feedback e-mail if this call claims it; record the outcome (sent with its id, or failed with the
    reason). True when it was sent now."""
    if not claim_feedback_email(email_id=email_id):
        return False
    email = FeedbackEmail.objects.select_related("recipient", "round").get(pk=email_id)
    # One Message-ID for every attempt, recorded before the first: when a failure hides that the provider took
    # the message (the connection dropped before its reply), the retry's copy is known for the same message.
    message_id = email.provider_id if email.provider_id.startswith("<") else make_msgid(domain=str(DNS_NAME))
    FeedbackEmail.objects.filter(pk=email_id).update(attempts=email.attempts + 1, provider_id=message_id)
    context = {"feedback_email": email_id, "submission": email.submission_id, "recipient": email.to}
    try:
        submission = _submissions_of(email.round).get(pk=email.submission_id)
        rendered = render_feedback(
            submission=submission, recipient=email.recipient.get_username(), round=email.round
        )
        message = _message(rendered, to=email.to, message_id=message_id)
        message.send()
    except Exception as error:  # whatever failed is logged and shown in the log, where it can be retried
        logger.warning("feedback e-mail not sent", exc_info=True, extra=context)
        FeedbackEmail.objects.filter(pk=email_id).update(
            status=Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000]
        )
        return False
    status = getattr(message, "anymail_status", None)  # an anymail backend reports the provider's id
    provider_id = getattr(status, "message_id", None) or message.extra_headers["Message-ID"]
    FeedbackEmail.objects.filter(pk=email_id).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        subject=rendered.subject[:300],
        provider_id=str(provider_id)[:300],
        error="",
    )
    logger.info("feedback e-mail sent", extra={**context, "with_images": bool(rendered.images)})
    return True


def _message(rendered: FeedbackMessage, *, to: str, message_id: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        rendered.subject, rendered.text, to=[to], headers={"Message-ID": message_id}
    )
    message.attach_alternative(rendered.html, "text/html")
    if rendered.images:
        # Images shown in the HTML by Content-ID: the alternatives and the images form one multipart/related.
        message.mixed_subtype = "related"
        for image in rendered.images:
            part = MIMEImage(image.png, "png")
            part.add_header("Content-ID", f"<{image.cid}>")
            part.add_header("Content-Disposition", "inline", filename=image.filename)
            message.attach(part)
    return message


def retry_feedback_email(*, email: FeedbackEmail, by: AbstractBaseUser) -> bool:
    """An organizer sends a failed e-mail again (through the queue). False when it is not failed (any more)."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers send feedback.")
    with transaction.atomic():
        retried = FeedbackEmail.objects.filter(pk=email.pk, status=Status.FAILED).update(
            status=Status.QUEUED, error=""
        )
        if retried:
            _enqueue(email.pk)
    if retried:
        logger.info("feedback e-mail retried", extra={"feedback_email": email.pk, "by": by.pk})
    return bool(retried)


def retry_failed_feedback(*, round: Round, by: AbstractBaseUser) -> int:
    """An organizer sends every failed e-mail of the round again (after the provider's outage, say): each is
    queued once, as by its own Retry. Returns how many were queued."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers send feedback.")
    with transaction.atomic():
        failed = list(
            FeedbackEmail.objects.select_for_update()
            .filter(round=round, status=Status.FAILED)
            .values_list("pk", flat=True)
        )
        FeedbackEmail.objects.filter(pk__in=failed, status=Status.FAILED).update(
            status=Status.QUEUED, error=""
        )
        for email_id in failed:
            _enqueue(email_id)
    if failed:
        logger.info(
            "failed feedback e-mails retried", extra={"round": round.pk, "emails": len(failed), "by": by.pk}
        )
    return len(failed)


def feedback_log(*, round: Round) -> list[FeedbackEmail]:
    return list(
        FeedbackEmail.objects.filter(round=round)
        .select_related("submission__current_version", "recipient")
        .order_by("submission_id", "to")
    )
