from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Membership, Role
from accounts.selectors import has_role, is_organizer
from reviews.models import Assignment


def check_assignment(*, submission, reviewer: AbstractBaseUser) -> None:
    """Raise ValidationError when the reviewer may not review this submission."""
    if not has_role(reviewer, Role.REVIEWER):
        raise ValidationError({"reviewer": f"{reviewer.get_username()} is not a reviewer."})
    if Membership.objects.filter(user=reviewer, team_id=submission.team_id).exists():
        raise ValidationError(
            {"reviewer": f"{reviewer.get_username()} is in the submitting team: a conflict of interest."}
        )


def assign_reviewer(*, submission, reviewer: AbstractBaseUser, by: AbstractBaseUser) -> Assignment:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers assign reviewers.")
    check_assignment(submission=submission, reviewer=reviewer)
    assignment, _ = Assignment.objects.get_or_create(
        submission=submission, reviewer=reviewer, defaults={"assigned_by": by}
    )
    return assignment
