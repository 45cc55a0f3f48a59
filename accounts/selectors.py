from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from accounts.models import Role, Team


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The user's roles, read once per request and cached on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_contest_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._contest_roles = cached
    return cached


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return role.value in roles_of(user)


def is_organizer(user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and (user.is_superuser or has_role(user, Role.ORGANIZER))


def team_of(user: AbstractBaseUser | AnonymousUser) -> Team | None:
    if not user.is_authenticated:
        return None
    membership = getattr(user, "membership", None)
    return membership.team if membership else None
