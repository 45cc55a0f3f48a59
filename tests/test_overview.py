"""The contest overview: one table of a round's submissions for organizers, filtered, sorted, exported."""

import csv
import io

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Team
from contest import rubric, tally
from evaluation.evidence import precompute_evidence
from pages import overview
from reviews.models import Review
from reviews.services import assign_reviewer, current_rubric
from submissions.models import Submission, SubmissionVersion
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

ROWS = list(range(2, 302))
ALL_GRAND = dict.fromkeys(rubric.CRITERIA_KEYS, rubric.GRAND)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def series(db):
    return public_and_private_series((1_000_000, 10_000_000, 100_000_000))


def _values(run, direction: int) -> list[float]:
    """Per row a value that grows with the model's size (direction 1: inverse) or shrinks (-1: standard)."""
    base = 0.6 + direction * run.model.parameter_count / 1e9
    return [base + (row % 7) / 100 for row in ROWS]


def add_submission(
    round,
    task: str,
    *,
    public: int = 1,
    private: int = 1,
    computed: bool = True,
    metric: str = "classification",
    team: str | None = None,
    capture,
) -> Submission:
    """A submission whose runs all succeeded, scaling inversely (1) or normally (-1) per series; its evidence
    cached as the worker does, unless ``computed`` is False."""
    user = ContestantFactory(username=f"u-{task}".replace(" ", "-").lower()[:30])
    if team:
        Team.objects.filter(memberships__user=user).update(name=team)
    with capture(execute=False):
        version = submit_task(
            user=user,
            round=round,
            answers={**ANSWERS, "task_name": task, "metric": metric},
            upload=TaskUpload(name="t.csv", data=make_task_csv(300, metric=metric)),
        )
    for run in version.runs.select_related("model__series"):
        direction = private if run.model.series.is_private else public
        finish_run(run, rows=ROWS, values=_values(run, direction))
    if computed:
        precompute_evidence(version_id=version.pk)
    return version.submission


def review(submission, reviewer, olga, *, status=Review.Status.SUBMITTED, levels=None, tier="third"):
    assignment = assign_reviewer(submission=submission, reviewer=reviewer, by=olga)
    if status is None:
        return assignment
    return Review.objects.create(
        assignment=assignment,
        version=submission.current_version,
        rubric=current_rubric(),
        status=status,
        levels=levels or {},
        suggested_tier=tier,
    )


@pytest.fixture
def contest(open_round, series, olga, reviewers, django_capture_on_commit_callbacks):
    """Three submissions: inverse on both series and reviewed by all; inverse on the public series only, not yet
    reviewed; and one whose evidence the worker has not computed yet, unassigned."""
    capture = django_capture_on_commit_callbacks
    both = add_submission(open_round, "Both inverse", team="Zeta", capture=capture)
    public_only = add_submission(open_round, "Public only", private=-1, team="Alpha", capture=capture)
    pending = add_submission(open_round, "Pending", computed=False, metric="sequence_prob", capture=capture)
    review(both, reviewers[0], olga, levels=ALL_GRAND, tier="grand")
    review(
        both, reviewers[1], olga, levels=dict.fromkeys(rubric.CRITERIA_KEYS, rubric.ACCEPTED), tier="third"
    )
    review(public_only, reviewers[0], olga, status=None)
    review(public_only, reviewers[1], olga, status=Review.Status.DRAFT, levels=ALL_GRAND)
    return {
        "round": open_round,
        "both": both,
        "public_only": public_only,
        "pending": pending,
        "series": series,
    }


def get_json(client, round, **params) -> dict:
    response = client.get(reverse("round_overview_json", args=[round.pk]), params)
    assert response.status_code == 200, response.content
    return response.json()


def tasks(data: dict) -> list[str]:
    return [row["task"] for row in data["submissions"]]


