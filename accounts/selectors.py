import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Invitation, Membership, Role, Team


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
def _roles_and_team_sql() -> str:
    """One row per group of the user (one if none), each with the user's team's columns (NULL without a team)."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    groups = user_model.groups.field

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    user_id = f"u.{column(user_model, 'id')}"
    # Names from the models' metadata, the user's id a parameter:
    return (
        f"SELECT t.*, g.{column(Group, 'name')} AS contest_role FROM {table(user_model)} u"  # noqa: S608
        f" LEFT JOIN {table(Membership)} m ON m.{column(Membership, 'user')} = {user_id}"
        f" LEFT JOIN {table(Team)} t ON t.{column(Team, 'id')} = m.{column(Membership, 'team')}"
        f" LEFT JOIN {quote(groups.m2m_db_table())} ug ON ug.{quote(groups.m2m_column_name())} = {user_id}"
        f" LEFT JOIN {table(Group)} g ON g.{column(Group, 'id')} = ug.{quote(groups.m2m_reverse_name())}"
        f" WHERE {user_id} = %s"
    )


def _read_roles_and_team(user: AbstractBaseUser) -> None:
    """Every page's layout shows the user's roles and team: one statement reads both, written out (the ORM's
    compiling of the two queries cost more than running them); the raw query set converts the team's columns."""
    rows = list(Team.objects.raw(_roles_and_team_sql(), [user.pk]))
    user._contest_roles = frozenset(row.contest_role for row in rows if row.contest_role in Role.values)
    user._contest_team = rows[0] if rows and rows[0].pk is not None else None


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
