"""What a person clicks on long texts, in Debian's chromium: the live count under a limited field, and a
shortened prompt expanded in full."""

import io

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, PASSWORD, make_task_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_PROMPT = "Once upon a time. " + "la " * 3_000 + "The end is what the model continues:"


def _sign_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()


def test_a_limited_field_counts_its_characters_as_they_are_typed(page: Page, live_server, alice, open_round):
    _sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/rounds/{open_round.pk}/submit/")
    description = page.get_by_label("Description of the intended task")
    expect(description).to_have_attribute("maxlength", "20000")
    counter = page.locator("#id_description + .char-counter")
    expect(counter).to_have_text("0 of 20,000 characters")
    description.fill("Two lines\nof text")
    expect(counter).to_have_text("17 of 20,000 characters")


def test_a_shortened_prompt_shows_in_full_when_asked(page: Page, live_server, alice, open_round):
    table = pd.read_csv(io.BytesIO(make_task_csv(300)), dtype=str)
    table.loc[0, "prompt"] = LONG_PROMPT
    version = submit_task(
        user=alice,
        round=open_round,
        answers=ANSWERS,
        upload=TaskUpload(name="t.csv", data=table.to_csv(index=False).encode()),
    )
    _sign_in(page, live_server, "alice")
    page.goto(f"{live_server.url}/submissions/{version.submission.pk}/")
    box = page.locator("[data-long-text]").first
    expect(box).to_contain_text("more characters …]")
    expect(box).to_contain_text("The end is what the model continues:")
    page.get_by_role("button", name=f"Show all {len(LONG_PROMPT):,} characters").click()
    expect(box).to_have_text(LONG_PROMPT)
    expect(page.get_by_role("button", name=f"Show all {len(LONG_PROMPT):,} characters")).to_have_count(0)