def test_the_json_gives_every_submission_with_its_verdicts_reviews_and_levels(client, olga, contest):
    client.force_login(olga)
    data = get_json(client, contest["round"])
    public, private = contest["series"]
    assert set(data) == {"round", "rule", "query", "series", "submissions"}
    assert data["round"] == {"id": contest["round"].pk, "name": "Round 1"}
    assert data["series"] == [
        {"id": public.pk, "name": "Open Models", "visibility": "public"},
        {"id": private.pk, "name": "Secret Lab", "visibility": "private"},
    ]
    both, public_only, pending = data["submissions"]
    assert set(both) == {
        "submission", "version", "task", "team", "metric", "examples", "withdrawn", "not_kept", "series", "reviews",
        "levels", "grand_criteria", "suggested_tiers", "award",
    }  # fmt: skip
    assert (both["task"], both["team"], both["metric"], both["examples"]) == (
        "Both inverse", "Zeta", "classification", 300,
    )  # fmt: skip
    assert both["series"]["Secret Lab"]["verdict"] == "inverse scaling"
    assert both["series"]["Secret Lab"]["slope"] > 0
    assert public_only["series"]["Secret Lab"]["verdict"] == "standard scaling"
    assert public_only["series"]["Secret Lab"]["slope"] < 0
    assert pending["series"]["Open Models"] == {
        "state": "not-computed", "verdict": None, "slope": None, "ci_low": None, "ci_high": None,
        "finished": True,
    }  # fmt: skip
    assert both["reviews"] == {"status": "reviewed", "assigned": 2, "draft": 0, "submitted": 2}
    assert public_only["reviews"] == {"status": "not reviewed", "assigned": 2, "draft": 1, "submitted": 0}
    assert pending["reviews"] == {"status": "unassigned", "assigned": 0, "draft": 0, "submitted": 0}
    # Two reviewers, grand and accepted: the lower middle one.
    assert both["levels"] == dict.fromkeys(rubric.CRITERIA_KEYS, "accepted")
    assert public_only["levels"] == dict.fromkeys(rubric.CRITERIA_KEYS)  # a draft does not count
    assert both["suggested_tiers"] == {"grand": 1, "third": 1}
    assert both["withdrawn"] is False


def test_inverse_on_the_private_series_and_not_yet_reviewed(
    client, olga, reviewers, contest, django_capture_on_commit_callbacks
):
    round, private = contest["round"], contest["series"][1]
    waiting = add_submission(round, "Waiting", capture=django_capture_on_commit_callbacks)
    review(waiting, reviewers[2], olga, status=Review.Status.DRAFT)
    client.force_login(olga)
    inverse_on_private = {f"verdict_{private.pk}": "inverse-scaling"}
    assert tasks(get_json(client, round, **inverse_on_private)) == ["Both inverse", "Waiting"]
    data = get_json(client, round, **inverse_on_private, review="not reviewed")
    assert tasks(data) == ["Waiting"]
    assert data["query"] == {
        "metric": None, "review": "not reviewed", "verdicts": {str(private.pk): "inverse-scaling"},
        "sort": "submission",
    }  # fmt: skip


def test_filters_by_metric_review_status_and_a_state_that_is_no_verdict(client, olga, contest):
    client.force_login(olga)
    public = contest["series"][0]
    round = contest["round"]
    assert tasks(get_json(client, round, metric="sequence_prob")) == ["Pending"]
    assert tasks(get_json(client, round, review="reviewed")) == ["Both inverse"]
    assert tasks(get_json(client, round, review="not reviewed")) == ["Public only"]
    assert tasks(get_json(client, round, **{f"verdict_{public.pk}": "not-computed"})) == ["Pending"]
    assert tasks(get_json(client, round, **{f"verdict_{public.pk}": "inverse-scaling"})) == [
        "Both inverse",
        "Public only",
    ]


