"""Writes for the contest page."""

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.selectors import is_organizer
from pages.contest_text import BY_KEY
from pages.models import ContestText, ContestTextRevision


def save_contest_text(*, key: str, body: str, by: AbstractBaseUser) -> ContestText | None:
    """Store an organizer's text for a section of the contest page, keeping the text it replaces in the history.
    An empty body shows the section's default again."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers can edit the contest page.")
    if key not in BY_KEY:
        raise KeyError(key)
    now = timezone.now()
    with transaction.atomic():
        ContestTextRevision.objects.create(key=key, body=body, edited_at=now, edited_by=by)
        if not body.strip():
            ContestText.objects.filter(key=key).delete()
            return None
        text, _ = ContestText.objects.update_or_create(
            key=key, defaults={"body": body, "updated_at": now, "updated_by": by}
        )
    return text
