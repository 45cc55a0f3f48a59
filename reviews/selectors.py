from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from accounts.models import Membership, Role, Team
from accounts.selectors import has_role, is_organizer
from contest import tally
from contest.rubric import CRITERIA_KEYS
from evaluation.suggestions import Suggestion
from reviews.models import (
    Assignment,
    Award,
    Conflict,
    DiscussionPost,
    InstitutionalDomain,
    OrganizerRank,
    Review,
    SpotCheck,
    TallyDecision,
    TallySetting,
)
from submissions.models import Round, Submission
from submissions.selectors import LISTS_SKIP, out_of_decisions

User = get_user_model()


def assignments_of(reviewer: AbstractBaseUser) -> list[Assignment]:
    """The reviewer's assignments with their review (if started), in two queries whatever their number; those
    of withdrawn submissions are left out (no longer reviewed)."""
    return list(
        Assignment.objects.filter(reviewer=reviewer, submission__withdrawn_at__isnull=True)
        .select_related("submission__round", "submission__current_version", "review")
        .defer(*(f"submission__{name}" for name in LISTS_SKIP))
        .order_by("submission__round__deadline", "submission__round_id", "assigned_at", "pk")
    )


def review_status(assignment: Assignment) -> str:
    """not started, draft or submitted: what the reviewer's dashboard says of an assignment."""
    review = getattr(assignment, "review", None)
    if review is None:
        return "not started"
    return "submitted" if review.is_locked else "draft"


def assigned_to(user: AbstractBaseUser) -> Q:
    """The submissions assigned to ``user`` for review, as a filter on submissions; an assignment that became
    conflicted after it was made (a conflict declared or set later, a domain listed later) no longer opens it."""
    if not has_role(user, Role.REVIEWER):  # a reviewer whose role was revoked reads nothing any more
        return Q(pk__in=[])
    granted = Q(assignments__reviewer=user)
    blocked = conflicted_assignments(user)
    return granted & ~Q(pk__in=blocked) if blocked else granted


def conflicted_assignments(reviewer: AbstractBaseUser) -> set[int]:
    """The ids of the submissions assigned to ``reviewer`` that they now conflict with."""
    assigned = list(Submission.objects.filter(assignments__reviewer=reviewer).only("pk", "team_id"))
    if not assigned:
        return set()
    conflicts = conflicts_between(reviewers=[reviewer], submissions=assigned)
    return {s.pk for s in assigned if conflicts.reason(reviewer.pk, s.pk)}


def versions_since(review: Review | None, versions) -> list:
    """The submission's versions newer than the one the review was made on, oldest first (what changed since)."""
    if review is None:
        return []
    reviewed = review.version.number
    return sorted((v for v in versions if v.number > reviewed), key=lambda v: v.number)


def reviewer_labels(submission_id: int) -> dict[int, str]:
    """Reviewer id → "Reviewer 1", "Reviewer 2"… in the order they were assigned: how reviewers are named to
    each other (organizers see names)."""
    ids = Assignment.objects.filter(submission_id=submission_id).order_by("assigned_at", "pk")
    return {rid: f"Reviewer {n}" for n, rid in enumerate(ids.values_list("reviewer_id", flat=True), start=1)}


def discussion_of(submission_id: int) -> list[DiscussionPost]:
    return list(DiscussionPost.objects.filter(submission_id=submission_id).select_related("author"))


def assignments_of_submission(submission_id: int) -> list[Assignment]:
    """A submission's assignments with their reviews, for organizers (who is assigned, who has not started)."""
    return list(
        Assignment.objects.filter(submission_id=submission_id)
        .select_related("reviewer", "review__rubric", "review__version")
        .prefetch_related("review__unlocks__unlocked_by")
        .order_by("assigned_at", "pk")
    )


