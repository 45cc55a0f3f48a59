import random
import re
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, Team
from accounts.selectors import has_role, is_organizer
from contest import rubric, tally
from reviews import selectors
from reviews.models import (
    Assignment,
    Award,
    Conflict,
    DiscussionPost,
    InstitutionalDomain,
    OrganizerRank,
    Review,
    ReviewUnlock,
    Rubric,
    SpotCheck,
    TallyDecision,
    TallySetting,
    Tier,
)
from reviews.selectors import conflict_reason, conflicts_between, is_public_webmail, reviewers
from submissions.models import Round, Submission
from submissions.selectors import out_of_decisions, version_examples

DEFAULT_REVIEWERS_PER_SUBMISSION = 3


def check_assignment(*, submission: Submission, reviewer: AbstractBaseUser) -> None:
    """Raise ValidationError when the reviewer may not review this submission, with the reason."""
    if not has_role(reviewer, Role.REVIEWER):
        raise ValidationError({"reviewer": f"{reviewer.get_username()} is not a reviewer."})
    if reason := conflict_reason(reviewer=reviewer, submission=submission):
        raise ValidationError({"reviewer": f"A conflict of interest: {reason}."})


def assign_reviewer(
    *, submission: Submission, reviewer: AbstractBaseUser, by: AbstractBaseUser
) -> Assignment:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers assign reviewers.")
    check_assignment(submission=submission, reviewer=reviewer)
    assignment, _ = Assignment.objects.get_or_create(
        submission=submission, reviewer=reviewer, defaults={"assigned_by": by}
    )
    return assignment


class ReviewLocked(PermissionDenied):
    """The review is submitted: it changes only after an organizer unlocks it."""


class IncompleteReview(ValidationError):
    """Submitting needs a level per criterion and a suggested tier; the draft was saved all the same."""

    def __init__(self, missing: dict[str, str], *, review: Review):
        super().__init__(missing)
        self.review = review


def current_rubric() -> Rubric:
    """The rubric new reviews use: the newest version, the 2022 wording (version 1) until an organizer adds one."""
    newest = Rubric.objects.order_by("-version").first()
    return newest or Rubric.objects.get_or_create(version=1)[0]


