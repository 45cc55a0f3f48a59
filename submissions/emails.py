import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from contest.text import one_line
from submissions.models import SubmissionVersion

logger = logging.getLogger(__name__)


def team_members_to_write(*, team_id: int, user_ids: list[int] | None = None):
    """The members of a team with an e-mail address (or those of ``user_ids``: the ones a retry is for)."""
    members = get_user_model().objects.filter(membership__team=team_id).exclude(email="")
    if user_ids is not None:
        members = members.filter(pk__in=user_ids)
    return members.order_by("pk")


def send_to_each(
    *, users, template: str, context: dict, event: str, version_id: int, attachments=()
) -> list[int]:
    """Send the template triple ``emails/<template>{_subject.txt,.txt,.html}`` to each user, one e-mail each,
    with ``user`` in the context and ``attachments`` as (file name, bytes, MIME type). Returns the ids of the
    users it could not be sent to, each failure logged as ``event`` (the task retries those)."""
    failed = []
    for user in users:
        context = {**context, "user": user}
        # A header must be one line: a name that was saved with a line break must not lose the e-mail.
        subject = one_line(render_to_string(f"emails/{template}_subject.txt", context))
        message = EmailMultiAlternatives(
            subject, render_to_string(f"emails/{template}.txt", context), to=[user.email]
        )
        message.attach_alternative(render_to_string(f"emails/{template}.html", context), "text/html")
        for name, content, mimetype in attachments:
            message.attach(name, content, mimetype)
        try:
            message.send()
        except Exception:  # whatever failed for this recipient is logged, and the task retries it
            logger.warning(
                event, exc_info=True, extra={"version": version_id, "user": user.pk, "recipient": user.email}
            )
            failed.append(user.pk)
    return failed


def send_submission_receipt(*, version_id: int, user_ids: list[int] | None = None) -> list[int]:
    """Tell every member of the team (or those of `user_ids`) that a version was received: one e-mail each,
    from template triples. Returns the ids of the members whose e-mail could not be sent, each failure logged."""
    version = SubmissionVersion.objects.select_related(
        "submission__round", "submission__team", "created_by"
    ).get(pk=version_id)
    url = settings.SITE_URL.rstrip("/") + version.submission.get_absolute_url()
    return send_to_each(
        users=team_members_to_write(team_id=version.submission.team_id, user_ids=user_ids),
        template="submission_received",
        context={"version": version, "url": url},
        event="submission receipt not sent",
        version_id=version_id,
    )
