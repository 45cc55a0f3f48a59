from django.conf import settings
from django.db import models
from django.utils import timezone


class ContestText(models.Model):
    """The text an organizer stored for one section of the contest page (Markdown). A section with no row shows
    its default, the 2022 contest's text (pages/contest_text.py)."""

    key = models.CharField(max_length=40, unique=True)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    def __str__(self) -> str:
        return self.key


class ContestTextRevision(models.Model):
    """Every saved text of a section, kept: who wrote it and when."""

    key = models.CharField(max_length=40, db_index=True)
    body = models.TextField(blank=True)
    edited_at = models.DateTimeField(default=timezone.now)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-edited_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.key} at {self.edited_at:%Y-%m-%d %H:%M}"