@transaction.atomic
def add_rubric_version(*, criteria: list[dict], note: str, by: AbstractBaseUser) -> Rubric:
    """A new wording for reviews started from now on; reviews already started keep theirs."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers change the rubric.")
    if problems := rubric.criteria_problems(criteria):
        raise ValidationError({"criteria": problems})
    newest = Rubric.objects.select_for_update().order_by("-version").first()
    return Rubric.objects.create(
        version=(newest.version if newest else 0) + 1, criteria=criteria, note=note, created_by=by
    )


def review_of(*, assignment: Assignment) -> Review | None:
    return Review.objects.filter(assignment=assignment).select_related("rubric", "version").first()


def _ensure_reviewer(assignment: Assignment, user: AbstractBaseUser) -> None:
    if assignment.reviewer_id != user.pk:
        raise PermissionDenied("Only the assigned reviewer writes this review.")


@dataclass(frozen=True)
class ReviewAnswers:
    """What the review form holds; every part may be empty in a draft."""

    levels: dict[str, str] = field(default_factory=dict)
    criterion_comments: dict[str, str] = field(default_factory=dict)
    comment_for_authors: str = ""
    confidential_comment: str = ""
    suggested_tier: str = ""


def _missing_for_submission(
    levels: dict[str, str], suggested_tier: str, criteria: list[dict]
) -> dict[str, str]:
    missing = {
        f"level_{c['key']}": f"Choose a level for {c['name']}." for c in criteria if not levels.get(c["key"])
    }
    if not suggested_tier:
        missing["suggested_tier"] = "Suggest a tier."
    return missing


def save_review(
    *, assignment: Assignment, user: AbstractBaseUser, answers: ReviewAnswers, submit: bool = False
) -> Review:
    """Save the reviewer's draft, then, with ``submit``, lock it once every criterion has a level and a tier
    is suggested. The draft is saved even when submitting is refused (``IncompleteReview``): nothing typed is
    lost. A submitted review refuses every change (``ReviewLocked``).

    The review records the submission's current version each time the draft is saved: the version judged is the
    one on the reviewer's screen.
    """
    review = _save_draft(assignment=assignment, user=user, answers=answers)
    if not submit:
        return review
    if missing := _missing_for_submission(review.levels, review.suggested_tier, review.rubric.criteria):
        raise IncompleteReview(missing, review=review)
    now = timezone.now()
    if not Review.objects.filter(pk=review.pk, status=Review.Status.DRAFT).update(
        status=Review.Status.SUBMITTED, submitted_at=now
    ):
        raise ReviewLocked("This review is submitted and locked; an organizer can unlock it.")
    review.status, review.submitted_at = Review.Status.SUBMITTED, now
    return review


@transaction.atomic
def _save_draft(*, assignment: Assignment, user: AbstractBaseUser, answers: ReviewAnswers) -> Review:
    _ensure_reviewer(assignment, user)
    assignment = Assignment.objects.select_for_update().select_related("submission").get(pk=assignment.pk)
    review = Review.objects.select_for_update().select_related("rubric").filter(assignment=assignment).first()
    if review and review.is_locked:
        raise ReviewLocked("This review is submitted and locked; an organizer can unlock it.")
    if review is None:
        review = Review(assignment=assignment, rubric=current_rubric())
    keys = {c["key"] for c in review.rubric.criteria}
    review.levels = {k: v for k, v in answers.levels.items() if k in keys and v in rubric.LEVELS}
    review.criterion_comments = {
        k: v for k, v in answers.criterion_comments.items() if k in keys and v.strip()
    }
    review.comment_for_authors = answers.comment_for_authors
    review.confidential_comment = answers.confidential_comment
    review.suggested_tier = answers.suggested_tier if answers.suggested_tier in Tier.values else ""
    review.version_id = assignment.submission.current_version_id
    review.updated_at = timezone.now()
    review.save()
    return review


@transaction.atomic
def unlock_review(*, review: Review, by: AbstractBaseUser, reason: str) -> Review:
    """Reopen a submitted review for its reviewer; the unlock is recorded with who, when and why."""
    if not is_organizer(by):
        raise PermissionDenied("Only organizers unlock a submitted review.")
    if not reason.strip():
        raise ValidationError(
            {"reason": "Say why the review is unlocked; the reviewer and the record see it."}
        )
    review = Review.objects.select_for_update().get(pk=review.pk)
    if not review.is_locked:
        raise ValidationError({"reason": "This review is not submitted; there is nothing to unlock."})
    review.status = Review.Status.DRAFT
    review.submitted_at = None
    review.save(update_fields=["status", "submitted_at"])
    ReviewUnlock.objects.create(review=review, unlocked_by=by, reason=reason.strip())
    return review


DISCUSSION_LIMIT = 10_000


def may_discuss(*, user: AbstractBaseUser, submission_id: int) -> bool:
    """Organizers, and the submission's reviewers once their own review is submitted (so that nobody's judgement
    is shaped by the others' before it is made)."""
    if is_organizer(user):
        return True
    return Review.objects.filter(
        assignment__submission_id=submission_id, assignment__reviewer=user, status=Review.Status.SUBMITTED
    ).exists()


def post_to_discussion(*, submission_id: int, author: AbstractBaseUser, body: str) -> DiscussionPost:
    if not may_discuss(user=author, submission_id=submission_id):
        raise PermissionDenied("Submit your review first: the discussion opens to you then.")
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something to post."})
    if len(body) > DISCUSSION_LIMIT:
        raise ValidationError(
            {"body": f"Keep a post under {DISCUSSION_LIMIT:,} characters (this one has {len(body):,})."}
        )
    return DiscussionPost.objects.create(submission_id=submission_id, author=author, body=body)


