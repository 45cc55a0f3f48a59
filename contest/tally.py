"""The prize tally: reviewers' levels → a combined level per criterion → eligibility → awards under the caps
(../shared/seeds: "Inverse Scaling Prize information", "Timeline", "Prize Rubric").

Plain Python, no Django: the organizer's tally page and `manage.py prize_tally` both call `tally()`, from the
database or from a scores file (`read_scores`, `read_ranks`).

- Levels are ordered none < accepted < grand. A criterion's combined level is the median of the reviewers'
  levels (the lower middle one when their number is even) or, under the other rule, their minimum.
- Eligibility: grand = all six grand; second = all at least accepted and one grand or more; third = all at
  least accepted; otherwise not accepted ("none").
- Caps over the contest: 1 grand, 5 second, 10 third. Round 1 awards only second (≤ 2) and third (≤ 5); a
  grand-eligible round-1 task competes for second there. The final tally (round 2) covers both rounds: a
  round-1 award is a floor (kept or upgraded, never lowered) and an upgrade frees the lower slot.
- Allocation, tier by tier from grand down: the round-1 holders of the tier first, then the other submissions
  not yet awarded that are eligible for the tier or a higher one, by grand criteria (more first), the
  organizer's rank (1 = best, unranked last), submission id; up to the cap. Third-eligible (or better) without a
  slot are "accepted" (benchmark and co-authorship).
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from contest.prize import TIERS
from contest.rubric import ACCEPTED, CRITERIA_KEYS, GRAND, LEVELS, NONE

MEDIAN = "median"
MINIMUM = "minimum"
RULES = (MEDIAN, MINIMUM)

ROUNDS = (1, 2)  # round 1, then the final round, whose tally covers both
PRIZES = tuple(tier.key for tier in TIERS)  # grand, second, third: best first
NOT_ACCEPTED = NONE
ELIGIBILITIES = (*PRIZES, NOT_ACCEPTED)
AWARDS = (*PRIZES, ACCEPTED, NOT_ACCEPTED)  # "accepted": in the benchmark, no prize
AMOUNT_USD = {tier.key: tier.amount_usd for tier in TIERS}
_ORDER = {level: position for position, level in enumerate(LEVELS)}


def caps(round: int) -> dict[str, int]:
    """How many of each prize the tally of ``round`` may award: round 1's own limits, or the contest's caps."""
    if round not in ROUNDS:
        raise ValueError(f"the contest has rounds 1 and 2, not {round}")
    return {tier.key: tier.at_most_in_round_1 if round == 1 else tier.at_most for tier in TIERS}


def combine(levels: Iterable[str], rule: str = MEDIAN) -> str | None:
    """One criterion's combined level from its reviewers' levels; None when nobody gave one."""
    ordered = sorted(levels, key=_ORDER.__getitem__)
    if not ordered:
        return None
    if rule == MINIMUM:
        return ordered[0]
    if rule == MEDIAN:
        return ordered[(len(ordered) - 1) // 2]  # the lower middle one when their number is even
    raise ValueError(f"unknown rule {rule!r}: {' or '.join(RULES)}")


def combined_levels(reviews: Iterable[Mapping[str, str]], rule: str = MEDIAN) -> dict[str, str | None]:
    """Criterion → combined level over the reviews (each: criterion → level), in the rubric's order."""
    reviews = list(reviews)
    return {
        key: combine((review[key] for review in reviews if review.get(key) in _ORDER), rule)
        for key in CRITERIA_KEYS
    }


def eligibility(levels: Mapping[str, str | None]) -> str:
    """grand, second, third or none (not accepted), from the combined level of every criterion."""
    given = [levels.get(key) for key in CRITERIA_KEYS]
    if any(level not in (ACCEPTED, GRAND) for level in given):
        return NOT_ACCEPTED
    if all(level == GRAND for level in given):
        return GRAND
    return "second" if GRAND in given else "third"


