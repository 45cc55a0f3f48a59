from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import Membership, Role, Team
from accounts.selectors import has_role

ORGANIZER_APPS = ("accounts", "submissions", "evaluation", "reviews")


def grant_role(*, user: AbstractBaseUser, role: Role) -> None:
    """Add the user to the role's group. Organizers also run the contest from the admin ("Manage contest")."""
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    if role == Role.ORGANIZER:
        group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ORGANIZER_APPS))
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    if hasattr(user, "_contest_roles"):
        del user._contest_roles


def _unique_team_name(base: str) -> str:
    name, n = base, 1
    while Team.objects.filter(name=name).exists():
        n += 1
        name = f"{base} ({n})"
    return name


@transaction.atomic
def register_contestant(*, user: AbstractBaseUser) -> Team:
    """A new sign-up is a contestant in a team of their own, which teammates can join with its invite code."""
    grant_role(user=user, role=Role.CONTESTANT)
    team = Team.objects.create(name=_unique_team_name(f"Team {user.get_username()}"))
    Membership.objects.create(user=user, team=team)
    return team


@transaction.atomic
def join_team(*, user: AbstractBaseUser, invite_code: str) -> Team:
    """Move a contestant into the team whose invite code they were given.

    A contestant whose current team has submissions must not leave it alone with them, so joining is refused
    for the last member of a team that has submitted.
    """
    if not has_role(user, Role.CONTESTANT):
        raise PermissionDenied("Only contestants can join a team.")
    team = Team.objects.filter(invite_code=invite_code.strip()).first()
    if team is None:
        raise ValidationError({"invite_code": "No team has this invite code. Check it with your teammate."})
    membership = Membership.objects.select_for_update().filter(user=user).first()
    if membership and membership.team_id == team.pk:
        raise ValidationError({"invite_code": f"You are already in {team.name}."})
    if membership:
        old_team = membership.team
        if old_team.memberships.count() == 1 and old_team.submissions.exists():
            raise ValidationError(
                {
                    "invite_code": f"You are the only member of {old_team.name}, which has submissions; "
                    "invite your new teammates into it instead."
                }
            )
        membership.team = team
        membership.save(update_fields=["team"])
        if not old_team.memberships.exists():
            old_team.delete()
    else:
        Membership.objects.create(user=user, team=team)
    return team


def rename_team(*, user: AbstractBaseUser, team: Team, name: str) -> Team:
    if not Membership.objects.filter(user=user, team=team).exists():
        raise PermissionDenied("Only members can rename their team.")
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A team needs a name."})
    if Team.objects.filter(name=name).exclude(pk=team.pk).exists():
        raise ValidationError({"name": f"The name “{name}” is taken; choose another."})
    team.name = name
    team.save(update_fields=["name"])
    return team
