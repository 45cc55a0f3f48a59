from django.contrib.auth.models import AbstractBaseUser

from reviews.models import Assignment


def assignments_of(reviewer: AbstractBaseUser) -> list[Assignment]:
    return list(
        Assignment.objects.filter(reviewer=reviewer).select_related(
            "submission__round", "submission__current_version"
        )
    )