def grand_criteria(levels: Mapping[str, str | None]) -> int:
    return sum(1 for key in CRITERIA_KEYS if levels.get(key) == GRAND)


def at_least(award: str, tier: str) -> bool:
    """Whether ``award`` (a prize, accepted or none) is ``tier`` or better."""
    return AWARDS.index(award) <= AWARDS.index(tier)


@dataclass(frozen=True)
class Candidate:
    """A submission as the tally sees it: its round (1 or 2), its reviewers' levels, the organizer's rank."""

    submission: int
    round: int
    reviews: tuple[Mapping[str, str], ...] = ()
    rank: int | None = None


@dataclass(frozen=True)
class Line:
    submission: int
    round: int
    levels: dict[str, str | None]
    eligible: str
    grand_criteria: int
    rank: int | None
    award: str
    round1_award: str | None

    def as_json(self) -> dict:
        return {
            "submission": self.submission,
            "round": self.round,
            "levels": dict(self.levels),
            "eligible": self.eligible,
            "grand_criteria": self.grand_criteria,
            "award": self.award,
            "round1_award": self.round1_award,
        }


@dataclass(frozen=True)
class Tally:
    round: int
    rule: str
    lines: list[Line]
    unawarded: dict[str, int]  # prize → slots this tally leaves free

    @property
    def total_usd(self) -> int:
        return sum(AMOUNT_USD.get(line.award, 0) for line in self.lines)

    def line_of(self, submission: int) -> Line | None:
        return next((line for line in self.lines if line.submission == submission), None)

    def as_json(self) -> dict:
        return {
            "round": self.round,
            "rule": self.rule,
            "submissions": [line.as_json() for line in self.lines],
            "unawarded": dict(self.unawarded),
            "total_usd": self.total_usd,
        }


def order_key(line: Line) -> tuple:
    """Who goes first among candidates for a tier: more grand criteria, then rank (1 = best, unranked last),
    then submission id."""
    return (-line.grand_criteria, line.rank is None, line.rank or 0, line.submission)


def tally(
    candidates: Iterable[Candidate],
    *,
    round: int,
    rule: str = MEDIAN,
    round1_awards: Mapping[int, str] | None = None,
) -> Tally:
    """The proposed awards of round ``round``'s tally. Round 1 counts the round-1 candidates; the final one
    (round 2) counts both rounds, with ``round1_awards`` (submission → second or third) as floors."""
    limits = caps(round)
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}: {' or '.join(RULES)}")
    floors = {
        submission: award
        for submission, award in (round1_awards or {}).items()
        if round == 2 and award in PRIZES
    }
    lines = []
    for candidate in candidates:
        if candidate.round > round:
            continue
        levels = combined_levels(candidate.reviews, rule)
        lines.append(
            Line(
                submission=candidate.submission,
                round=candidate.round,
                levels=levels,
                eligible=eligibility(levels),
                grand_criteria=grand_criteria(levels),
                rank=candidate.rank,
                award=NOT_ACCEPTED,
                round1_award=floors.get(candidate.submission) if candidate.round == 1 else None,
            )
        )
    in_round_1 = {line.submission for line in lines if line.round == 1}
    floors = {submission: award for submission, award in floors.items() if submission in in_round_1}
    lines.sort(key=order_key)
    awards = _allocate(lines, limits=limits, floors=floors)
    unawarded = {tier: limits[tier] - sum(1 for a in awards.values() if a == tier) for tier in PRIZES}
    final = []
    for line in lines:
        award = awards.get(line.submission)
        if award is None:
            award = ACCEPTED if line.eligible != NOT_ACCEPTED else NOT_ACCEPTED
        final.append(_with_award(line, award))
    return Tally(
        round=round,
        rule=rule,
        lines=sorted(final, key=lambda line: line.submission),
        unawarded={tier: max(0, free) for tier, free in unawarded.items()},
    )


