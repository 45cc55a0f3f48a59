from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.db.models import Prefetch, Q, QuerySet

from accounts.models import Invitation, Membership, Role, Team


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


_UNREAD = object()


def team_of(user: AbstractBaseUser | AnonymousUser) -> Team | None:
    """The user's team, read once per request (membership and team in one query) and cached on the user."""
    if not user.is_authenticated:
        return None
    team = getattr(user, "_contest_team", _UNREAD)
    if team is _UNREAD:
        membership = Membership.objects.select_related("team").filter(user=user).first()
        team = user._contest_team = membership.team if membership else None
    return team


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
