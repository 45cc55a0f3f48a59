from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Assignment(models.Model):
    """A reviewer asked to review one submission. Reviews are blind: the reviewer never sees who submitted."""

    class Method(models.TextChoices):
        BY_HAND = "by_hand", "By hand"
        AUTOMATIC = "automatic", "Automatic"

    submission = models.ForeignKey(
        "submissions.Submission", on_delete=models.CASCADE, related_name="assignments"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_assignments"
    )
    # Empty when the assign_reviewers command made it: it runs from a shell, not as a person of the site.
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    assigned_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.BY_HAND)

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["submission", "reviewer"], name="one_assignment_per_reviewer")
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} reviews {self.submission}"


class Conflict(models.Model):
    """A reviewer must not review the submissions of a team, or of any team a contestant is in.

    The reviewer declares it, or an organizer sets it. Conflicts through a shared institutional e-mail domain
    are not stored: they follow from the addresses and the organizers' list of `InstitutionalDomain`s.
    """

    class Source(models.TextChoices):
        DECLARED = "declared", "Declared by the reviewer"
        ORGANIZER = "organizer", "Set by an organizer"

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_conflicts"
    )
    team = models.ForeignKey(
        "accounts.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="review_conflicts"
    )
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_conflicts_as_person",
        help_text="A contestant: the reviewer is conflicted with whichever team they are in.",
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="E.g. co-author, same lab, advisor.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=True, person__isnull=False)
                | Q(team__isnull=False, person__isnull=True),
                name="conflict_with_a_team_or_a_person",
            ),
            models.UniqueConstraint(
                fields=["reviewer", "team"], condition=Q(team__isnull=False), name="one_conflict_per_team"
            ),
            models.UniqueConstraint(
                fields=["reviewer", "person"],
                condition=Q(person__isnull=False),
                name="one_conflict_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer} conflicts with {self.team or self.person}"


class InstitutionalDomain(models.Model):
    """An e-mail domain of one institution (a university, a lab, a company): a reviewer and a contestant with
    addresses there (or at a subdomain) are conflicted. Public webmail domains are never listed."""

    domain = models.CharField(max_length=253, unique=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
