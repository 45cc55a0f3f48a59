from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from submissions.models import SubmissionVersion


def send_submission_receipt(*, version_id: int) -> None:
    """Tell every member of the team that a version was received: one e-mail each, from template triples."""
    version = SubmissionVersion.objects.select_related(
        "submission__round", "submission__team", "created_by"
    ).get(pk=version_id)
    url = settings.SITE_URL.rstrip("/") + version.submission.get_absolute_url()
    members = get_user_model().objects.filter(membership__team=version.submission.team_id).exclude(email="")
    for user in members:
        context = {"version": version, "user": user, "url": url}
        subject = render_to_string("emails/submission_received_subject.txt", context).strip()
        message = EmailMultiAlternatives(
            subject, render_to_string("emails/submission_received.txt", context), to=[user.email]
        )
        message.attach_alternative(render_to_string("emails/submission_received.html", context), "text/html")
        message.send()
