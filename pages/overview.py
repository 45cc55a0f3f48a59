"""The contest overview: every submission of a round in one table, for organizers.

Per submission its current version's task, metric and examples; per series the verdict and slope the worker
cached (evaluation.evidence.cached_trends: never computed here); its review status and the reviewers' combined
level per criterion; the tiers they suggest; whether it was withdrawn. Filtered and sorted in Python over rows
read in a constant number of queries, and exported as CSV or JSON with the same filters.
"""

import csv
import io
from collections import Counter
from dataclasses import dataclass, field

from accounts.models import Team
from config import freshness
from contest import rubric, tally
from evaluation.evidence import CachedTrend, cached_trends
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.trends import ANCHORS
from reviews.models import Assignment, Award, Review
from reviews.selectors import tally_rule
from submissions.models import Round, Submission, SubmissionVersion
from submissions.selectors import LISTS_SKIP, out_of_decisions

UNASSIGNED = "unassigned"
NOT_REVIEWED = "not reviewed"
PARTLY_REVIEWED = "partly reviewed"
REVIEWED = "reviewed"
REVIEW_STATUSES = (UNASSIGNED, NOT_REVIEWED, PARTLY_REVIEWED, REVIEWED)

# What a series' cell may say besides a verdict (the filter's choices, by their slug).
SERIES_STATES = {
    "no-trend": "no trend",
    "not-computed": "not computed yet",
    "evaluating": "evaluating",
    "failed": "failed",
    "not-run": "not run",
}
VERDICT_SLUGS = {slug: verdict for verdict, slug in ANCHORS.items()}
SERIES_CHOICES = {**VERDICT_SLUGS, **SERIES_STATES}

