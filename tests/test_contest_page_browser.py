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