def _allocate(
    lines: Sequence[Line], *, limits: Mapping[str, int], floors: Mapping[int, str]
) -> dict[int, str]:
    awarded: dict[int, str] = {}
    for tier in PRIZES:
        holders = [
            line for line in lines if floors.get(line.submission) == tier and line.submission not in awarded
        ]
        others = [
            line
            for line in lines  # already in candidate order
            if line.submission not in awarded
            and floors.get(line.submission) != tier
            and line.eligible != NOT_ACCEPTED
            and at_least(line.eligible, tier)
        ]
        # A floor is kept even past a cap (round-1 limits are below the contest's, so only bad data does that).
        free = limits[tier]
        for line in holders:
            awarded[line.submission] = tier
            free -= 1
        for line in others[: max(0, free)]:
            awarded[line.submission] = tier
    return awarded


def _with_award(line: Line, award: str) -> Line:
    return Line(**{**line.__dict__, "award": award})


# Files: `submission,round,reviewer,criterion,level` scores and `submission,rank` ranks, as `prize_tally` reads.

SCORE_COLUMNS = ("submission", "round", "reviewer", "criterion", "level")
RANK_COLUMNS = ("submission", "rank")


@dataclass
class FileReport:
    """What was read from a file and its problems, each `row R, column C: message` (rows as a spreadsheet
    numbers them, the header being row 1) or `file: message`."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Scores(FileReport):
    candidates: list[Candidate] = field(default_factory=list)


@dataclass
class Ranks(FileReport):
    ranks: dict[int, int] = field(default_factory=dict)


def _records(data: bytes, columns: tuple[str, ...], report: FileReport) -> list[tuple[int, dict[str, str]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        report.problems.append(f"file: not UTF-8 (byte {error.start + 1}); save it as CSV UTF-8")
        return []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if not header or not any(header):
        report.problems.append(f"row 1: the file is empty; its header must be {','.join(columns)}")
        return []
    missing = [name for name in columns if name not in header]
    if missing:
        report.problems.append(
            f"row 1: the header lacks {', '.join(missing)}; it must have {','.join(columns)} (found {','.join(header)})"
        )
        return []
    records = []
    for row, values in enumerate(reader, start=2):
        if not any(value.strip() for value in values):
            continue  # blank lines, as spreadsheets leave at the end
        cells = dict(zip(header, (value.strip() for value in values), strict=False))
        records.append((row, {name: cells.get(name, "") for name in columns}))
    return records


def _positive_int(value: str) -> int | None:
    return int(value) if value.isdigit() and int(value) > 0 else None


def read_scores(data: bytes) -> Scores:
    """The candidates of a scores file: one row per reviewer, submission and criterion."""
    report = Scores()
    rounds: dict[int, int] = {}
    reviews: dict[int, dict[str, dict[str, str]]] = {}
    first_row: dict[tuple[int, str], int] = {}
    for row, cells in _records(data, SCORE_COLUMNS, report):
        bad = []
        submission = _positive_int(cells["submission"])
        if submission is None:
            bad.append(
                ("submission", f"{cells['submission']!r} is not a submission id (a positive whole number)")
            )
        round = int(cells["round"]) if cells["round"] in ("1", "2") else None
        if round is None:
            bad.append(("round", f"{cells['round']!r} is not a round: 1 or 2"))
        if not cells["reviewer"]:
            bad.append(("reviewer", "empty; name the reviewer"))
        criterion = cells["criterion"].lower()
        if criterion not in CRITERIA_KEYS:
            bad.append(
                ("criterion", f"{cells['criterion']!r} is not a criterion: {', '.join(CRITERIA_KEYS)}")
            )
        level = cells["level"].lower()
        if level not in LEVELS:
            bad.append(("level", f"{cells['level']!r} is not a level: {', '.join(LEVELS)}"))
        if submission is not None and round is not None and rounds.setdefault(submission, round) != round:
            bad.append(
                ("round", f"submission {submission} is in round {rounds[submission]} on an earlier row")
            )
        if submission is not None and criterion in CRITERIA_KEYS and cells["reviewer"]:
            given = reviews.setdefault(submission, {}).setdefault(cells["reviewer"], {})
            first_row.setdefault((submission, cells["reviewer"]), row)
            if criterion in given:
                bad.append(
                    ("criterion", f"{cells['reviewer']} already gave {criterion} of submission {submission}")
                )
            elif level in LEVELS:
                given[criterion] = level
        report.problems.extend(f"row {row}, column {column}: {message}" for column, message in bad)
    for (submission, reviewer), row in sorted(first_row.items(), key=lambda item: item[1]):
        missing = [key for key in CRITERIA_KEYS if key not in reviews[submission][reviewer]]
        if missing and report.ok:
            report.problems.append(
                f"row {row}, column criterion: {reviewer} gave no level for {', '.join(missing)} "
                f"of submission {submission}"
            )
    if report.ok:
        report.candidates = [
            Candidate(submission=s, round=rounds[s], reviews=tuple(reviews[s].values()))
            for s in sorted(rounds)
        ]
    return report


def read_ranks(data: bytes) -> Ranks:
    report = Ranks()
    seen: set[int] = set()
    for row, cells in _records(data, RANK_COLUMNS, report):
        submission = _positive_int(cells["submission"])
        rank = _positive_int(cells["rank"])
        if submission is None:
            report.problems.append(
                f"row {row}, column submission: {cells['submission']!r} is not a submission id "
                "(a positive whole number)"
            )
        elif submission in seen:
            report.problems.append(f"row {row}, column submission: submission {submission} is ranked twice")
        seen.add(submission)
        if rank is None:
            report.problems.append(
                f"row {row}, column rank: {cells['rank']!r} is not a rank (1 = best, a positive whole number)"
            )
        if submission is not None and rank is not None:
            report.ranks.setdefault(submission, rank)
    if not report.ok:
        report.ranks = {}
    return report


def round1_floors(round_1: Tally) -> dict[int, str]:
    """Submission → its prize in a round-1 tally: the floors of the final one."""
    return {line.submission: line.award for line in round_1.lines if line.award in PRIZES}


def with_ranks(candidates: Iterable[Candidate], ranks: Mapping[int, int]) -> list[Candidate]:
    """The candidates with the organizer's ranks of ``ranks`` (those not in it are unranked)."""
    return [Candidate(c.submission, c.round, c.reviews, ranks.get(c.submission)) for c in candidates]


