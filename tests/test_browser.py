"""What a contestant clicks, in Debian's chromium: sign up, submit a real 2022 task, fix a broken one, edit."""

import datetime as dt

import pandas as pd
import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.conftest import DEMO_TASKS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Waits on what the person waits for, with room for a busy 2-core CI machine (a run takes seconds when quiet).
EVERY_RUN_FINISHED_MS = 300_000
expect.set_options(timeout=30_000)  # a page of this suite, loaded on that machine

ANSWERS = {
    "Task name": "Proverb ending",
    "Authors": "Dana Example",
    "Description of the intended task": "Finish a proverb with the word the instruction asks for.",
    "Why is the task important?": "Memorised text overriding instructions harms users.",
    "Why do you expect to see inverse scaling?": "Larger models memorise proverbs better.",
    "Data generation procedure": "Public proverb lists with a changed last word.",
    "Expertise required for human annotators to verify the labels": "Fluent English.",
}


def test_a_contestant_signs_up_submits_fixes_and_edits_a_task(page: Page, live_server, tmp_path):
    from tests.factories import RoundFactory

    RoundFactory(name="Round 1", deadline=timezone.now().date() + dt.timedelta(days=30))
    real = DEMO_TASKS / "1-proverb-ending.csv"
    broken = tmp_path / "broken.csv"
    # Row 4 of the real file gets an answer_index that points past its two classes.
    lines = real.read_text().splitlines(keepends=True)
    lines[3] = lines[3].rstrip("\n")[:-1] + "5\n"
    broken.write_text("".join(lines))

    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Email").fill("dana@example.org")
    page.get_by_label("Username").fill("dana")
    page.locator("#id_password1").fill("a-long-pass-phrase")
    page.get_by_label("Password (again)").fill("a-long-pass-phrase")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Submissions of Team dana")).to_be_visible()

    page.get_by_role("link", name="Submit a new task to Round 1").click()
    for label, value in ANSWERS.items():
        page.get_by_label(label).fill(value)
    page.get_by_label("Classification loss (classification)").check()
    page.get_by_label("Task file (CSV)").set_input_files(broken)
    page.get_by_role("button", name="Submit task").click()

    errors = page.locator("#id_task_file_errors")
    expect(errors).to_contain_text("row 4, column answer_index: answer_index 5 is out of range for 2 classes")
    expect(page.get_by_role("alert").first).to_be_visible()
    for label, value in ANSWERS.items():  # nothing the contestant typed is lost
        expect(page.get_by_label(label)).to_have_value(value)
    expect(page.get_by_label("Classification loss (classification)")).to_be_checked()

    page.get_by_label("Task file (CSV)").set_input_files(real)
    page.get_by_role("button", name="Submit task").click()
    expect(page.get_by_text("“Proverb ending” is submitted to Round 1 with 860 examples.")).to_be_visible()
    expect(page.get_by_text('Write a quote that ends in the word "heavy"')).to_be_visible()

    page.get_by_role("link", name="Edit (new version)").click()
    expect(page.get_by_label("Task name")).to_have_value("Proverb ending")
    page.get_by_label("Task name").fill("Proverb ending, revised")
    page.get_by_role("button", name="Save new version").click()
    expect(page.get_by_text("Saved version 2 of “Proverb ending, revised”")).to_be_visible()
    history = page.get_by_role("region", name="Version history")
    expect(history.get_by_role("link", name="Version 2")).to_be_visible()
    history.get_by_role("link", name="Version 1").click()
    expect(page.get_by_role("heading", name="Proverb ending", exact=True)).to_be_visible()
    expect(page.get_by_text("older version")).to_be_visible()


def _open_the_submission_form_as_erin(page: Page, live_server) -> None:
    """A contestant signs in and opens the form of an open round with every answer filled in."""
    from tests.factories import ContestantFactory, RoundFactory

    RoundFactory(name="Round 1", deadline=timezone.now().date() + dt.timedelta(days=30))
    ContestantFactory(username="erin")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username or email").fill("erin")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign In").click()
    page.get_by_role("link", name="Submit a new task to Round 1").click()
    for label, value in ANSWERS.items():
        page.get_by_label(label).fill(value)


@pytest.mark.slow
def test_a_contestant_watches_the_progress_bars_reach_the_plots(
    page: Page, live_server, celery_worker_process, tiny_series, tmp_path
):
    _open_the_submission_form_as_erin(page, live_server)
    page.get_by_label("Completion sequence loss (sequence_prob)").check()
    # The real 2022 task cut to the contest's minimum: what the contestant waits for stays the same, in a third
    # of the time.
    task = tmp_path / "lambada-300.csv"
    pd.read_csv(DEMO_TASKS / "lambada-1k.csv").head(300).to_csv(task, index=False)
    page.get_by_label("Task file (CSV)").set_input_files(task)
    page.get_by_role("button", name="Submit task").click()

    evaluation = page.get_by_role("region", name="Evaluation")
    expect(evaluation.get_by_role("progressbar").first).to_be_visible()
    # The page polls the runs' progress and draws the charts as runs finish. The contestant waits for every run
    # (three models, one after another on one worker): sized for a loaded 2-core CI machine, not a quiet one.
    expect(evaluation.get_by_role("progressbar")).to_have_count(0, timeout=EVERY_RUN_FINISHED_MS)
    expect(evaluation.locator(".plot .main-svg").first).to_be_visible()
    expect(evaluation.get_by_text("per 10× parameters")).to_be_visible()


def test_a_file_over_the_limit_is_refused_in_the_browser_before_it_is_sent(
    page: Page, live_server, settings, tmp_path
):
    from submissions.models import SubmissionVersion

    settings.MAX_UPLOAD_MB = 1
    big = tmp_path / "big.csv"
    big.write_bytes(b"prompt,completion\n" + b"x" * (2 * 1024 * 1024))
    _open_the_submission_form_as_erin(page, live_server)
    page.get_by_label("Task file (CSV)").set_input_files(big)
    expect(page.get_by_role("alert")).to_contain_text("The file is 2.0 MB; the limit is 1 MB.")
    page.get_by_role("button", name="Submit task").click()
    expect(page.get_by_role("alert")).to_contain_text("the limit is 1 MB")  # still on the form, nothing sent
    for label, value in ANSWERS.items():
        expect(page.get_by_label(label)).to_have_value(value)
    assert not SubmissionVersion.objects.exists()
