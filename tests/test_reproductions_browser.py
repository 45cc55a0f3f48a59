"""In Debian's chromium: beside the rubric, a reviewer sees the suggested levels, the subcategory charts and a
reproduction compared with the original, its charts drawn beside the original's, under the
Content-Security-Policy, and never who made it."""

import re

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from tests.test_security_browser import _log_in, _watch_for_violations
from tests.test_subcategories import add_series, finish_all, rows_of, submit, task_csv, value

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _reproduced(alice, olga, open_round, monkeypatch, **submitted):
    """A version evaluated on one series of 3 models, a reproduction of it attached by olga (its runs queued, not
    sent: the test plays the worker) and rhea assigned to review it."""
    from accounts.models import Role
    from accounts.services import grant_role
    from evaluation.models import EvaluationRun
    from evaluation.services import create_reproduction
    from reviews.services import assign_reviewer
    from submissions.services import TaskUpload
    from tests.factories import UserFactory

    version = submit(alice, open_round, **submitted)  # before any series: nothing queued
    for model in add_series("Open Models", models=3).models.all():
        EvaluationRun.objects.create(version=version, model=model)
    finish_all(version)
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)  # no worker
    with transaction.atomic():
        reproduction = create_reproduction(
            user=olga,
            submission=version.submission,
            upload=TaskUpload(name="olga-remake.csv", data=task_csv(column="topic")),
            note="Rewritten from the description.",
        )
    rhea = UserFactory(username="rhea")
    grant_role(user=rhea, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=rhea, by=olga)
    return reproduction


def _finish_runs_of(reproduction) -> None:
    from tests.runs_support import finish_run

    category = {row: name for name, rows in rows_of().items() for row in rows}
    rows = sorted(category)
    for run in reproduction.runs.select_related("model"):
        finish_run(run, rows=rows, values=[value(row, run.model.order, category[row]) for row in rows])


@pytest.fixture
def assigned(alice, olga, open_round, monkeypatch):
    reproduction = _reproduced(alice, olga, open_round, monkeypatch, subcategory_column="category")
    _finish_runs_of(reproduction)
    return reproduction


def test_a_reviewer_sees_suggestions_subcategories_and_the_reproduction_beside_the_rubric(
    page: Page, live_server, assigned, tmp_path
):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "rhea")
    page.goto(f"{live_server.url}/submissions/{assigned.version.submission_id}/review/")
    strength = page.locator("fieldset.rubric-criterion", has_text="Inverse Scaling Strength")
    expect(strength.locator(".rubric-suggestion")).to_contain_text("Suggested from the evaluation:")

    coverage = page.locator("fieldset.rubric-criterion", has_text="Task Coverage")
    expect(coverage.locator(".coverage-evidence")).to_contain_text("of 4 subcategories")
    charts = page.locator("#subcategories .plot")
    expect(charts).to_have_count(4)
    for index in range(4):
        expect(charts.nth(index).locator(".main-svg").first).to_be_visible()

    reproducibility = page.locator("fieldset.rubric-criterion", has_text="Reproducibility")
    beside = reproducibility.locator(".reproduction-evidence")
    # The same values as the original: the same slope; the whole task (one subcategory rising, one falling)
    # shows no clear trend on either, so the comparison says "no inverse scaling".
    expect(beside.locator(".reproduction-line")).to_have_text(
        re.compile(
            r"^Open Models: no inverse scaling — reproduction slope \+0\.010 \(95% CI \S+ to \S+\), no clear trend; "
            r"original slope \+0\.010 \(95% CI \S+ to \S+\), no clear trend$"
        )
    )
    expect(beside).to_contain_text("original slope")
    reproducibility.screenshot(path=tmp_path / "reproducibility.png")
    beside.get_by_role("link", name="Reproduction 1").click()
    section = page.locator(f"#reproduction-{assigned.pk}")
    expect(section).to_be_in_viewport()
    expect(section.locator(".plot")).to_have_count(
        2
    )  # the original's chart and the reproduction's, side by side
    for index in range(2):
        expect(section.locator(".plot").nth(index).locator(".main-svg").first).to_be_visible()
    expect(section).to_contain_text("Rewritten from the description.")
    assert "olga" not in page.content()  # a reviewer never learns who made it
    section.screenshot(path=tmp_path / "reproduction.png")
    assert violations == []


def test_the_reproductions_progress_turns_into_its_comparison_without_a_reload(
    page: Page, live_server, alice, olga, open_round, monkeypatch
):
    reproduction = _reproduced(alice, olga, open_round, monkeypatch)
    _log_in(page, live_server.url, "rhea")
    page.goto(f"{live_server.url}/submissions/{reproduction.version.submission_id}/review/")
    section = page.locator(f"#reproduction-{reproduction.pk}")
    expect(section.locator(".progress")).to_have_count(3)
    expect(section.locator(".run-status").first).to_contain_text("Queued")
    _finish_runs_of(reproduction)
    # The page polls the runs' progress and swaps the section in once they finish: the charts and the line.
    expect(section.locator(".reproduction-comparison li")).to_contain_text(
        "Open Models: no inverse scaling — reproduction slope", timeout=30_000
    )
    expect(section.locator(".progress")).to_have_count(0)
    expect(section.locator(".plot .main-svg").first).to_be_visible()