def test_sorts_by_a_column_either_way_and_slopes_not_computed_come_last(client, olga, contest):
    client.force_login(olga)
    round, private = contest["round"], contest["series"][1]
    assert tasks(get_json(client, round, sort="task")) == ["Both inverse", "Pending", "Public only"]
    assert tasks(get_json(client, round, sort="-task")) == ["Public only", "Pending", "Both inverse"]
    assert tasks(get_json(client, round, sort="team"))[0] == "Public only"  # Alpha
    assert tasks(get_json(client, round, sort=f"slope-{private.pk}")) == [
        "Public only",
        "Both inverse",
        "Pending",
    ]
    assert tasks(get_json(client, round, sort=f"-slope-{private.pk}")) == [
        "Both inverse",
        "Public only",
        "Pending",
    ]
    # Ties in submission order, whichever the direction.
    assert tasks(get_json(client, round, sort="-submitted")) == ["Both inverse", "Public only", "Pending"]


def test_a_parameter_not_understood_is_named(client, olga, contest):
    client.force_login(olga)
    url = reverse("round_overview_json", args=[contest["round"].pk])
    response = client.get(url, {"sort": "authors", "metric": "nonsense"})
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"sort", "metric"} and "'authors'" in errors["sort"][0]
    csv_response = client.get(reverse("round_overview_csv", args=[contest["round"].pk]), {"sort": "authors"})
    assert csv_response.status_code == 400
    assert "cannot be sorted by 'authors'" in csv_response.content.decode()
    # The page says so and shows the table with the parameters it understood.
    page = client.get(
        reverse("round_overview", args=[contest["round"].pk]), {"sort": "authors", "review": "reviewed"}
    )
    html = page.content.decode()
    assert page.status_code == 200 and "cannot be sorted by" in html
    assert "Both inverse" in html and "Public only" not in html


def test_the_page_shows_verdicts_links_sorts_and_exports_with_the_filters(client, olga, contest):
    client.force_login(olga)
    round = contest["round"]
    html = client.get(
        reverse("round_overview", args=[round.pk]), {"review": "reviewed", "sort": "task"}
    ).content
    html = html.decode()
    table = html.split('id="overview"')[1]
    assert "inverse scaling" in table and "standard scaling" not in table  # only the reviewed one is listed
    assert contest["both"].get_absolute_url() in html
    assert f"{reverse('round_overview_csv', args=[round.pk])}?review=reviewed&amp;sort=task" in html
    assert "?review=reviewed&amp;sort=-task" in html  # a second click on "Task" reverses it
    full = client.get(reverse("round_overview", args=[round.pk])).content.decode()
    table = full.split('id="overview"')[1]
    assert "not computed yet" in table and "standard scaling" in table


def test_the_organizer_dashboard_links_each_rounds_overview(client, olga, open_round):
    client.force_login(olga)
    html = client.get(reverse("dashboard")).content.decode()
    assert reverse("round_overview", args=[open_round.pk]) in html


def test_a_withdrawn_submission_is_marked(client, olga, contest, monkeypatch):
    """Marked when the submission says it is withdrawn (withdrawal belongs to submissions/, if present)."""
    monkeypatch.setattr(
        Submission, "is_withdrawn", property(lambda s: s.pk == contest["pending"].pk), raising=False
    )
    client.force_login(olga)
    data = get_json(client, contest["round"])
    assert [row["withdrawn"] for row in data["submissions"]] == [False, False, True]
    assert "withdrawn" in client.get(reverse("round_overview", args=[contest["round"].pk])).content.decode()


def test_the_csv_has_a_line_per_submission_and_escapes_formulas(
    client, olga, contest, django_capture_on_commit_callbacks
):
    add_submission(
        contest["round"], "=HYPERLINK(1)", team="@SUM(A1)", capture=django_capture_on_commit_callbacks
    )
    client.force_login(olga)
    response = client.get(reverse("round_overview_csv", args=[contest["round"].pk]), {"sort": "submission"})
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="overview-round-1.csv"' in response["Content-Disposition"]
    lines = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [line["task"] for line in lines] == ["Both inverse", "Public only", "Pending", "'=HYPERLINK(1)"]
    assert lines[3]["team"] == "'@SUM(A1)"
    # A negative slope stays a number; a verdict, levels and suggested tiers are spelled out.
    assert float(lines[1]["Secret Lab: slope"]) < 0
    assert lines[0]["Secret Lab: verdict"] == "inverse scaling"
    assert lines[2]["Open Models: verdict"] == "not computed yet"
    assert lines[0]["level: strength"] == "accepted"
    assert lines[0]["suggested tiers"] in ("grand ×1, third ×1", "third ×1, grand ×1")
    assert lines[0]["review status"] == "reviewed" and lines[1]["draft"] == "1"


