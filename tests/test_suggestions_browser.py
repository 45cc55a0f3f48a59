"""In Debian's chromium: a reviewer sees the suggested levels beside Strength and Generality, none chosen for
them, and the split-half stability beside the trend."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from reviews.services import assign_reviewer
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv
from tests.runs_support import public_and_private_series
from tests.test_security_browser import _log_in, _watch_for_violations
from tests.test_suggestions import RISING, SIZES, STEP_FLAT, evaluate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reviewed(alice, rita, olga, open_round, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=alice,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        )
    public, private = public_and_private_series(SIZES)
    evaluate(version, public, STEP_FLAT)
    evaluate(version, private, RISING)
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    return version


def test_a_reviewer_sees_the_suggested_levels_beside_the_rubric(page: Page, live_server, reviewed):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "rita")
    page.goto(live_server.url + reverse("review_page", args=[reviewed.submission.pk]))
    strength = page.get_by_role("group", name="Inverse Scaling Strength")
    expect(strength.locator(".rubric-suggestion")).to_contain_text(
        "Suggested from the evaluation: Accepted Task"
    )
    expect(strength.locator(".rubric-suggestion")).to_contain_text("rises clearly at 2 of 3 steps")
    generality = page.get_by_role("group", name="Inverse Scaling Generality")
    expect(generality.locator(".rubric-suggestion")).to_contain_text(
        "Suggested from the evaluation: Grand Prize"
    )
    for group in (strength, generality):
        for radio in group.get_by_role("radio").all():
            expect(radio).not_to_be_checked()
    expect(page.locator("li.split-halves").first).to_contain_text(
        "in both halves of 100% of 200 random splits"
    )
    page.screenshot(path="/tmp/suggest-review.png", full_page=True)
    assert violations == []
