"""What a contestant clicks on the contest page, in Debian's chromium: download an example file and submit it."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.test_browser import ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_contestant_downloads_an_example_file_from_the_contest_page_and_submits_it(page: Page, live_server):
    from tests.factories import ContestantFactory, RoundFactory

    RoundFactory(name="Round 1", deadline=timezone.now().date() + dt.timedelta(days=30))
    ContestantFactory(username="erin")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username or email").fill("erin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign In").click()

    page.get_by_role("link", name="Contest & rounds").click()
    expect(page.get_by_role("heading", name="Prize Rubric")).to_be_visible()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download an example classification file").click()
    download = downloading.value
    assert download.suggested_filename == "example-classification.csv"

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Submit a new task to Round 1").click()
    for label, value in ANSWERS.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Classification loss (classification)").check()
    page.get_by_label("Task file (CSV)").set_input_files(download.path())
    page.get_by_role("button", name="Submit task").click()
    expect(page.get_by_text("“Proverb ending” is submitted to Round 1 with 300 examples.")).to_be_visible()


@pytest.mark.slow
def test_a_contestant_goes_from_the_contest_page_to_a_verdict_and_every_example_on_a_phone(
    page: Page, live_server, celery_worker_process, tiny_series
):
    """Issue 9's whole path: the contest page, its example file, a real evaluation, the verdict and what it
    means, then the examples page paged through at 390 px."""
    from tests.factories import ContestantFactory, RoundFactory
    from tests.test_browser import EVERY_RUN_FINISHED_MS

    RoundFactory(name="Round 1", deadline=timezone.now().date() + dt.timedelta(days=30))
    ContestantFactory(username="erin")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username or email").fill("erin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("link", name="Contest & rounds").click()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download an example sequence_prob file").click()

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Submit a new task to Round 1").click()
    for label, value in ANSWERS.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Completion sequence loss (sequence_prob)").check()
    page.get_by_label("Task file (CSV)").set_input_files(downloading.value.path())
    page.get_by_role("button", name="Submit task").click()

    evaluation = page.get_by_role("region", name="Evaluation")
    expect(evaluation.get_by_role("progressbar")).to_have_count(0, timeout=EVERY_RUN_FINISHED_MS)
    verdict = evaluation.locator("a.verdict").first
    expect(verdict).to_be_visible()
    word = verdict.inner_text()
    page.set_viewport_size({"width": 390, "height": 844})
    verdict.click()
    expect(page.get_by_role("heading", name="What the trend verdicts mean")).to_be_visible()
    expect(page.get_by_text(word).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    page.go_back()
    page.get_by_role("link", name="All 300 examples of Tiny GPT-2").click()
    first = page.locator(".drill-example").first
    expect(first).to_be_visible()
    page.get_by_role("link", name="Next").first.click()
    expect(page.locator(".drill-example")).to_have_count(50)
    assert "page=2" in page.url
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for value in page.locator(".drill-example").first.locator(".drill-value").all():
        box = value.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    page.goto(
        f"{live_server.url}/dashboard/"
    )  # still 390 px wide: the status column in view, no sideways scroll
    status = page.locator("table tbody tr td").last
    expect(status).to_contain_text("Evaluated")
    box = status.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