def discussion_for(*, viewer: AbstractBaseUser, submission_id: int) -> list[DiscussionPost]:
    """The discussion with each author named as this viewer may know them: reviewers see "Reviewer 2" and
    "Organizer", organizers see user names."""
    labels = reviewer_labels(submission_id)
    organizer_view = is_organizer(viewer)
    posts = discussion_of(submission_id)
    for post in posts:
        if post.author_id == viewer.pk:
            post.author_label = "You"
        elif organizer_view:
            post.author_label = f"{post.author.get_username()} ({labels.get(post.author_id, 'organizer')})"
        else:
            post.author_label = labels.get(post.author_id, "Organizer")
    return posts


def other_reviews(review: Review) -> list[Review]:
    """The other submitted reviews of the same submission, each with its reviewer's label (not their name)."""
    labels = reviewer_labels(review.assignment.submission_id)
    others = list(
        Review.objects.filter(
            assignment__submission_id=review.assignment.submission_id, status=Review.Status.SUBMITTED
        )
        .exclude(pk=review.pk)
        .select_related("assignment", "rubric", "version")
        .order_by("assignment__assigned_at", "pk")
    )
    for other in others:
        other.label = labels[other.assignment.reviewer_id]
    return others


def judged_beside(review: Review, suggestions: dict[str, Suggestion]) -> list[dict]:
    """The review's levels per criterion (:meth:`Review.judged`), each with ``differs_from``: the suggestion of
    the evaluation where the reviewer chose another level (else None). A prompt to discuss, not a rule."""
    rows = review.judged()
    for row in rows:
        suggestion = suggestions.get(row["key"])
        differs = (
            suggestion is not None and suggestion.level and row["level"] and row["level"] != suggestion.level
        )
        row["differs_from"] = suggestion if differs else None
    return rows


@dataclass(frozen=True)
class SpotCheckSummary:
    total: int
    labelled: int
    agreed: int
    disagreements: list

    @property
    def done(self) -> bool:
        return self.total > 0 and self.labelled == self.total

    @property
    def agreement_percent(self) -> int:
        return round(100 * self.agreed / self.labelled) if self.labelled else 0


def summarize_spot_checks(checks) -> SpotCheckSummary:
    labelled = [c for c in checks if c.label is not None]
    return SpotCheckSummary(
        total=len(checks),
        labelled=len(labelled),
        agreed=sum(1 for c in labelled if c.agrees),
        disagreements=[c for c in labelled if not c.agrees],
    )


def spot_checks_of_submission(submission) -> dict[int, SpotCheckSummary]:
    """Assignment id → the summary of its reviewer's spot-check on the current version, in one query."""
    by_assignment: dict[int, list] = {}
    for check in SpotCheck.objects.filter(
        assignment__submission=submission, version_id=submission.current_version_id
    ):
        by_assignment.setdefault(check.assignment_id, []).append(check)
    return {pk: summarize_spot_checks(checks) for pk, checks in by_assignment.items()}


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


class TallyUnavailable(Exception):
    """The round has no prize tally: the contest tallies its first round and its final (second) one."""


def tally_rounds() -> list[Round]:
    """Round 1 and round 2 (the final one), in the order of their deadlines."""
    return list(Round.objects.order_by("deadline", "pk")[: len(tally.ROUNDS)])


@dataclass(frozen=True)
class ReviewerLevels:
    reviewer: str
    levels: list[str | None]  # in the order of CRITERIA_KEYS


@dataclass(frozen=True)
class TallyRow:
    line: tally.Line
    submission: Submission
    reviews: list[ReviewerLevels]
    award: Award | None  # confirmed in this round's tally

    @property
    def combined(self) -> list[str | None]:
        return [self.line.levels[key] for key in CRITERIA_KEYS]


