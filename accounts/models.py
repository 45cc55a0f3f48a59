import secrets

from django.conf import settings
from django.db import models


def new_invite_code() -> str:
    return secrets.token_urlsafe(9)


class Role(models.TextChoices):
    """A role is a Django group of the same name; a user may hold several (an organizer who also reviews)."""

    CONTESTANT = "contestant", "Contestant"
    REVIEWER = "reviewer", "Reviewer"
    ORGANIZER = "organizer", "Organizer"


class Team(models.Model):
    """Contestants who own their submissions together. Every contestant belongs to exactly one team."""

    name = models.CharField(max_length=120, unique=True)
    invite_code = models.CharField(max_length=32, unique=True, default=new_invite_code)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class Invitation(models.Model):
    """An organizer's invitation to take a role (reviewer or organizer). The e-mail carries a signed link that
    expires; the person who opens it signed in with the invited address gets the role, once."""

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    invited_at = models.DateTimeField(auto_now_add=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-invited_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.email} invited as {self.role}"
