"""The organizer's side of a round in Debian's chromium: make a reviewer, read the overview and the tally, confirm
an award, preview and release the feedback; then the contestant reads it with the private plots."""

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from contest import rubric
from evaluation.evidence import precompute_evidence
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from reviews.services import ReviewAnswers, assign_reviewer, save_review
from tests.runs_support import finish_run
from tests.test_security_browser import _log_in, _watch_for_violations, evaluated_version  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROWS = list(range(2, 302))


@pytest.fixture
def judged(evaluated_version, rita, olga):  # noqa: F811
    """alice's evaluated task, also on a private series, with one submitted review by rita."""
    version = evaluated_version
    private = ModelSeries.objects.create(name="Secret Lab", visibility="private", order=5)
    for i, params in enumerate((2_000_000, 20_000_000, 200_000_000)):
        model = LanguageModel.objects.create(
            series=private, name=f"secret-{i}", parameter_count=params, location=f"/nowhere/secret-{i}"
        )
        run = EvaluationRun.objects.create(version=version, model=model)
        finish_run(run, rows=ROWS, values=[0.5 + i * 0.2 + (row % 5) / 50 for row in ROWS])
    precompute_evidence(version_id=version.pk)
    save_review(
        assignment=assign_reviewer(submission=version.submission, reviewer=rita, by=olga),
        user=rita,
        answers=ReviewAnswers(
            levels=dict.fromkeys(rubric.CRITERIA_KEYS, "accepted"),
            suggested_tier="third",
            comment_for_authors="A clean task; the private models agree.",
            confidential_comment="Borderline on novelty.",
        ),
        submit=True,
    )
    return version


def test_an_organizer_decides_and_releases_and_the_contestant_reads_the_feedback(
    page: Page, live_server, judged, settings
):
    from tests.factories import UserFactory

    settings.CELERY_TASK_ALWAYS_EAGER = True  # the e-mails go out in the web process, as with no broker
    UserFactory(username="ravi", email="ravi@lab.example")
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "olga")

    page.get_by_role("link", name="People").click()
    ravi = page.locator("tr[data-person='ravi']")
    ravi.get_by_role("button", name="Make reviewer").click()
    expect(page.locator("tr[data-person='ravi']")).to_contain_text("reviewer")

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="overview").first.click()
    expect(page.get_by_role("link", name="Even or odd")).to_be_visible()
    expect(page.get_by_text("Secret Lab").first).to_be_visible()

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="Prize tally").first.click()
    line = page.locator(f"tr.tally-line[data-submission='{judged.submission_id}']")
    expect(line.locator(".proposed")).to_have_text("third")
    line.get_by_role("button", name="Confirm").click()
    expect(
        page.locator(f"tr.tally-line[data-submission='{judged.submission_id}'] .confirmed")
    ).to_contain_text("third")

    page.goto(f"{live_server.url}/dashboard/")
    page.get_by_role("link", name="feedback", exact=True).first.click()
    page.get_by_role("link", name="Preview the e-mail").click()
    expect(page.get_by_text("A clean task; the private models agree.").first).to_be_visible()
    expect(page.get_by_text("Borderline on novelty.")).to_have_count(0)
    page.go_back()
    page.get_by_role("link", name="Release feedback…").click()
    page.get_by_role("button", name="Release and send").click()
    expect(page.get_by_text("Feedback of Round 1 released: 1 e-mail queued")).to_be_visible()
    assert [m.to for m in mail.outbox if m.subject.startswith("Feedback on")] == [
        [judged.submission.created_by.email]
    ]

    page.get_by_role("button", name="olga").click()
    page.get_by_role("button", name="Sign out").click()
    _log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}{judged.submission.get_absolute_url()}")
    feedback = page.get_by_role("region", name="Feedback")
    expect(feedback).to_contain_text("A clean task; the private models agree.")
    expect(feedback).not_to_contain_text("rita")
    expect(feedback).not_to_contain_text("Borderline on novelty.")
    expect(page.get_by_text("Secret Lab").first).to_be_visible()  # the private series, released with it
    assert violations == []