@dataclass(frozen=True)
class RoundTally:
    """A round's tally as its page shows it: the proposal and, per submission, what was confirmed."""

    round: Round
    number: int  # 1, or 2 for the final tally
    rounds: list[Round]  # the rounds it covers
    tally: tally.Tally
    rows: list[TallyRow]

    @property
    def caps(self) -> dict[str, int]:
        return tally.caps(self.number)

    @property
    def slots(self) -> list[tuple[str, int, int]]:
        """(prize, slots the proposal leaves free, cap) for each prize this tally may award."""
        return [(tier, self.tally.unawarded[tier], cap) for tier, cap in self.caps.items() if cap]

    @property
    def confirmed_usd(self) -> int:
        return sum(tally.AMOUNT_USD.get(row.award.tier, 0) for row in self.rows if row.award)


def tally_rule(round: Round) -> str:
    setting = TallySetting.objects.filter(round=round).first()
    return setting.rule if setting else tally.MEDIAN


def round_tally(
    *, round: Round, rule: str | None = None, ranks: Mapping[int, int] | None = None
) -> RoundTally:
    """The tally of ``round`` from the submitted reviews, the organizers' ranks (or ``ranks``) and, for the
    final tally, round 1's confirmed awards as floors; the rule is the round's unless ``rule`` is given.

    The same number of queries whatever the number of submissions and reviews.
    """
    rounds = tally_rounds()
    if round not in rounds:
        raise TallyUnavailable(f"{round} has no prize tally: the contest tallies rounds 1 and 2.")
    number = rounds.index(round) + 1
    covered = rounds[:number]
    # A withdrawn submission, or one its team chose not to keep, competes for nothing.
    out = out_of_decisions(round_ids=[r.pk for r in covered])
    submissions = list(
        Submission.objects.filter(round__in=covered)
        .exclude(pk__in=out)
        .select_related("round", "current_version")
        .defer(*LISTS_SKIP)
        .order_by("pk")
    )
    # (reviewer's username, levels) per submission: plain values, a round has thousands of reviews.
    reviews: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for submission_id, reviewer, levels in (
        Review.objects.filter(status=Review.Status.SUBMITTED, assignment__submission__round__in=covered)
        .order_by("assignment__assigned_at", "pk")
        .values_list("assignment__submission_id", f"assignment__reviewer__{User.USERNAME_FIELD}", "levels")
    ):
        reviews[submission_id].append((reviewer, levels))
    if ranks is None:
        ranks = dict(
            OrganizerRank.objects.filter(submission__round__in=covered).values_list("submission_id", "rank")
        )
    awards = {
        (award.round_id, award.submission_id): award
        for award in Award.objects.filter(round__in=covered).select_related("decided_by")
    }
    floors = {s: award.tier for (r, s), award in awards.items() if r == rounds[0].pk and number > 1}
    number_of = {r.pk: position for position, r in enumerate(rounds, start=1)}
    result = tally.tally(
        [
            tally.Candidate(
                submission=s.pk,
                round=number_of[s.round_id],
                reviews=tuple(levels for _, levels in reviews[s.pk]),
                rank=ranks.get(s.pk),
            )
            for s in submissions
        ],
        round=number,
        rule=rule or tally_rule(round),
        round1_awards=floors,
    )
    by_id = {s.pk: s for s in submissions}
    rows = [
        TallyRow(
            line=line,
            submission=by_id[line.submission],
            reviews=[
                ReviewerLevels(reviewer=reviewer, levels=[levels.get(key) for key in CRITERIA_KEYS])
                for reviewer, levels in reviews[line.submission]
            ],
            award=awards.get((round.pk, line.submission)),
        )
        for line in result.lines
    ]
    return RoundTally(round=round, number=number, rounds=covered, tally=result, rows=rows)


def tally_decisions(round: Round) -> list[TallyDecision]:
    """Every decision of the round's tally, newest first, with who made it and on which submission."""
    return list(
        TallyDecision.objects.filter(round=round)
        .select_related("decided_by", "submission__current_version")
        .defer(*(f"submission__{name}" for name in LISTS_SKIP))
    )
