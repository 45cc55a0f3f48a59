"""The prize tally's rules (contest/tally.py), over generated levels, rounds and ranks: combined levels, tiers,
caps, round 1's limits, round-1 awards as floors, tie ordering, and the scores and ranks files."""

import csv
import io
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contest import tally as T
from contest.rubric import ACCEPTED, CRITERIA_KEYS, GRAND, LEVELS, NONE

levels = st.sampled_from(LEVELS)
review = st.fixed_dictionaries({key: levels for key in CRITERIA_KEYS})
# Levels skewed towards acceptance, so that caps are reached often.
good_review = st.fixed_dictionaries(
    {key: st.sampled_from([ACCEPTED, GRAND, GRAND, NONE]) for key in CRITERIA_KEYS}
)


@st.composite
def contests(draw, max_size=40):
    """Submissions of both rounds: 1 to 4 reviews each, ranked or not, with distinct ids."""
    ids = draw(st.lists(st.integers(1, 10_000), unique=True, max_size=max_size))
    return [
        T.Candidate(
            submission=s,
            round=draw(st.sampled_from(T.ROUNDS)),
            reviews=tuple(draw(st.lists(st.one_of(review, good_review), min_size=1, max_size=4))),
            rank=draw(st.one_of(st.none(), st.integers(1, 20))),
        )
        for s in ids
    ]


def _every(level):
    return dict.fromkeys(CRITERIA_KEYS, level)


def rule_of(levels_):
    """The rules' words, read literally."""
    if all(level == GRAND for level in levels_):
        return "grand"
    if all(level in (ACCEPTED, GRAND) for level in levels_):
        return "second" if GRAND in levels_ else "third"
    return "none"


def test_every_combination_of_levels_gets_the_tier_the_rubric_says():
    for combination in itertools.product(LEVELS, repeat=len(CRITERIA_KEYS)):
        combined = dict(zip(CRITERIA_KEYS, combination, strict=True))
        assert T.eligibility(combined) == rule_of(combination)
        assert T.grand_criteria(combined) == combination.count(GRAND)


def test_a_criterion_nobody_judged_makes_a_submission_not_accepted():
    assert T.eligibility({**_every(GRAND), "novelty": None}) == "none"
    assert T.combined_levels([]) == dict.fromkeys(CRITERIA_KEYS)


