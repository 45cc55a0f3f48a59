import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from contest.text import one_line
from submissions.models import SubmissionVersion

logger = logging.getLogger(__name__)


def send_submission_receipt(*, version_id: int, user_ids: list[int] | None = None) -> list[int]:
    """Tell every member of the team (or those of `user_ids`) that a version was received: one e-mail each,
    from template triples. Returns the ids of the members whose e-mail could not be sent, each failure logged."""
    version = SubmissionVersion.objects.select_related(
        "submission__round", "submission__team", "created_by"
    ).get(pk=version_id)
    url = settings.SITE_URL.rstrip("/") + version.submission.get_absolute_url()
    members = get_user_model().objects.filter(membership__team=version.submission.team_id).exclude(email="")
    if user_ids is not None:
        members = members.filter(pk__in=user_ids)
    failed = []
    for user in members.order_by("pk"):
        context = {"version": version, "user": user, "url": url}
        # A header must be one line: a name that was saved with a line break must not lose the e-mail.
        subject = one_line(render_to_string("emails/submission_received_subject.txt", context))
        message = EmailMultiAlternatives(
            subject, render_to_string("emails/submission_received.txt", context), to=[user.email]
        )
        message.attach_alternative(render_to_string("emails/submission_received.html", context), "text/html")
        try:
            message.send()
        except Exception:  # whatever failed for this recipient is logged, and the task retries it
            logger.warning(
                "submission receipt not sent",
                exc_info=True,
                extra={"version": version_id, "user": user.pk, "recipient": user.email},
            )
            failed.append(user.pk)
    return failed
