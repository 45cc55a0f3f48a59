from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from accounts.models import Membership, Role, Team
from reviews.models import Assignment, Conflict, InstitutionalDomain
from submissions.models import Submission
from submissions.selectors import LISTS_SKIP

User = get_user_model()


def assignments_of(reviewer: AbstractBaseUser) -> list[Assignment]:
    return list(
        Assignment.objects.filter(reviewer=reviewer)
        .select_related("submission__round", "submission__current_version")
        .defer(*(f"submission__{name}" for name in LISTS_SKIP))
    )


def assigned_to(user: AbstractBaseUser) -> Q:
    """The submissions assigned to ``user`` for review, as a filter on submissions."""
    return Q(assignments__reviewer=user)


# Addresses anyone can open: sharing one of these says nothing about an institution, so they are never listed.
PUBLIC_WEBMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "sina.com",
        "naver.com",
        "fastmail.com",
        "tutanota.com",
    }
)


def is_public_webmail(domain: str) -> bool:
    """A webmail domain or one of its subdomains (``yahoo.co.uk`` style national variants are listed apart)."""
    return any(domain == public or domain.endswith("." + public) for public in PUBLIC_WEBMAIL_DOMAINS)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def _institution(domain: str, listed: list[str]) -> str | None:
    """The listed domain that ``domain`` is, or is a subdomain of (cs.example.edu belongs to example.edu)."""
    for institution in listed:
        if domain == institution or domain.endswith("." + institution):
            return institution
    return None


@dataclass(frozen=True)
class Conflicts:
    """Why reviewers may not review submissions: ``reason(reviewer_id, submission_id)`` is None when they may."""

    reasons: dict[tuple[int, int], str]

    def reason(self, reviewer_id: int, submission_id: int) -> str | None:
        return self.reasons.get((reviewer_id, submission_id))


def conflicts_between(
    *, reviewers: Iterable[AbstractBaseUser], submissions: Iterable[Submission]
) -> Conflicts:
    """Every conflict of interest between ``reviewers`` and ``submissions``, with its reason, in five queries
    whatever their numbers (the auto-assigner asks about every pair of a round at once).

    A reviewer conflicts with a submission when they are in its team, when a conflict was declared by the
    reviewer or set by an organizer with that team or with one of its members, or when the reviewer and a
    member have addresses at the same listed institutional domain. The first reason found is given.
    """
    reviewers = {r.pk: r for r in reviewers}
    submissions = list(submissions)
    team_ids = {s.team_id for s in submissions}
    members: dict[int, list[tuple[int, str]]] = defaultdict(list)  # team id -> [(user id, username)]
    for user_id, team_id, username in Membership.objects.filter(team_id__in=team_ids).values_list(
        "user_id", "team_id", "user__username"
    ):
        members[team_id].append((user_id, username))

    declared_teams: dict[tuple[int, int], Conflict] = {}
    declared_people: dict[tuple[int, int], Conflict] = {}
    for conflict in Conflict.objects.filter(reviewer_id__in=reviewers).select_related("team", "person"):
        if conflict.team_id:
            declared_teams[conflict.reviewer_id, conflict.team_id] = conflict
        else:
            declared_people[conflict.reviewer_id, conflict.person_id] = conflict

    listed = list(InstitutionalDomain.objects.values_list("domain", flat=True))
    institutions: dict[int, set[str]] = defaultdict(set)  # user id -> the listed domains of their addresses
    if listed:
        people = set(reviewers) | {user_id for team in members.values() for user_id, _ in team}
        # An account's own address and every address it added through allauth, verified or not: a conflict
        # is better declared once too often than missed.
        addresses = list(User.objects.filter(pk__in=people).exclude(email="").values_list("pk", "email"))
        addresses += EmailAddress.objects.filter(user_id__in=people).values_list("user_id", "email")
        for user_id, address in addresses:
            if institution := _institution(_domain_of(address), listed):
                institutions[user_id].add(institution)

    reasons = {}
    for submission in submissions:
        team = members.get(submission.team_id, [])
        for reviewer_id, reviewer in reviewers.items():
            if reason := _reason(reviewer, submission, team, declared_teams, declared_people, institutions):
                reasons[reviewer_id, submission.pk] = reason
    return Conflicts(reasons)


def _reason(reviewer, submission, team, declared_teams, declared_people, institutions) -> str | None:
    name = reviewer.get_username()
    if any(user_id == reviewer.pk for user_id, _ in team):
        return f"{name} is in the submitting team"
    if conflict := declared_teams.get((reviewer.pk, submission.team_id)):
        return f"{_who_set(conflict)} a conflict between {name} and the submitting team {conflict.team}"
    for user_id, username in team:
        if conflict := declared_people.get((reviewer.pk, user_id)):
            return f"{_who_set(conflict)} a conflict between {name} and {username}, of the submitting team"
    for user_id, username in team:
        if shared := institutions.get(reviewer.pk, set()) & institutions.get(user_id, set()):
            return f"{name} and {username}, of the submitting team, share the institution {min(shared)}"
    return None


def _who_set(conflict: Conflict) -> str:
    return "the reviewer declared" if conflict.source == Conflict.Source.DECLARED else "an organizer set"


def conflict_reason(*, reviewer: AbstractBaseUser, submission: Submission) -> str | None:
    return conflicts_between(reviewers=[reviewer], submissions=[submission]).reason(
        reviewer.pk, submission.pk
    )


def conflicts_of(reviewer: AbstractBaseUser) -> list[Conflict]:
    """The conflicts a reviewer declared or an organizer set, for the reviewer's own page."""
    return list(Conflict.objects.filter(reviewer=reviewer).select_related("team", "person"))


def reviewers() -> QuerySet:
    """Everyone who holds the reviewer role, in a stable order."""
    return User.objects.filter(groups__name=Role.REVIEWER.value).order_by("username")


def team_or_contestant_named(name: str) -> Team | AbstractBaseUser | None:
    """The team with this name, or the contestant with this username or e-mail address (exact, any case).

    Reviewers name whom they conflict with; they are never shown a list of the teams and contestants."""
    name = name.strip()
    if not name:
        return None
    if team := Team.objects.filter(name__iexact=name).first():
        return team
    contestants = User.objects.filter(groups__name=Role.CONTESTANT.value)
    return contestants.filter(Q(username__iexact=name) | Q(email__iexact=name)).order_by("pk").first()
