import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation, Membership, Role, Team
from accounts.selectors import addresses_of, has_role, is_organizer
from contest.text import one_line

logger = logging.getLogger(__name__)

ORGANIZER_APPS = ("accounts", "submissions", "evaluation", "reviews")
# Roles an organizer grants, revokes and invites to; the contestant role comes with signing up.
GRANTED_ROLES = (Role.REVIEWER, Role.ORGANIZER)
INVITATION_SALT = "accounts.invitation"
INVITATION_VALID_FOR = dt.timedelta(days=14)


class RoleRefused(ValidationError):
    """A role change the contest's rules forbid; the message says why and what to do instead."""


def _forget_cached_roles(user: AbstractBaseUser) -> None:
    if hasattr(user, "_contest_roles"):
        del user._contest_roles


def _forget_cached_team(user: AbstractBaseUser) -> None:
    if hasattr(user, "_contest_team"):
        del user._contest_team


def _ensure_may_review(user: AbstractBaseUser) -> None:
    """The rules forbid reviewers to compete. A contestant whose team has submitted stays a contestant: making
    them a reviewer would leave a reviewer among a competing team's authors."""
    membership = Membership.objects.select_related("team").filter(user=user).first()
    if membership and membership.team.submissions.exists():
        raise RoleRefused(
            f"{user.get_username()} is in team {membership.team.name}, which has submitted tasks: reviewers "
            "may not compete, so a contestant whose team has submissions cannot become a reviewer."
        )


def _leave_contest(user: AbstractBaseUser) -> None:
    """A new reviewer stops being a contestant: out of the contestant role and out of their team (a team left
    empty is deleted; it has no submissions, see _ensure_may_review)."""
    user.groups.remove(*Group.objects.filter(name=Role.CONTESTANT.value))
    membership = Membership.objects.select_related("team").filter(user=user).first()
    if membership:
        team = membership.team
        membership.delete()
        if not team.memberships.exists():
            team.delete()


def grant_role(*, user: AbstractBaseUser, role: Role) -> None:
    """Add the user to the role's group. Organizers also run the contest from the admin ("Manage contest").
    The bare step: people given a role from the site go through give_role, which applies the contest's rules."""
    group, _ = Group.objects.get_or_create(name=role.value)
    user.groups.add(group)
    if role == Role.ORGANIZER:
        group.permissions.add(*Permission.objects.filter(content_type__app_label__in=ORGANIZER_APPS))
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
    _forget_cached_roles(user)


@transaction.atomic
def give_role(*, user: AbstractBaseUser, role: Role) -> None:
    """Grant a role by the contest's rules (from the people page or an invitation): a contestant made a
    reviewer leaves the contestant role and their team, refused (RoleRefused) while that team has submissions."""
    if role == Role.REVIEWER and user.groups.filter(name=Role.CONTESTANT.value).exists():
        _ensure_may_review(user)
        _leave_contest(user)
    grant_role(user=user, role=role)


def _ensure_organizer(user: AbstractBaseUser) -> None:
    if not is_organizer(user):
        raise PermissionDenied("Only organizers can change roles or invite people.")


def change_role(*, user: AbstractBaseUser, role: Role, by: AbstractBaseUser) -> None:
    """An organizer grants a reviewer or organizer role from the people page."""
    _ensure_organizer(by)
    if role not in GRANTED_ROLES:
        raise RoleRefused("Only the reviewer and organizer roles are granted; contestants sign up.")
    give_role(user=user, role=role)
    logger.info("role granted", extra={"user": user.pk, "role": role.value, "by": by.pk})


@transaction.atomic
def revoke_role(*, user: AbstractBaseUser, role: Role, by: AbstractBaseUser) -> None:
    """Remove a reviewer or organizer role. The last organizer keeps theirs: someone must run the contest."""
    _ensure_organizer(by)
    if role not in GRANTED_ROLES:
        raise RoleRefused("Only the reviewer and organizer roles are revoked here.")
    group = Group.objects.select_for_update().filter(name=role.value).first()
    if group is None or not user.groups.filter(pk=group.pk).exists():
        return
    if role == Role.ORGANIZER and not group.user_set.exclude(pk=user.pk).filter(is_active=True).exists():
        raise RoleRefused(
            f"{user.get_username()} is the last organizer: grant the organizer role to someone else first."
        )
    user.groups.remove(group)
    if role == Role.ORGANIZER and user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    _forget_cached_roles(user)
    logger.info("role revoked", extra={"user": user.pk, "role": role.value, "by": by.pk})


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(invitation.pk, salt=INVITATION_SALT)


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[invitation_token(invitation)])


def invite(*, email: str, role: Role, by: AbstractBaseUser) -> Invitation:
    """Record an invitation and e-mail its link (subject, text and HTML from templates/emails/invitation*)."""
    _ensure_organizer(by)
    if role not in GRANTED_ROLES:
        raise RoleRefused({"role": "Invite reviewers and organizers; contestants sign up themselves."})
    invitation = Invitation.objects.create(email=email.strip(), role=role.value, invited_by=by)
    context = {
        "invitation": invitation,
        "role": Role(role).label.lower(),
        "url": invitation_url(invitation),
        "expires_at": invitation.invited_at + INVITATION_VALID_FOR,
        "contest_name": settings.CONTEST_NAME,
    }
    subject = one_line(render_to_string("emails/invitation_subject.txt", context))
    message = EmailMultiAlternatives(
        subject, render_to_string("emails/invitation.txt", context), to=[invitation.email]
    )
    message.attach_alternative(render_to_string("emails/invitation.html", context), "text/html")
    message.send()
    logger.info("invitation sent", extra={"invitation": invitation.pk, "role": role.value, "by": by.pk})
    return invitation


class InvitationInvalid(Exception):
    """A link that is forged, expired, used, or opened by someone it was not sent to; the message says which."""


def invitation_from(token: str) -> Invitation:
    """The invitation a link names, or InvitationInvalid when it is forged or expired."""
    try:
        pk = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_VALID_FOR)
    except signing.SignatureExpired as expired:
        raise InvitationInvalid(
            f"This invitation expired: links are valid for {INVITATION_VALID_FOR.days} days. "
            "Ask the organizer who invited you for a new one."
        ) from expired
    except signing.BadSignature as bad:
        raise InvitationInvalid(
            "This invitation link is not valid: copy the whole link from the e-mail."
        ) from bad
    invitation = Invitation.objects.filter(pk=pk).first()
    if invitation is None:
        raise InvitationInvalid("This invitation was withdrawn. Ask an organizer for a new one.")
    return invitation


@transaction.atomic
def accept_invitation(*, token: str, user: AbstractBaseUser) -> Invitation:
    """Give the signed-in user the invitation's role. Only the invited address may accept, and only once."""
    invitation = invitation_from(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_by_id is not None:
        if invitation.accepted_by_id == user.pk:
            return invitation
        raise InvitationInvalid("This invitation has already been accepted.")
    if invitation.email.casefold() not in addresses_of(user):
        raise InvitationInvalid(
            f"This invitation was sent to {invitation.email}, which is not an address of your account "
            f"({user.get_username()}). Sign in with that address, or add it to your account first."
        )
    give_role(user=user, role=Role(invitation.role))
    invitation.accepted_by = user
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_by", "accepted_at"])
    logger.info("invitation accepted", extra={"invitation": invitation.pk, "user": user.pk})
    return invitation


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
    _forget_cached_team(user)
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
    _forget_cached_team(user)
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
