"""Automatic assignment: every submission gets its reviewers, never a conflicted one, loads balanced to within
one, existing assignments kept; `assign_reviewers` prints the plan, and --dry-run writes nothing."""

import io
import itertools
import random
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import Role
from accounts.services import grant_role, join_team
from reviews.models import Assignment
from reviews.services import (
    add_institutional_domain,
    assign_reviewer,
    assign_reviewers_automatically,
    choose_reviewers,
    declare_conflict,
    set_conflict,
)
from submissions.models import Submission
from tests.factories import ContestantFactory, RoundFactory, UserFactory

pytestmark = pytest.mark.django_db


def _reviewer(username: str, email: str):
    user = UserFactory(username=username, email=email)
    grant_role(user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def big_round(olga):
    """60 submissions from 60 teams (every third has a second member) and 12 reviewers, with the conflicts the
    test knows independently of the code under test: ``expected`` holds the (reviewer, submission) pairs that
    must never be assigned."""
    rng = random.Random(7)
    round = RoundFactory(name="Round Big")
    add_institutional_domain(domain="uni-a.edu", by=olga)
    reviewers = [
        _reviewer(f"rev{i:02}", f"rev{i}@uni-a.edu" if i < 2 else f"rev{i}@gmail.com") for i in range(12)
    ]
    submissions, expected = [], set()
    for t in range(60):
        owner = ContestantFactory(username=f"owner{t:02}", email=f"o{t}@gmail.com")
        team = owner.membership.team
        if t % 3 == 0:
            # Members at the institution of rev00 and rev01 (a subdomain counts); everyone else, reviewers
            # included, shares gmail.com, which is no conflict.
            mate = ContestantFactory(
                username=f"mate{t:02}", email=f"m{t}@cs.uni-a.edu" if t < 30 else f"m{t}@gmail.com"
            )
            join_team(user=mate, invite_code=team.invite_code)
            if t < 30:
                expected |= {(reviewers[0].pk, t), (reviewers[1].pk, t)}
        submissions.append(Submission.objects.create(round=round, team=team, created_by=owner))
    for t in rng.sample(range(60), 12):  # declared team conflicts
        r = rng.randrange(12)
        declare_conflict(reviewer=reviewers[r], team=submissions[t].team)
        expected.add((reviewers[r].pk, t))
    for t in rng.sample(range(60), 6):  # an organizer's conflicts with the owner
        r = rng.randrange(2, 12)
        set_conflict(reviewer=reviewers[r], person=submissions[t].created_by, by=olga)
        expected.add((reviewers[r].pk, t))
    return round, reviewers, submissions, {(r, submissions[t].pk) for r, t in expected}


def _assigned(round) -> set[tuple[int, int]]:
    return set(Assignment.objects.filter(submission__round=round).values_list("reviewer_id", "submission_id"))


def test_a_round_of_60_gets_3_reviewers_each_balanced_and_never_conflicted(big_round):
    round, reviewers, submissions, conflicted = big_round
    assert len(conflicted) >= 30  # shared domain (20 pairs), declared (≤12) and set by an organizer (≤6)
    plan = assign_reviewers_automatically(round=round, by=None)
    pairs = _assigned(round)
    assert len(pairs) == len(plan.new) == 180
    assert not pairs & conflicted
    per_submission = Counter(s for _, s in pairs)
    assert set(per_submission.values()) == {3} and len(per_submission) == 60
    loads = Counter(r for r, _ in pairs)
    assert set(loads.values()) == {15}  # 180 over 12, exactly
    assert {r.get_username(): n for r, n in plan.load.items()} == {r.username: 15 for r in reviewers}
    assert plan.uncovered == [] and plan.conflicted == []
    assert set(Assignment.objects.values_list("method", flat=True)) == {"automatic"}


def test_existing_assignments_are_kept_and_counted(big_round, olga):
    round, reviewers, submissions, conflicted = big_round
    free = [s for s in submissions if (reviewers[5].pk, s.pk) not in conflicted][:20]
    kept = {assign_reviewer(submission=s, reviewer=reviewers[5], by=olga).pk for s in free}
    plan = assign_reviewers_automatically(round=round, by=olga, per_submission=4)
    assert kept <= set(Assignment.objects.values_list("pk", flat=True))
    assert Assignment.objects.filter(pk__in=kept, method="by_hand", assigned_by=olga).count() == 20
    pairs = _assigned(round)
    assert len(pairs) == 240 and not pairs & conflicted
    assert set(Counter(s for _, s in pairs).values()) == {4}
    loads = Counter(r for r, _ in pairs)
    assert max(loads.values()) - min(loads.values()) <= 1
    assert len(plan.new) == 220
    # Run again: nothing is missing, so nothing is added.
    again = assign_reviewers_automatically(round=round, by=olga, per_submission=4)
    assert again.new == [] and again.load == plan.load


def test_the_plan_is_the_same_for_the_same_seed_and_a_dry_run_writes_nothing(big_round):
    round = big_round[0]
    first = assign_reviewers_automatically(round=round, by=None, dry_run=True, seed=3)
    assert not Assignment.objects.exists()
    second = assign_reviewers_automatically(round=round, by=None, seed=3)
    assert [(s.pk, r.pk) for s, r in first.new] == [(s.pk, r.pk) for s, r in second.new]
    assert _assigned(round) == {(r.pk, s.pk) for s, r in first.new}


def test_a_submission_it_cannot_cover_is_named_with_the_reason(olga, open_round, charlie):
    rita, rex, ria = (_reviewer(name, f"{name}@example.org") for name in ("rita", "rex", "ria"))
    submission = Submission.objects.create(round=open_round, team=charlie.membership.team, created_by=charlie)
    declare_conflict(reviewer=ria, person=charlie)
    plan = assign_reviewers_automatically(round=open_round, by=olga)
    assert plan.uncovered == [(submission, "only 2 reviewers without a conflict (needs 3)")]
    assert _assigned(open_round) == {(rita.pk, submission.pk), (rex.pk, submission.pk)}


def test_a_later_conflict_is_reported_not_counted(olga, open_round, charlie):
    rita, rex = (_reviewer(name, f"{name}@example.org") for name in ("rita", "rex"))
    submission = Submission.objects.create(round=open_round, team=charlie.membership.team, created_by=charlie)
    assign_reviewer(submission=submission, reviewer=rita, by=olga)
    declare_conflict(reviewer=rita, person=charlie)
    plan = assign_reviewers_automatically(round=open_round, by=olga, per_submission=1)
    assert [(a.reviewer, reason) for a, reason in plan.conflicted] == [
        (rita, "the reviewer declared a conflict between rita and charlie, of the submitting team")
    ]
    assert [(s, r) for s, r in plan.new] == [(submission, rex)]


def test_only_organizers_assign_automatically(rita, open_round):
    with pytest.raises(PermissionDenied):
        assign_reviewers_automatically(round=open_round, by=rita)


def test_the_command_prints_the_load_and_what_it_could_not_cover(olga, open_round, alice, charlie):
    rita, rex = (_reviewer(name, f"{name}@example.org") for name in ("rita", "rex"))
    covered = Submission.objects.create(round=open_round, team=alice.membership.team, created_by=alice)
    short = Submission.objects.create(round=open_round, team=charlie.membership.team, created_by=charlie)
    declare_conflict(reviewer=rex, person=charlie)

    def run(*args) -> str:
        out = io.StringIO()
        call_command("assign_reviewers", "--round", "Round 1", *args, stdout=out)
        return out.getvalue()

    dry = run("--per-submission", "2", "--dry-run")
    assert not Assignment.objects.exists()
    assert dry.splitlines() == [
        "Round 1: 2 submissions, 2 reviewers for each.",
        "Would assign 3 new reviewers.",
        "Dry run: nothing was written.",
        "Load per reviewer (assignments in Round 1, planned):",
        "  rex   1",
        "  rita  2",
        "Could not cover 1 submission:",
        f"  #{short.pk} Submission {short.pk}: only 1 reviewer without a conflict (needs 2)",
    ]
    assert run("--per-submission", "2").splitlines()[1] == "Assigned 3 new reviewers."
    assert _assigned(open_round) == {(rita.pk, covered.pk), (rex.pk, covered.pk), (rita.pk, short.pk)}
    assert set(Assignment.objects.values_list("assigned_by", flat=True)) == {None}


def test_the_command_names_the_rounds_when_it_finds_none(open_round):
    with pytest.raises(CommandError, match="No round is called “Round 9”. Rounds: “Round 1”."):
        call_command("assign_reviewers", "--round", "Round 9", stdout=io.StringIO())


def _best_spread(free: dict[int, list[int]], reviewers: range, per: int) -> int:
    """The smallest difference between the most and the least loaded reviewer any choice achieves."""
    options = [itertools.combinations(free[s], min(per, len(free[s]))) for s in sorted(free)]
    best = None
    for choice in itertools.product(*options):
        load = Counter(dict.fromkeys(reviewers, 0))
        load.update(r for chosen in choice for r in chosen)
        spread = max(load.values()) - min(load.values())
        best = spread if best is None else min(best, spread)
    return best


@settings(max_examples=150, deadline=None)
@given(
    n_submissions=st.integers(1, 6),
    n_reviewers=st.integers(2, 4),
    per=st.integers(1, 2),
    seed=st.integers(0, 10_000),
    data=st.data(),
)
def test_the_loads_are_as_even_as_the_conflicts_allow(n_submissions, n_reviewers, per, seed, data):
    """On small rounds, compared with every possible choice: each submission gets as many reviewers without a
    conflict as it can, and the spread of the loads is the smallest possible."""
    reviewers = range(n_reviewers)
    pairs = [(r, s) for r in reviewers for s in range(n_submissions)]
    conflicts = set(data.draw(st.lists(st.sampled_from(pairs), unique=True)))
    free = {s: [r for r in reviewers if (r, s) not in conflicts] for s in range(n_submissions)}
    rng = random.Random(seed)
    order = sorted(free, key=lambda s: (len(free[s]), rng.random()))
    load = Counter(dict.fromkeys(reviewers, 0))
    new = choose_reviewers(
        free=free,
        holders={s: set() for s in free},
        needs=dict.fromkeys(free, per),
        load=load,
        rank={r: rng.random() for r in reviewers},
        order=order,
    )
    for s, chosen in new.items():
        assert len(chosen) == min(per, len(free[s])) and chosen <= set(free[s])
    assert load == Counter(r for chosen in new.values() for r in chosen)
    assert max(load.values()) - min(load.values()) == _best_spread(free, reviewers, per)


def test_a_withdrawn_submission_gets_no_reviewer(olga, open_round, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewers_automatically
    from submissions.models import Submission
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS, ContestantFactory, UserFactory, make_task_csv

    for name in ("ravi", "rosa", "remy"):
        grant_role(user=UserFactory(username=name), role=Role.REVIEWER)
    kept, gone = [
        submit_task(
            user=ContestantFactory(username=who),
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        ).submission
        for who in ("kim", "lee")
    ]
    Submission.objects.filter(pk=gone.pk).update(withdrawn_at=timezone.now())
    assign_reviewers_automatically(round=open_round, by=olga, per_submission=2)
    assert kept.assignments.count() == 2 and gone.assignments.count() == 0


def test_a_submission_its_team_did_not_keep_gets_no_reviewer(olga, open_round):
    from django.utils import timezone

    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewers_automatically
    from submissions.models import KeepRequest
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS, ContestantFactory, UserFactory, make_task_csv

    for name in ("ravi", "rosa"):
        grant_role(user=UserFactory(username=name), role=Role.REVIEWER)
    kim = ContestantFactory(username="kim")
    kept, dropped = [
        submit_task(
            user=kim,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(n)),
        ).submission
        for n in (300, 301)
    ]
    request = KeepRequest.objects.create(
        round=open_round, team=kept.team, requested_by=olga, chosen_at=timezone.now()
    )
    request.kept.add(kept)
    assign_reviewers_automatically(round=open_round, by=olga, per_submission=2)
    assert kept.assignments.count() == 2 and dropped.assignments.count() == 0