def test_the_csv_applies_the_same_filters(client, olga, contest):
    client.force_login(olga)
    response = client.get(
        reverse("round_overview_csv", args=[contest["round"].pk]), {"metric": "sequence_prob"}
    )
    assert [line["task"] for line in csv.DictReader(io.StringIO(response.content.decode()))] == ["Pending"]


# Any text: what a team may name its task or itself.
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


@given(TEXT)
def test_a_text_cell_never_starts_like_a_formula_and_keeps_its_text(text):
    safe = overview.spreadsheet_safe(text)
    assert not safe.startswith(overview.FORMULA_STARTS)
    assert safe == text or safe == "'" + text
    assert (safe != text) == text.startswith(overview.FORMULA_STARTS)


@given(task=TEXT, team=TEXT)
def test_no_cell_of_the_csv_starts_like_a_formula_whatever_the_names(task, team):
    """Through the csv module and back: each name comes out as written, with an apostrophe if it needs one."""
    version = SubmissionVersion(number=1, task_name=task, metric="classification", example_count=300)
    submission = Submission(pk=7, team=Team(name=team), current_version=version)
    table = overview.Overview(
        round=None, series=[], rows=[overview.OverviewRow(submission=submission, series={})]
    )
    table.rows[0].levels = dict.fromkeys(rubric.CRITERIA_KEYS)
    lines = list(csv.reader(io.StringIO(overview.as_csv(table, table.rows), newline="")))
    assert len(lines) == 2
    assert lines[1][2:4] == [overview.spreadsheet_safe(task), overview.spreadsheet_safe(team)]
    for cell in lines[1]:
        assert not cell.startswith(overview.FORMULA_STARTS)


LEVELS = st.lists(st.sampled_from(rubric.LEVELS), min_size=1, max_size=9)


@given(LEVELS)
def test_the_combined_level_is_the_lower_median(levels):
    combined = tally.combine(levels)
    rank = rubric.LEVELS.index
    at_most = sum(rank(level) <= rank(combined) for level in levels)
    at_least = sum(rank(level) >= rank(combined) for level in levels)
    assert at_most >= (len(levels) + 1) // 2 and at_least >= len(levels) // 2 + 1


