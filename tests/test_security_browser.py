"""The Content-Security-Policy in a real browser: pages, charts, forms and the admin work without one violation."""

import pytest
from playwright.sync_api import Page, expect

from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, PASSWORD, make_task_csv
from tests.test_permissions import _finish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def evaluated_version(alice, open_round):
    version = submit_task(
        user=alice,
        round=open_round,
        answers=ANSWERS,
        upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
    )
    series = ModelSeries.objects.create(name="Open Models", visibility="public")
    for i, params in enumerate((1_000_000, 10_000_000, 100_000_000)):
        model = LanguageModel.objects.create(
            series=series, name=f"open-{i}", parameter_count=params, location=f"/nowhere/open-{i}"
        )
        _finish(EvaluationRun.objects.create(version=version, model=model), fail=False)
    return version


def _watch_for_violations(page: Page) -> list[str]:
    """Chromium reports each blocked script, style, image or connection on the console ("Refused to ...")."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: (
            seen.append(message.text)
            if "Content Security Policy" in message.text or message.text.startswith("Refused to")
            else None
        ),
    )
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("button", name=username)).to_be_visible()


def test_the_version_page_draws_its_charts_under_the_content_security_policy(
    page: Page, live_server, evaluated_version
):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "alice")
    response = page.goto(f"{live_server.url}{evaluated_version.submission.get_absolute_url()}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    evaluation = page.get_by_role("region", name="Evaluation")
    expect(evaluation.locator(".plot .main-svg").first).to_be_visible()
    evaluation.locator(".plot .main-svg").first.hover()  # plotly draws hover labels and its mode bar
    with page.expect_download() as download:  # plotly's own "Download plot as a png" (through data: images)
        evaluation.locator(".modebar-btn[data-title^='Download plot']").first.click()
    assert download.value.suggested_filename.endswith(".png")
    page.get_by_role("button", name="alice").click()  # Bootstrap's dropdown
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.get_by_role("link", name="Edit (new version)").click()  # the form's scripts
    page.get_by_label("Task name").fill("Even or odd, revised")
    expect(page.get_by_label("Task name")).to_have_value("Even or odd, revised")
    assert violations == []


def test_the_admin_works_under_the_content_security_policy(page: Page, live_server, olga, evaluated_version):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/admin/submissions/submission/{evaluated_version.submission_id}/change/")
    expect(page.get_by_role("heading", name="Change submission")).to_be_visible()
    page.goto(f"{live_server.url}/admin/evaluation/evaluationrun/")
    expect(page.get_by_role("heading", name="Select evaluation run to change")).to_be_visible()
    assert violations == []
