import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import router
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Invitation, Role, Team
from config import rows


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The user's roles, read once per request (with the team) and cached on the user object."""
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "_contest_roles", None) is None:
        _read_roles_and_team(user)
    return user._contest_roles


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return role.value in roles_of(user)


def is_organizer(user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and (user.is_superuser or has_role(user, Role.ORGANIZER))


_UNREAD = object()


def team_of(user: AbstractBaseUser | AnonymousUser) -> Team | None:
    """The user's team, read once per request (with the roles) and cached on the user object."""
    if not user.is_authenticated:
        return None
    if getattr(user, "_contest_team", _UNREAD) is _UNREAD:
        _read_roles_and_team(user)
    return user._contest_team


@functools.cache
def _fields() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The user's columns, their team's, and what the one statement reads: both, and a group's name (one row per
    group of the user, one if none; the team's columns NULL without a team)."""
    user = tuple(field.attname for field in get_user_model()._meta.concrete_fields)
    team = tuple(field.attname for field in Team._meta.concrete_fields)
    return user, team, (*user, *(f"membership__team__{name}" for name in team), "groups__name")


def signed_in_user(user_id) -> AbstractBaseUser | None:
    """The user a session names (accounts/backends.py) with their roles and team remembered on it (every page's
    layout shows them): one statement, compiled once per process (``config.rows``; the ORM's compiling of the
    user's, the roles' and the team's queries cost more than running them), None for no such user."""
    user_fields, team_fields, fields = _fields()
    model = get_user_model()
    found = rows.values_by_key(model, user_id, fields)
    if not found:
        return None
    using = router.db_for_read(model)
    first = found[0]
    user = model.from_db(using, user_fields, first[: len(user_fields)])
    team = first[len(user_fields) : len(user_fields) + len(team_fields)]
    user._contest_team = None if team[0] is None else Team.from_db(using, team_fields, team)
    user._contest_roles = frozenset(row[-1] for row in found if row[-1] in Role.values)
    return user


def _read_roles_and_team(user: AbstractBaseUser) -> None:
    read = signed_in_user(user.pk)
    user._contest_roles = read._contest_roles if read else frozenset()
    user._contest_team = read._contest_team if read else None


def addresses_of(user: AbstractBaseUser) -> set[str]:
    """Every e-mail address of the account, casefolded: its own and those added through allauth."""
    from allauth.account.models import EmailAddress

    addresses = set(EmailAddress.objects.filter(user=user).values_list("email", flat=True))
    if user.email:
        addresses.add(user.email)
    return {a.casefold() for a in addresses}


PEOPLE_SHOWN = 200


def people(*, search: str = "", role: str = "") -> QuerySet:
    """Users with their team and their roles (``contest_roles``, groups), matching ``search`` in username, name,
    e-mail or team name, and holding ``role`` when given: two queries, at most PEOPLE_SHOWN users."""
    users = get_user_model().objects.select_related("membership__team")
    search = search.strip()
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(email__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(membership__team__name__icontains=search)
        )
    if role in Role.values:
        users = users.filter(groups__name=role)
    roles = Group.objects.filter(name__in=Role.values).order_by("name")
    return users.prefetch_related(Prefetch("groups", queryset=roles, to_attr="contest_roles")).order_by(
        "username"
    )[:PEOPLE_SHOWN]


def pending_invitations() -> QuerySet[Invitation]:
    return Invitation.objects.filter(accepted_by=None).select_related("invited_by")