@given(st.lists(levels, min_size=1, max_size=9))
def test_the_median_is_the_lower_middle_level_and_the_minimum_the_lowest(given_levels):
    ordered = sorted(given_levels, key=LEVELS.index)
    median = T.combine(given_levels, T.MEDIAN)
    assert median == ordered[(len(ordered) - 1) // 2]
    # At least half of the levels are at or below it, and more than half at or above it.
    below = sum(1 for level in given_levels if LEVELS.index(level) <= LEVELS.index(median))
    above = sum(1 for level in given_levels if LEVELS.index(level) >= LEVELS.index(median))
    assert 2 * below >= len(given_levels) and 2 * above > len(given_levels) - (len(given_levels) % 2 == 0)
    assert T.combine(given_levels, T.MINIMUM) == min(given_levels, key=LEVELS.index)
    assert LEVELS.index(T.combine(given_levels, T.MINIMUM)) <= LEVELS.index(median)
    assert T.combine(random.sample(given_levels, len(given_levels)), T.MEDIAN) == median


def test_the_median_of_an_even_number_takes_the_lower_middle():
    assert T.combine([GRAND, ACCEPTED], T.MEDIAN) == ACCEPTED
    assert T.combine([GRAND, GRAND, NONE, ACCEPTED], T.MEDIAN) == ACCEPTED
    assert T.combine([GRAND, GRAND, NONE], T.MEDIAN) == GRAND
    assert T.combine([GRAND, GRAND, NONE], T.MINIMUM) == NONE


def _count(result, award):
    return sum(1 for line in result.lines if line.award == award)


def _final(candidates, rule=T.MEDIAN):
    round_1 = T.tally(candidates, round=1, rule=rule)
    return round_1, T.tally(candidates, round=2, rule=rule, round1_awards=T.round1_floors(round_1))


def _check_invariants(result, floors):
    limits = T.caps(result.round)
    for tier in T.PRIZES:
        # Floors only ever hold round-1 limits, below the contest's caps: no cap is passed.
        assert _count(result, tier) <= limits[tier]
        assert result.unawarded[tier] == limits[tier] - _count(result, tier)
    for line in result.lines:
        floor = floors.get(line.submission)
        if floor:
            assert T.at_least(line.award, floor), "a round-1 award is never lowered"
        elif line.award in T.PRIZES:
            assert T.at_least(line.eligible, line.award), "a prize only for a submission eligible for it"
        if line.eligible == "none" and not floor:
            assert line.award == "none"
        if line.eligible != "none":
            assert line.award != "none", "third-eligible without a slot are accepted"
        # A better tier it is eligible for has no free slot left.
        for tier in T.PRIZES:
            if (
                not T.at_least(line.award, tier)
                and line.eligible != "none"
                and T.at_least(line.eligible, tier)
            ):
                assert result.unawarded[tier] == 0
    assert result.total_usd == sum(T.AMOUNT_USD.get(line.award, 0) for line in result.lines)


@settings(max_examples=200, deadline=None)
@given(contests(), st.sampled_from(T.RULES))
def test_caps_round_1_limits_and_floors_hold_over_generated_rounds(candidates, rule):
    round_1, final = _final(candidates, rule)
    assert {line.submission for line in round_1.lines} == {c.submission for c in candidates if c.round == 1}
    assert {line.submission for line in final.lines} == {c.submission for c in candidates}
    assert _count(round_1, "grand") == 0 and round_1.unawarded["grand"] == 0
    assert _count(round_1, "second") <= 2 and _count(round_1, "third") <= 5
    assert all(line.round1_award is None for line in round_1.lines)
    _check_invariants(round_1, {})
    floors = T.round1_floors(round_1)
    _check_invariants(final, floors)
    for line in final.lines:
        assert line.round1_award == floors.get(line.submission)


@settings(max_examples=200, deadline=None)
@given(contests(), st.sampled_from(T.ROUNDS))
def test_within_a_tier_the_winners_come_first_in_candidate_order(candidates, round):
    """More grand criteria first, then rank (unranked last), then submission id."""
    round_1, final = _final(candidates)
    result = final if round == 2 else round_1
    floors = T.round1_floors(round_1) if round == 2 else {}
    for tier in T.PRIZES:
        competing = [
            line
            for line in result.lines
            if line.submission not in floors
            and line.eligible != "none"
            and T.at_least(line.eligible, tier)
            and not (line.award in T.PRIZES and T.PRIZES.index(line.award) < T.PRIZES.index(tier))
        ]
        winners = [line for line in competing if line.award == tier]
        losers = [line for line in competing if line.award != tier]
        if winners and losers:
            assert max(map(T.order_key, winners)) < min(map(T.order_key, losers))


@settings(max_examples=100, deadline=None)
@given(contests(max_size=25), st.randoms(use_true_random=False))
def test_the_order_of_the_input_does_not_change_the_tally(candidates, rnd):
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert _final(candidates)[1] == _final(shuffled)[1]


def test_ties_go_to_more_grand_criteria_then_rank_then_submission_id():
    second = {**_every(ACCEPTED), "strength": GRAND}
    two_grand = {**second, "novelty": GRAND}
    candidates = [
        T.Candidate(1, 1, (second,), rank=None),
        T.Candidate(2, 1, (second,), rank=None),
        T.Candidate(3, 1, (second,), rank=2),
        T.Candidate(4, 1, (second,), rank=1),
        T.Candidate(5, 1, (two_grand,), rank=9),
    ]
    result = T.tally(candidates, round=1)
    awards = {line.submission: line.award for line in result.lines}
    # Two second prizes in round 1: the one with two grand criteria, then rank 1; then third in order.
    assert awards == {5: "second", 4: "second", 3: "third", 1: "third", 2: "third"}
    ordered = sorted(result.lines, key=T.order_key)
    assert [line.submission for line in ordered] == [5, 4, 3, 1, 2]


def test_round_1_gives_a_grand_eligible_task_a_second_prize():
    result = T.tally([T.Candidate(1, 1, (_every(GRAND),))], round=1)
    assert result.lines[0].eligible == "grand" and result.lines[0].award == "second"
    assert result.unawarded == {"grand": 0, "second": 1, "third": 5}
    assert result.total_usd == 20_000


def test_an_upgrade_frees_the_lower_slot_and_a_floor_is_kept_past_lower_levels():
    round_1 = [T.Candidate(s, 1, (_every(ACCEPTED),)) for s in range(1, 6)]  # five third prizes
    round_1.append(T.Candidate(6, 1, (_every(GRAND),)))  # second in round 1
    round_2 = [T.Candidate(s, 2, (_every(ACCEPTED),)) for s in range(7, 20)]
    first, final = _final(round_1 + round_2)
    assert T.round1_floors(first) == {**dict.fromkeys(range(1, 6), "third"), 6: "second"}
    awards = {line.submission: line.award for line in final.lines}
    assert awards[6] == "grand"  # upgraded: its second slot is free again
    assert final.unawarded == {"grand": 0, "second": 5, "third": 0}
    assert [s for s in range(1, 6) if awards[s] == "third"] == [1, 2, 3, 4, 5]  # holders first
    assert [s for s in range(7, 20) if awards[s] == "third"] == [7, 8, 9, 10, 11]
    assert all(awards[s] == "accepted" for s in range(12, 20))
    # A round-1 prize whose levels were lowered since is still kept.
    lowered = T.tally([T.Candidate(1, 1, (_every(NONE),))], round=2, round1_awards={1: "second"})
    assert lowered.lines[0].award == "second" and lowered.lines[0].round1_award == "second"


def test_the_json_has_exactly_the_keys_of_the_issue():
    result = _final([T.Candidate(3, 1, (_every(GRAND),)), T.Candidate(4, 2, (_every(ACCEPTED),))])[1]
    data = result.as_json()
    assert set(data) == {"round", "rule", "submissions", "unawarded", "total_usd"}
    assert set(data["submissions"][0]) == {
        "submission",
        "round",
        "levels",
        "eligible",
        "grand_criteria",
        "award",
        "round1_award",
    }
    assert data["submissions"][0]["award"] == "grand" and data["submissions"][0]["round1_award"] == "second"
    assert data["unawarded"] == {"grand": 0, "second": 5, "third": 9} and data["total_usd"] == 105_000


def _scores_csv(candidates) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(T.SCORE_COLUMNS)
    for c in candidates:
        for n, given_review in enumerate(c.reviews):
            for key, level in given_review.items():
                writer.writerow([c.submission, c.round, f"reviewer{n}", key, level])
    return out.getvalue().encode()


@settings(max_examples=50, deadline=None)
@given(contests(max_size=15))
def test_a_scores_file_gives_the_same_tally_as_the_candidates_it_holds(candidates):
    report = T.read_scores(_scores_csv(candidates))
    assert report.ok, report.problems
    unranked = T.with_ranks(candidates, {})
    assert _final(report.candidates)[1] == _final(unranked)[1]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"submission,round,reviewer,criterion\n", "row 1: the header lacks level"),
        (b"", "row 1: the file is empty"),
        (
            b"submission,round,reviewer,criterion,level\nx,1,r,strength,grand\n",
            "row 2, column submission: 'x'",
        ),
        (b"submission,round,reviewer,criterion,level\n1,3,r,strength,grand\n", "row 2, column round: '3'"),
        (
            b"submission,round,reviewer,criterion,level\n1,1,r,speed,grand\n",
            "row 2, column criterion: 'speed'",
        ),
        (
            b"submission,round,reviewer,criterion,level\n1,1,r,strength,great\n",
            "row 2, column level: 'great'",
        ),
        (
            b"submission,round,reviewer,criterion,level\n1,1,,strength,grand\n",
            "row 2, column reviewer: empty",
        ),
        (
            b"submission,round,reviewer,criterion,level\n1,1,r,strength,grand\n1,2,s,strength,grand\n",
            "row 3, column round: submission 1 is in round 1 on an earlier row",
        ),
        (
            b"submission,round,reviewer,criterion,level\n1,1,r,strength,grand\n1,1,r,strength,none\n",
            "row 3, column criterion: r already gave strength of submission 1",
        ),
        (
            b"submission,round,reviewer,criterion,level\n1,1,r,strength,grand\n",
            "row 2, column criterion: r gave no level for generality, importance",
        ),
        (b"\xff\xfe\x00bad", "file: not UTF-8"),
    ],
)
def test_a_bad_scores_file_names_row_and_column(content, problem):
    report = T.read_scores(content)
    assert not report.ok and report.candidates == []
    assert any(line.startswith(problem) for line in report.problems), report.problems


def test_a_ranks_file_is_read_and_checked():
    assert T.read_ranks(b"submission,rank\n1,2\n2,1\n\n").ranks == {1: 2, 2: 1}
    report = T.read_ranks(b"submission,rank\n1,0\n1,2\nx,1\n")
    assert report.problems == [
        "row 2, column rank: '0' is not a rank (1 = best, a positive whole number)",
        "row 3, column submission: submission 1 is ranked twice",
        "row 4, column submission: 'x' is not a submission id (a positive whole number)",
    ]


def test_the_table_and_csv_formats_show_each_submission():
    result = T.tally([T.Candidate(7, 1, (_every(ACCEPTED),), rank=1)], round=1, rule=T.MINIMUM)
    table = T.as_table(result)
    assert "combined level: minimum" in table and "unawarded: second 2 of 2, third 4 of 5" in table
    assert "total: $5,000" in table
    rows = list(csv.reader(io.StringIO(T.as_csv(result))))
    assert rows[0][:2] == ["submission", "round"] and rows[1] == [
        "7",
        "1",
        *["accepted"] * 6,
        "third",
        "0",
        "third",
        "",
    ]