def as_csv(result: Tally) -> str:
    """One line per submission: its round, combined level per criterion, eligibility, award."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["submission", "round", *CRITERIA_KEYS, "eligible", "grand_criteria", "award", "round1_award"]
    )
    for line in result.lines:
        writer.writerow(
            [
                line.submission,
                line.round,
                *(line.levels[key] or "" for key in CRITERIA_KEYS),
                line.eligible,
                line.grand_criteria,
                line.award,
                line.round1_award or "",
            ]
        )
    return out.getvalue()


def as_table(result: Tally) -> str:
    """The tally for a terminal: aligned columns, then the free slots and the total."""
    header = ["submission", "round", *CRITERIA_KEYS, "eligible", "grand", "rank", "award", "round 1"]
    rows = [
        [
            str(line.submission),
            str(line.round),
            *(line.levels[key] or "-" for key in CRITERIA_KEYS),
            line.eligible,
            str(line.grand_criteria),
            "-" if line.rank is None else str(line.rank),
            line.award,
            line.round1_award or "-",
        ]
        for line in result.lines
    ]
    widths = [max(len(cells[i]) for cells in [header, *rows]) for i in range(len(header))]
    limits = caps(result.round)
    free = ", ".join(f"{tier} {result.unawarded[tier]} of {limits[tier]}" for tier in PRIZES if limits[tier])
    return "\n".join(
        [
            f"Round {result.round} tally, combined level: {result.rule}",
            *(
                "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
                for cells in [header, *rows]
            ),
            f"unawarded: {free}",
            f"total: ${result.total_usd:,}",
        ]
    )
