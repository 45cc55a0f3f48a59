from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from reviews.models import Assignment
from submissions.selectors import LISTS_SKIP


def assignments_of(reviewer: AbstractBaseUser) -> list[Assignment]:
    """The reviewer's assignments, but those of withdrawn submissions (no longer reviewed)."""
    return list(
        Assignment.objects.filter(reviewer=reviewer, submission__withdrawn_at__isnull=True)
        .select_related("submission__round", "submission__current_version")
        .defer(*(f"submission__{name}" for name in LISTS_SKIP))
    )


def assigned_to(user: AbstractBaseUser) -> Q:
    """The submissions assigned to ``user`` for review, as a filter on submissions."""
    return Q(assignments__reviewer=user)
