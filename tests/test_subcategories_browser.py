"""A reviewer, beside the Task Coverage criterion, follows the link to the subcategory charts and sees each drawn,
under the Content-Security-Policy."""

import pytest
from playwright.sync_api import Page, expect

from tests.test_security_browser import _log_in, _watch_for_violations
from tests.test_subcategories import add_series, finish_all, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def assigned(alice, olga, open_round):
    from accounts.models import Role
    from accounts.services import grant_role
    from evaluation.models import EvaluationRun
    from reviews.services import assign_reviewer
    from tests.factories import UserFactory

    version = submit(alice, open_round, subcategory_column="category")  # before any series: nothing queued
    for model in add_series("Open Models", models=3).models.all():
        EvaluationRun.objects.create(version=version, model=model)
    finish_all(version)
    rhea = UserFactory(username="rhea")
    grant_role(user=rhea, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=rhea, by=olga)
    return version


def test_a_reviewer_goes_from_coverage_to_the_subcategory_charts(page: Page, live_server, assigned, tmp_path):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "rhea")
    page.goto(f"{live_server.url}/submissions/{assigned.submission.pk}/review/")
    coverage = page.locator("fieldset.rubric-criterion", has_text="Task Coverage")
    expect(coverage.locator(".coverage-evidence")).to_contain_text(
        "inverse scaling in 1, standard scaling in 1, no clear trend in 2 of 4 subcategories"
    )
    coverage.get_by_role("link", name="Trend per subcategory").click()
    charts = page.locator("#subcategories .plot")
    expect(charts).to_have_count(4)
    for index in range(4):
        expect(charts.nth(index).locator(".main-svg").first).to_be_visible()
    arithmetic = page.locator(".subcategory[data-subcategory='arithmetic']")
    expect(arithmetic).to_contain_text("inverse scaling")
    expect(arithmetic).to_contain_text("120 examples")
    expect(page.locator(".subcategory[data-subcategory='other']")).to_contain_text("rare-a, rare-b")
    page.locator("#subcategories").screenshot(path=tmp_path / "subcategories.png")
    assert violations == []
