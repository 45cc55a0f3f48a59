"""A reviewer's whole path in Debian's chromium: the dashboard, the plots beside the rubric, a draft that survives a
reload, the label spot-check, submitting, and the other reviews and the discussion afterwards."""

import pytest
from playwright.sync_api import Page, expect

from contest import rubric
from reviews.services import ReviewAnswers, assign_reviewer, save_review
from tests.test_security_browser import _log_in, _watch_for_violations, evaluated_version  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reviewed(evaluated_version, rita, olga, settings):  # noqa: F811
    """rita is assigned the evaluated submission; another reviewer has already submitted a review of it."""
    from accounts.models import Role
    from accounts.services import grant_role
    from tests.factories import UserFactory

    settings.SPOT_CHECK_SIZE = 3
    submission = evaluated_version.submission
    assign_reviewer(submission=submission, reviewer=rita, by=olga)
    ravi = UserFactory(username="ravi")
    grant_role(user=ravi, role=Role.REVIEWER)
    save_review(
        assignment=assign_reviewer(submission=submission, reviewer=ravi, by=olga),
        user=ravi,
        answers=ReviewAnswers(
            levels=dict.fromkeys(rubric.CRITERIA_KEYS, "grand"),
            suggested_tier="grand",
            comment_for_authors="The steepest trend of the round.",
        ),
        submit=True,
    )
    return submission


def test_a_reviewer_judges_a_submission_beside_its_evidence(page: Page, live_server, reviewed):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "rita")
    expect(page.get_by_text("0 of 1")).to_be_visible()
    page.get_by_role("link", name="Even or odd").click()

    expect(page.get_by_role("heading", name="Review: Even or odd")).to_be_visible()
    expect(page.locator(".plot .main-svg").first).to_be_visible()  # the plots beside the form
    expect(page.get_by_role("link", name="All 300 examples of Open Models")).to_be_visible()  # the drill-down
    for criterion in rubric.CRITERIA_2022:
        expect(page.get_by_role("group", name=criterion["name"])).to_be_visible()

    strength = page.get_by_role("group", name="Inverse Scaling Strength")
    strength.get_by_label("Accepted Task").check()
    page.get_by_label("Comment on Task Coverage").fill("One template only.")
    expect(page.locator("#autosave-status")).to_contain_text("Draft saved")  # saved as typed, no button
    page.reload()
    expect(
        page.get_by_role("group", name="Inverse Scaling Strength").get_by_label("Accepted Task")
    ).to_be_checked()
    expect(page.get_by_label("Comment on Task Coverage")).to_have_value("One template only.")

    page.get_by_role("link", name="Label spot-check").click()
    checks = page.locator("fieldset.spot-check")
    expect(checks).to_have_count(3)
    expect(page.get_by_text("the file's answer", exact=True)).to_have_count(0)
    for i in range(3):
        checks.nth(i).get_by_role("radio").first.check()
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator("#spot-check-result")).to_contain_text("of 3")
    page.get_by_role("link", name="Back to the review").click()
    expect(page.locator("#spot-check-progress")).to_contain_text("done")

    for criterion in rubric.CRITERIA_2022:
        page.get_by_role("group", name=criterion["name"]).get_by_label("Accepted Task").check()
    page.get_by_label("Comment for the authors").fill("Solid; broaden the phrasing.")
    page.get_by_label("Third prize").check()
    page.get_by_role("button", name="Submit review").click()

    expect(page.get_by_text("Review submitted; it is locked now.")).to_be_visible()
    expect(page.locator("#review-status")).to_have_text("Submitted")
    others = page.get_by_role("region", name="The other reviews")
    expect(others.get_by_text("The steepest trend of the round.")).to_be_visible()
    expect(others.get_by_text("ravi")).to_have_count(0)
    page.get_by_label("Add to the discussion").fill("Grand on every criterion? The private series is flat.")
    page.get_by_role("button", name="Post").click()
    expect(page.get_by_text("Grand on every criterion? The private series is flat.")).to_be_visible()

    page.goto(f"{live_server.url}/dashboard/")
    expect(page.get_by_text("1 of 1")).to_be_visible()
    assert violations == []