SHOWN_TEXT = (
    20_000  # characters of a text kept with a spot check; the page loads a longer one whole on demand
)


def _shown(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= SHOWN_TEXT else text[:SHOWN_TEXT]


def spot_check_sample(*, assignment: Assignment, size: int | None = None) -> list[SpotCheck]:
    """The examples this reviewer labels on the submission's current version: ``size`` of them (the setting
    SPOT_CHECK_SIZE, 20 by default), drawn with a seed made of the reviewer and the version, so a reload, or
    another worker, draws the same ones. Drawn once; later calls return them."""
    size = size or settings.SPOT_CHECK_SIZE
    version = assignment.submission.current_version
    drawn = list(SpotCheck.objects.filter(assignment=assignment, version=version))
    if drawn:
        return drawn
    examples = version_examples(version)
    rows = sorted(int(r) for r in examples["row"])
    chosen = set(
        random.Random(f"spot-check:{assignment.reviewer_id}:{version.pk}").sample(rows, min(size, len(rows)))
    )
    checks = []
    for record in examples[examples["row"].isin(chosen)].to_dict("records"):
        shown = {
            name: _shown(record[name]) for name in ("prompt", "other_prompt", "completion") if name in record
        }
        if "classes" in record:
            shown["classes"] = [_shown(c) for c in record["classes"]]
        answer = record.get("answer_index")
        checks.append(
            SpotCheck(
                assignment=assignment,
                version=version,
                row=int(record["row"]),
                example=shown,
                answer=None if answer is None else int(answer),
            )
        )
    SpotCheck.objects.bulk_create(
        checks, ignore_conflicts=True
    )  # two tabs drawing at once draw the same rows
    return list(SpotCheck.objects.filter(assignment=assignment, version=version))


class SpotCheckDone(PermissionDenied):
    """Every example is labelled and the agreement shown: the labels no longer change."""


@transaction.atomic
def label_spot_checks(
    *, assignment: Assignment, user: AbstractBaseUser, labels: dict[int, int]
) -> list[SpotCheck]:
    """Record the reviewer's labels (row → class index, or 1/0 for a completion judged right/wrong). Labels may
    come a few at a time; once every example is labelled the answers are revealed and the labels are final."""
    _ensure_reviewer(assignment, user)
    checks = list(
        SpotCheck.objects.select_for_update().filter(
            assignment=assignment, version_id=assignment.submission.current_version_id
        )
    )
    if checks and all(c.label is not None for c in checks):
        raise SpotCheckDone("The spot-check is complete; its labels are final.")
    now = timezone.now()
    for check in checks:
        label = labels.get(check.row)
        if label is None:
            continue
        choices = len(check.example.get("classes", ())) if check.answer is not None else 2
        if not 0 <= label < choices:
            raise ValidationError(
                {f"row_{check.row}": f"Row {check.row}: choose one of the {choices} options."}
            )
        check.label, check.labelled_at = label, now
    SpotCheck.objects.bulk_update(checks, ["label", "labelled_at"])
    return checks


# Conflicts of interest -------------------------------------------------------------------------------------


def check_conflict(
    *, reviewer: AbstractBaseUser, team: Team | None = None, person: AbstractBaseUser | None = None
) -> None:
    """Raise ValidationError unless this is a new conflict between a reviewer and one team or one contestant."""
    if not has_role(reviewer, Role.REVIEWER):
        raise ValidationError({"reviewer": f"{reviewer.get_username()} is not a reviewer."})
    if (team is None) == (person is None):
        raise ValidationError("A conflict is with one team or with one contestant.")
    if person is not None and not has_role(person, Role.CONTESTANT):
        raise ValidationError({"person": f"{person.get_username()} is not a contestant."})
    if person is not None and person.pk == reviewer.pk:
        raise ValidationError({"person": "A reviewer is not in conflict with themselves."})
    same = {"team": team} if team else {"person": person}
    if Conflict.objects.filter(reviewer=reviewer, **same).exists():
        raise ValidationError(f"{reviewer.get_username()} already has a conflict with {team or person}.")


def declare_conflict(
    *,
    reviewer: AbstractBaseUser,
    team: Team | None = None,
    person: AbstractBaseUser | None = None,
    reason: str = "",
) -> Conflict:
    """A reviewer declares that they must not review a team's submissions (or those of a contestant's team)."""
    return _record_conflict(
        reviewer=reviewer,
        team=team,
        person=person,
        reason=reason,
        source=Conflict.Source.DECLARED,
        by=reviewer,
    )


def _record_conflict(*, reviewer, team, person, reason: str, source: str, by: AbstractBaseUser) -> Conflict:
    check_conflict(reviewer=reviewer, team=team, person=person)
    return Conflict.objects.create(
        reviewer=reviewer, team=team, person=person, reason=reason.strip(), source=source, created_by=by
    )


def withdraw_declared_conflict(*, reviewer: AbstractBaseUser, conflict: Conflict) -> None:
    """A reviewer takes back a conflict they declared; one an organizer set stays."""
    if conflict.reviewer_id != reviewer.pk or conflict.source != Conflict.Source.DECLARED:
        raise PermissionDenied("Only the organizers can remove a conflict they set.")
    conflict.delete()


def set_conflict(
    *,
    reviewer: AbstractBaseUser,
    by: AbstractBaseUser,
    team: Team | None = None,
    person: AbstractBaseUser | None = None,
    reason: str = "",
) -> Conflict:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers set conflicts of interest.")
    return _record_conflict(
        reviewer=reviewer, team=team, person=person, reason=reason, source=Conflict.Source.ORGANIZER, by=by
    )


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def clean_institutional_domain(domain: str) -> str:
    """The domain as stored (lower case, no ``@``), or ValidationError saying why it can't be listed."""
    cleaned = domain.strip().lower().removeprefix("@")
    if not _DOMAIN.match(cleaned):
        raise ValidationError({"domain": f"“{domain}” is not an e-mail domain like example.edu."})
    if is_public_webmail(cleaned):
        raise ValidationError(
            {
                "domain": f"{cleaned} is a public webmail domain: anyone can have an address there, so sharing "
                "it is no conflict of interest."
            }
        )
    return cleaned


def add_institutional_domain(*, domain: str, by: AbstractBaseUser) -> InstitutionalDomain:
    if not is_organizer(by):
        raise PermissionDenied("Only organizers list institutional domains.")
    cleaned = clean_institutional_domain(domain)
    if InstitutionalDomain.objects.filter(domain=cleaned).exists():
        raise ValidationError({"domain": f"{cleaned} is already listed."})
    return InstitutionalDomain.objects.create(domain=cleaned, added_by=by)


# Automatic assignment --------------------------------------------------------------------------------------


@dataclass
class AssignmentPlan:
    """What the auto-assigner did (or, in a dry run, would do) for a round."""

    round: Round
    per_submission: int
    submissions: int = 0  # how many the round has
    new: list[tuple[Submission, AbstractBaseUser]] = field(default_factory=list)
    # Every reviewer with their number of assignments in the round once the plan is made, by username.
    load: dict[AbstractBaseUser, int] = field(default_factory=dict)
    # Submissions left with fewer than per_submission reviewers, with the reason.
    uncovered: list[tuple[Submission, str]] = field(default_factory=list)
    # Assignments made before a conflict was declared or found: kept, not counted, for an organizer to remove.
    conflicted: list[tuple[Assignment, str]] = field(default_factory=list)


def assign_reviewers_automatically(
    *,
    round: Round,
    by: AbstractBaseUser | None,
    per_submission: int = DEFAULT_REVIEWERS_PER_SUBMISSION,
    dry_run: bool = False,
    seed: int = 0,
) -> AssignmentPlan:
    """Give every submission of the round ``per_submission`` reviewers without a conflict, keeping the existing
    assignments, so that the reviewers' numbers of assignments in the round differ by at most one wherever
    conflicts allow. Ties are broken by a random order drawn from ``seed``: the same data gives the same plan.

    ``by`` is the organizer who asked, or None for the ``assign_reviewers`` command (run by whoever runs the
    server). A dry run computes the plan and writes nothing.
    """
    if by is not None and not is_organizer(by):
        raise PermissionDenied("Only organizers assign reviewers.")
    if per_submission < 1:
        raise ValidationError("A submission needs at least one reviewer.")
    with transaction.atomic():
        # One auto-assigner at a time per round, so two never both fill the same gap.
        Round.objects.select_for_update().get(pk=round.pk)
        plan = _plan(round=round, per_submission=per_submission, seed=seed)
        if not dry_run:
            Assignment.objects.bulk_create(
                Assignment(submission=s, reviewer=r, assigned_by=by, method=Assignment.Method.AUTOMATIC)
                for s, r in plan.new
            )
    return plan


def _plan(*, round: Round, per_submission: int, seed: int) -> AssignmentPlan:
    # A withdrawn submission, or one its team chose not to keep, is no longer reviewed: it gets no new reviewer.
    out = out_of_decisions(round_ids=[round.pk])
    submissions = list(
        Submission.objects.filter(round=round)
        .exclude(pk__in=out)
        .select_related("current_version")
        .order_by("pk")
    )
    panel = list(reviewers())
    conflicts = conflicts_between(reviewers=panel, submissions=submissions)
    rng = random.Random(seed)
    rank = {r.pk: i for i, r in enumerate(rng.sample(panel, len(panel)))}
    by_pk = {r.pk: r for r in panel}
    plan = AssignmentPlan(round=round, per_submission=per_submission, submissions=len(submissions))

    load: Counter[int] = Counter(dict.fromkeys(by_pk, 0))
    holders: dict[int, set[int]] = {s.pk: set() for s in submissions}  # submission -> reviewers on it
    for assignment in (
        Assignment.objects.filter(submission__round=round)
        .exclude(submission__in=out)
        .select_related("reviewer")
    ):
        holders[assignment.submission_id].add(assignment.reviewer_id)
        if assignment.reviewer_id in by_pk:
            load[assignment.reviewer_id] += 1
        if reason := conflicts.reason(assignment.reviewer_id, assignment.submission_id):
            plan.conflicted.append((assignment, reason))
    conflicted_pairs = {(a.reviewer_id, a.submission_id) for a, _ in plan.conflicted}

    free = {  # submission -> reviewers without a conflict
        s.pk: [r for r in by_pk if conflicts.reason(r, s.pk) is None] for s in submissions
    }
    needs = {
        s.pk: per_submission
        - sum(1 for r in holders[s.pk] if r in by_pk and (r, s.pk) not in conflicted_pairs)
        for s in submissions
    }
    # The submissions with the fewest possible reviewers choose first, while everyone's load is still low.
    order = [s.pk for s in sorted(submissions, key=lambda s: (len(free[s.pk]), rng.random()))]
    new = choose_reviewers(free=free, holders=holders, needs=needs, load=load, rank=rank, order=order)
    for s in submissions:
        if len(new[s.pk]) < needs[s.pk]:
            plan.uncovered.append((s, _uncovered_reason(len(free[s.pk]), per_submission)))

    by_submission = {s.pk: s for s in submissions}
    plan.new = [
        (by_submission[s], by_pk[r])
        for s in sorted(new)
        for r in sorted(new[s], key=lambda r: by_pk[r].get_username())
    ]
    plan.load = {by_pk[r]: load[r] for r in sorted(by_pk, key=lambda r: by_pk[r].get_username())}
    return plan


def choose_reviewers(
    *,
    free: dict[int, list[int]],
    holders: dict[int, set[int]],
    needs: dict[int, int],
    load: Counter,
    rank: dict[int, int],
    order: list[int],
) -> dict[int, set[int]]:
    """The new reviewers of each submission (all ids): ``needs[s]`` of ``free[s]`` (those without a conflict)
    that are not among ``holders[s]`` already, as many as there are. Submissions choose in ``order``, each the
    least loaded reviewers (``rank`` breaks ties); then chains of moves even the loads out. ``load`` and
    ``holders`` are updated."""
    new: dict[int, set[int]] = {s: set() for s in order}
    for s in order:
        candidates = sorted((r for r in free[s] if r not in holders[s]), key=lambda r: (load[r], rank[r]))
        for r in candidates[: max(needs[s], 0)]:
            new[s].add(r)
            holders[s].add(r)
            load[r] += 1
    _balance(new=new, holders=holders, free=free, load=load, rank=rank)
    return new


def _uncovered_reason(free: int, per_submission: int) -> str:
    if free == 0:
        return f"no reviewer is without a conflict (needs {per_submission})"
    return f"only {free} reviewer{'s' if free != 1 else ''} without a conflict (needs {per_submission})"


def _balance(*, new, holders, free, load, rank) -> None:
    """Move new assignments from busier to less busy reviewers until no chain of moves can bring two reviewers'
    loads closer: a chain hands one submission from r0 to r1, another from r1 to r2, … so only r0 loses one
    and only the last gains one. Existing assignments never move. Each chain lowers the sum of squared loads,
    so this ends."""
    while True:
        for source in sorted(load, key=lambda r: (-load[r], rank[r])):
            chain = _chain_from(source, new=new, holders=holders, free=free, load=load, rank=rank)
            if chain:
                for submission, giver, taker in chain:
                    new[submission].discard(giver)
                    holders[submission].discard(giver)
                    new[submission].add(taker)
                    holders[submission].add(taker)
                load[chain[0][1]] -= 1
                load[chain[-1][2]] += 1
                break
        else:
            return


def _chain_from(source, *, new, holders, free, load, rank) -> list[tuple[int, int, int]] | None:
    """The shortest chain of moves from ``source`` to a reviewer with at least two assignments fewer."""
    given = {}  # reviewer -> (submission, from whom) that reached them
    queue = deque([source])
    seen = {source}
    moves_of = {}  # reviewer -> the submissions newly assigned to them
    for s, rs in new.items():
        for r in rs:
            moves_of.setdefault(r, []).append(s)
    while queue:
        giver = queue.popleft()
        for s in sorted(moves_of.get(giver, [])):
            for taker in sorted(free[s], key=lambda r: (load[r], rank[r])):
                if taker in seen or taker in holders[s]:
                    continue
                seen.add(taker)
                given[taker] = (s, giver)
                if load[taker] <= load[source] - 2:
                    chain = []
                    while taker != source:
                        s_, giver_ = given[taker]
                        chain.append((s_, giver_, taker))
                        taker = giver_
                    return chain[::-1]
                queue.append(taker)
    return None


def _organizer(user: AbstractBaseUser) -> None:
    if not is_organizer(user):
        raise PermissionDenied("Only organizers decide prizes.")


def set_tally_rule(*, round: Round, rule: str, by: AbstractBaseUser) -> None:
    """Choose how reviewers' levels combine in the round's tally (median or minimum); recorded in the audit."""
    _organizer(by)
    if rule not in tally.RULES:
        raise ValidationError(f"The rule is median or minimum, not {rule!r}.")
    with transaction.atomic():
        TallySetting.objects.update_or_create(
            round=round, defaults={"rule": rule, "set_by": by, "set_at": timezone.now()}
        )
        TallyDecision.objects.create(
            round=round, action=TallyDecision.Action.RULE, what=f"combined level: {rule}", decided_by=by
        )


def set_ranks(*, round: Round, ranks: Mapping[int, int | None], by: AbstractBaseUser) -> int:
    """Set the organizers' ranks (submission id → rank, 1 = best; None unranks) of submissions in the round's
    tally; each change is recorded in the audit. Returns how many changed."""
    _organizer(by)
    covered = selectors.round_tally(round=round).rounds
    submissions = set(Submission.objects.filter(pk__in=ranks, round__in=covered).values_list("pk", flat=True))
    if unknown := set(ranks) - submissions:
        raise ValidationError(f"Not in this tally: submission {', '.join(map(str, sorted(unknown)))}.")
    if bad := sorted(s for s, rank in ranks.items() if rank is not None and rank < 1):
        raise ValidationError(f"A rank is 1 (the best) or more: submission {', '.join(map(str, bad))}.")
    current = dict(
        OrganizerRank.objects.filter(submission__in=submissions).values_list("submission_id", "rank")
    )
    changed = 0
    with transaction.atomic():
        for submission, rank in sorted(ranks.items()):
            if current.get(submission) == rank:
                continue
            if rank is None:
                OrganizerRank.objects.filter(submission_id=submission).delete()
            else:
                OrganizerRank.objects.update_or_create(
                    submission_id=submission, defaults={"rank": rank, "set_by": by, "set_at": timezone.now()}
                )
            TallyDecision.objects.create(
                round=round,
                submission_id=submission,
                action=TallyDecision.Action.RANKED,
                what=f"rank {rank}" if rank is not None else "unranked",
                decided_by=by,
            )
            changed += 1
    return changed


def decide_award(*, round: Round, submission_id: int, tier: str, reason: str, by: AbstractBaseUser) -> Award:
    """Confirm the proposed award of a submission in the round's tally, or override it (a reason is then
    required). Round 1 awards only second and third; the final tally never lowers a round-1 award; no tier is
    confirmed past its cap; an award that the round's feedback release told the team is final. Every decision is
    recorded in the audit."""
    _organizer(by)
    reason = reason.strip()
    with transaction.atomic():
        Round.objects.select_for_update().get(pk=round.pk)  # one decision of a round at a time: caps hold
        current = selectors.round_tally(round=round)
        line = current.tally.line_of(submission_id)
        if line is None:
            raise ValidationError(f"Submission {submission_id} is not in the tally of {round}.")
        confirmed = next(row.award for row in current.rows if row.line.submission == submission_id)
        if confirmed and confirmed.released_at:
            raise ValidationError(
                f"Its award ({confirmed.tier}) was released to its team on "
                f"{timezone.localtime(confirmed.released_at):%b %-d, %Y %H:%M}: a released award is final."
            )
        if tier not in tally.AWARDS:
            raise ValidationError(f"An award is one of {', '.join(tally.AWARDS)}, not {tier!r}.")
        if current.number == 1 and tier == Tier.GRAND:
            raise ValidationError("Round 1 awards only second and third prizes.")
        if line.round1_award and not tally.at_least(tier, line.round1_award):
            raise ValidationError(
                f"Its round-1 award ({line.round1_award}) is a floor: the final tally keeps or upgrades it."
            )
        if tier in tally.PRIZES:
            cap = current.caps[tier]
            taken = Award.objects.filter(round=round, tier=tier).exclude(submission_id=submission_id).count()
            if taken >= cap:
                raise ValidationError(
                    f"All {cap} {tier} prize{'s' if cap != 1 else ''} of this tally are confirmed already; "
                    "change one of them first."
                )
        overridden = tier != line.award
        if overridden and not reason:
            raise ValidationError(f"Overriding the proposed award ({line.award}) needs a reason.")
        award, _ = Award.objects.update_or_create(
            submission_id=submission_id,
            round=round,
            defaults={
                "tier": tier,
                "overridden_from": line.award if overridden else "",
                "reason": reason,
                "decided_by": by,
                "decided_at": timezone.now(),
            },
        )
        TallyDecision.objects.create(
            round=round,
            submission_id=submission_id,
            action=TallyDecision.Action.OVERRIDDEN if overridden else TallyDecision.Action.CONFIRMED,
            what=f"{tier} (proposed: {line.award})" if overridden else tier,
            reason=reason,
            decided_by=by,
        )
    return award