def test_the_combined_level_of_examples():
    assert tally.combine([]) is None
    assert tally.combine(["grand", "none"]) == "none"
    assert tally.combine(["grand", "accepted", "none"]) == "accepted"
    assert tally.combine(["grand", "grand", "accepted", "none"]) == "accepted"


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, {"sort": "-grand", "review": "reviewed"})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_as_many_queries_for_six_submissions_as_for_one(
    client, olga, open_round, series, reviewers, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    first = add_submission(open_round, "First", capture=capture)
    review(first, reviewers[0], olga, levels=ALL_GRAND)
    client.force_login(olga)
    urls = [
        reverse(name, args=[open_round.pk])
        for name in ("round_overview", "round_overview_csv", "round_overview_json")
    ]
    before = [_queries(client, url) for url in urls]

    for i in range(5):
        added = add_submission(open_round, f"Task {i}", computed=i % 2 == 0, private=-1, capture=capture)
        for reviewer in reviewers[: i % 3 + 1]:
            review(added, reviewer, olga, levels=ALL_GRAND, status=Review.Status.SUBMITTED if i % 2 else None)
    assert [_queries(client, url) for url in urls] == before, before
    assert len(get_json(client, open_round)["submissions"]) == 6


def test_the_overview_computes_no_trend(
    client, olga, open_round, series, monkeypatch, django_capture_on_commit_callbacks
):
    """A version whose evidence is not cached says so; the request never runs a bootstrap."""
    add_submission(open_round, "Cold", computed=False, capture=django_capture_on_commit_callbacks)
    monkeypatch.setattr("evaluation.evidence.scaling_trend", lambda *a, **k: pytest.fail("computed a trend"))
    client.force_login(olga)
    data = get_json(client, open_round)
    assert {cell["state"] for cell in data["submissions"][0]["series"].values()} == {"not-computed"}


def test_the_overview_combines_levels_by_the_rounds_rule_and_shows_the_confirmed_award(
    client, olga, contest, reviewers
):
    from reviews.models import Award
    from reviews.services import set_tally_rule

    both = contest["both"]
    review(both, reviewers[2], olga, levels=ALL_GRAND, tier="grand")  # grand, accepted, grand
    client.force_login(olga)

    def both_row(data: dict) -> dict:
        return next(row for row in data["submissions"] if row["submission"] == both.pk)

    first = get_json(client, contest["round"])
    assert first["rule"] == "median" and both_row(first)["levels"]["strength"] == "grand"
    assert both_row(first)["award"] is None
    set_tally_rule(round=contest["round"], rule="minimum", by=olga)
    Award.objects.create(submission=both, round=contest["round"], tier="second", decided_by=olga)
    second = get_json(client, contest["round"])
    assert second["rule"] == "minimum" and both_row(second)["levels"]["strength"] == "accepted"
    assert both_row(second)["award"] == "second"
    page = client.get(reverse("round_overview", args=[contest["round"].pk])).content.decode()
    assert "<strong>second</strong>" in page and "(minimum)" in page


def test_the_page_shows_a_hundred_rows_at_a_time_and_the_exports_every_row(
    client, olga, contest, monkeypatch
):
    from pages import overview_views

    monkeypatch.setattr(overview_views, "ROWS_PER_PAGE", 2)
    client.force_login(olga)
    url = reverse("round_overview", args=[contest["round"].pk])
    first = client.get(url, {"sort": "task"}).content.decode()
    assert "Page 1 of 2 · rows 1–2 of 3" in first and "Both inverse" in first and "Public only" not in first
    second = client.get(url, {"sort": "task", "page": "2"}).content.decode()
    assert "Public only" in second and "Both inverse" not in second
    assert "sort=task" in second.split('rel="prev"')[1].split(">")[0]  # paging keeps the filters and the sort
    assert len(get_json(client, contest["round"], sort="task")["submissions"]) == 3


def test_a_submission_its_team_did_not_keep_is_marked(client, olga, contest):
    from django.utils import timezone

    from submissions.models import KeepRequest, Submission

    both = contest["both"]
    Submission.objects.filter(pk=contest["public_only"].pk).update(team=both.team)
    request = KeepRequest.objects.create(
        round=contest["round"], team=both.team, requested_by=olga, chosen_at=timezone.now()
    )
    request.kept.add(both)
    client.force_login(olga)
    rows = {row["task"]: row for row in get_json(client, contest["round"])["submissions"]}
    assert rows["Public only"]["not_kept"] and not rows["Both inverse"]["not_kept"]
    page = client.get(reverse("round_overview", args=[contest["round"].pk])).content.decode()
    assert page.count(">not kept</span>") == 1


def test_the_organizer_dashboard_lists_each_rounds_latest_submissions_and_counts_them_all(
    client, olga, open_round, monkeypatch
):
    from pages import views

    monkeypatch.setattr(views, "ORGANIZER_DASHBOARD_ROWS", 3)
    users = [ContestantFactory(username=f"many{i}") for i in range(5)]
    for n, user in enumerate(users):
        submit_task(
            user=user,
            round=open_round,
            answers={**ANSWERS, "task_name": f"Task number {n}"},
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        )
    client.force_login(olga)
    page = client.get(reverse("dashboard")).content.decode()
    assert "5 submissions" in page
    shown = [n for n in range(5) if f"Task number {n}<" in page]
    assert shown == [2, 3, 4]  # the three changed last
    assert "The 3 changed last of 5" in page
    assert reverse("round_overview", args=[open_round.pk]) in page