# A text cell starting with one of these is a formula (or starts one) in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: object) -> object:
    """A text cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe. Numbers
    are written as numbers (a negative slope is no formula)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


@dataclass
class SeriesCell:
    """One series of one submission, as the overview shows it."""

    state: str  # "trend" or a value of SERIES_STATES
    verdict: str | None = None
    slope: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    finished: bool = True

    @property
    def slug(self) -> str:
        if self.verdict is not None:
            return ANCHORS[self.verdict]
        return next(slug for slug, state in SERIES_STATES.items() if state == self.state)

    @property
    def label(self) -> str:
        return self.verdict if self.verdict is not None else self.state

    @classmethod
    def of(cls, cached: CachedTrend | None) -> "SeriesCell":
        if cached is None:
            return cls(state=SERIES_STATES["not-run"])
        trend = cached.trend
        if trend is None:
            return cls(state=cached.state, finished=cached.finished)
        return cls(
            state=cached.state,
            verdict=trend.verdict,
            slope=trend.slope,
            ci_low=trend.ci_low,
            ci_high=trend.ci_high,
            finished=cached.finished,
        )


@dataclass
class OverviewRow:
    submission: Submission
    series: dict[int, SeriesCell]  # by series id
    assigned: int = 0
    drafts: int = 0
    submitted: int = 0
    levels: dict[str, str | None] = field(default_factory=dict)  # criterion key → combined level
    suggested_tiers: Counter = field(default_factory=Counter)  # tier → how many submitted reviews suggest it
    award: str = ""  # the tier an organizer confirmed in the round's tally, if any
    not_kept: bool = False  # its team, asked to choose, did not keep it: out of the round's decisions

    @property
    def version(self):
        return self.submission.current_version

    @property
    def withdrawn(self) -> bool:
        # Withdrawal may not exist on the model: a submission without it is simply not withdrawn.
        return bool(getattr(self.submission, "is_withdrawn", False))

    @property
    def review_status(self) -> str:
        if not self.assigned:
            return UNASSIGNED
        if not self.submitted:
            return NOT_REVIEWED
        return REVIEWED if self.submitted == self.assigned else PARTLY_REVIEWED

    @property
    def grand_criteria(self) -> int:
        return sum(level == rubric.GRAND for level in self.levels.values())

    @property
    def tiers_summary(self) -> str:
        """ "second ×2, third ×1": the tiers the submitted reviews suggest, most suggested first."""
        return ", ".join(f"{tier} ×{count}" for tier, count in self.suggested_tiers.most_common())


@dataclass
class Overview:
    round: Round
    series: list[ModelSeries]
    rows: list[OverviewRow]
    rule: str = tally.MEDIAN


# What _submissions_and_trends reads: its result is kept while none of them changes (config/freshness.py), so a
# review, award or keep choice does not make the round's trends be read again.
TREND_TABLES = (
    Submission._meta.db_table,
    SubmissionVersion._meta.db_table,
    Team._meta.db_table,
    EvaluationRun._meta.db_table,
    LanguageModel._meta.db_table,
    ModelSeries._meta.db_table,
    freshness.EVIDENCE,
)


def _submissions_and_trends(round: Round) -> tuple[list[Submission], dict[int, dict[int, CachedTrend]], list]:
    """The round's submissions with a version, their series' trends as cached, and those series in order."""
    submissions = list(
        Submission.objects.filter(round=round, current_version__isnull=False)
        .select_related("current_version", "team")
        .defer(*LISTS_SKIP)
        .order_by("pk")
    )
    trends = cached_trends(versions=[s.current_version for s in submissions])
    series = sorted(
        {cached.series for per_version in trends.values() for cached in per_version.values()},
        key=lambda s: (s.order, s.name),
    )
    return submissions, trends, series


def overview_of(*, round: Round) -> Overview:
    """Every submission of the round with a version, in four queries (and one cache read) whatever their
    number, ordered by submission id; the submissions and trends from the cache while none of what they are read
    from changed."""
    submissions, trends, series = freshness.cached(
        ("overview trends", round.pk), lambda: _submissions_and_trends(round), tables=TREND_TABLES
    )
    rows = {
        s.pk: OverviewRow(
            submission=s,
            series={one.pk: SeriesCell.of(trends[s.current_version_id].get(one.pk)) for one in series},
        )
        for s in submissions
    }
    levels: dict[int, dict[str, list[str]]] = {pk: {} for pk in rows}
    reviews = (
        Assignment.objects.filter(submission__round=round)
        .order_by()
        .values_list("submission_id", "review__status", "review__levels", "review__suggested_tier")
    )
    for submission_id, status, given, tier in reviews:
        row = rows.get(submission_id)
        if row is None:  # a submission without a version is not listed
            continue
        row.assigned += 1
        if status == Review.Status.DRAFT:
            row.drafts += 1
        elif status == Review.Status.SUBMITTED:
            row.submitted += 1
            for key, level in (given or {}).items():
                levels[submission_id].setdefault(key, []).append(level)
            if tier:
                row.suggested_tiers[tier] += 1
    rule = tally_rule(round)  # the levels combine as the round's tally combines them (median or minimum)
    for submission_id, row in rows.items():
        row.levels = {
            key: tally.combine(levels[submission_id].get(key, []), rule) for key in rubric.CRITERIA_KEYS
        }
    for submission_id in out_of_decisions(round_ids=[round.pk]):
        if submission_id in rows and not rows[submission_id].withdrawn:
            rows[submission_id].not_kept = True
    for submission_id, tier in Award.objects.filter(round=round).values_list("submission_id", "tier"):
        if submission_id in rows:
            rows[submission_id].award = tier
    return Overview(round=round, series=series, rows=list(rows.values()), rule=rule)


@dataclass(frozen=True)
class OverviewQuery:
    """What the organizer asked of the table (from the page's GET parameters)."""

    metric: str = ""
    review: str = ""
    verdicts: tuple[tuple[int, str], ...] = ()  # (series id, slug of SERIES_CHOICES)
    sort: str = "submission"


def filtered(rows: list[OverviewRow], query: OverviewQuery) -> list[OverviewRow]:
    return [
        row
        for row in rows
        if (not query.metric or row.version.metric == query.metric)
        and (not query.review or row.review_status == query.review)
        and all(row.series[series_id].slug == slug for series_id, slug in query.verdicts)
    ]


def _sort_keys(series: list[ModelSeries]) -> dict:
    keys = {
        "submission": lambda row: row.submission.pk,
        "task": lambda row: row.version.task_name.casefold(),
        "team": lambda row: row.submission.team.name.casefold(),
        "metric": lambda row: row.version.metric,
        "examples": lambda row: row.version.example_count,
        "assigned": lambda row: row.assigned,
        "submitted": lambda row: row.submitted,
        "grand": lambda row: row.grand_criteria,
    }
    for one in series:
        keys[f"slope-{one.pk}"] = lambda row, pk=one.pk: row.series[pk].slope
    return keys


def sort_names(series: list[ModelSeries]) -> set[str]:
    return set(_sort_keys(series))


def sorted_rows(rows: list[OverviewRow], *, sort: str, series: list[ModelSeries]) -> list[OverviewRow]:
    """Ordered by ``sort`` (a name of sort_names, "-" first for descending), ties by submission id; rows without
    the value (a slope not computed) come last in either direction."""
    descending = sort.startswith("-")
    key = _sort_keys(series)[sort.removeprefix("-")]
    known = [row for row in rows if key(row) is not None]
    unknown = [row for row in rows if key(row) is None]
    known.sort(key=lambda row: row.submission.pk)
    known.sort(key=key, reverse=descending)
    return known + unknown


def _series_export(cell: SeriesCell) -> dict:
    return {
        "state": cell.slug,
        "verdict": cell.verdict,
        "slope": cell.slope,
        "ci_low": cell.ci_low,
        "ci_high": cell.ci_high,
        "finished": cell.finished,
    }


def as_json(overview: Overview, rows: list[OverviewRow], query: OverviewQuery) -> dict:
    return {
        "round": {"id": overview.round.pk, "name": overview.round.name},
        "rule": overview.rule,
        "query": {
            "metric": query.metric or None,
            "review": query.review or None,
            "verdicts": {str(series_id): slug for series_id, slug in query.verdicts},
            "sort": query.sort,
        },
        "series": [{"id": s.pk, "name": s.name, "visibility": s.visibility} for s in overview.series],
        "submissions": [
            {
                "submission": row.submission.pk,
                "version": row.version.number,
                "task": row.version.task_name,
                "team": row.submission.team.name,
                "metric": row.version.metric,
                "examples": row.version.example_count,
                "withdrawn": row.withdrawn,
                "not_kept": row.not_kept,
                "series": {s.name: _series_export(row.series[s.pk]) for s in overview.series},
                "reviews": {
                    "status": row.review_status,
                    "assigned": row.assigned,
                    "draft": row.drafts,
                    "submitted": row.submitted,
                },
                "levels": row.levels,
                "grand_criteria": row.grand_criteria,
                "suggested_tiers": dict(row.suggested_tiers.most_common()),
                "award": row.award or None,
            }
            for row in rows
        ],
    }


def as_csv(overview: Overview, rows: list[OverviewRow], *, teams_hidden: frozenset[int] = frozenset()) -> str:
    """One line per submission; every text cell spreadsheet-safe (task and team names are the teams' words). The
    team of a submission in ``teams_hidden`` is left blank (authors who asked not to be named when published)."""
    header = ["submission", "version", "task", "team", "metric", "examples", "withdrawn"]
    for s in overview.series:
        header += [
            f"{s.name}: verdict",
            f"{s.name}: slope",
            f"{s.name}: slope CI low",
            f"{s.name}: slope CI high",
        ]
    header += ["review status", "assigned", "draft", "submitted"]
    header += [f"level: {key}" for key in rubric.CRITERIA_KEYS]
    header += ["grand criteria", "suggested tiers", "award"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        line = [
            row.submission.pk,
            row.version.number,
            row.version.task_name,
            "" if row.submission.pk in teams_hidden else row.submission.team.name,
            row.version.metric,
            row.version.example_count,
            "yes" if row.withdrawn else "",
        ]
        for s in overview.series:
            cell = row.series[s.pk]
            line += [cell.label, cell.slope, cell.ci_low, cell.ci_high]
        line += [row.review_status, row.assigned, row.drafts, row.submitted]
        line += [row.levels[key] or "" for key in rubric.CRITERIA_KEYS]
        line += [row.grand_criteria, row.tiers_summary, row.award]
        writer.writerow([spreadsheet_safe(cell) for cell in line])
    return out.getvalue()
