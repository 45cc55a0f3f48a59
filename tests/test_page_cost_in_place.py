"""When a run finishes, the version page swaps in its evaluation section instead of loading itself again."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from evaluation.models import EvaluationRun
from tests.test_page_cost import add_model, add_series, finish

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def version(alice, open_round, valid_csv):
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS

    return submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )


def test_finished_runs_update_the_page_in_place(page: Page, live_server, client, alice, version):
    series = add_series(version, "Open A", models=1)
    waiting = [add_model(version, series, finished=False) for _ in range(2)]
    client.force_login(alice)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(live_server.url + reverse("version_detail", args=[version.submission.pk, version.number]))
    evaluation = page.get_by_role("region", name="Evaluation")
    expect(evaluation.get_by_role("progressbar")).to_have_count(2)
    expect(evaluation.locator(".plot .main-svg").first).to_be_visible()  # the one finished model's point
    page.evaluate("window.notReloaded = true; window.scrollTo(0, 300)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0

    finish(EvaluationRun.objects.get(pk=waiting[0].pk))
    expect(evaluation.get_by_text("Only 2 models")).to_be_visible(timeout=60_000)
    expect(evaluation.get_by_role("progressbar")).to_have_count(1)
    finish(EvaluationRun.objects.get(pk=waiting[1].pk))  # the page polls on after swapping the section in
    expect(evaluation.get_by_role("progressbar")).to_have_count(0, timeout=60_000)
    expect(evaluation.get_by_text("per 10× parameters")).to_be_visible()
    expect(evaluation.get_by_text("Only 2 models")).to_have_count(0)
    expect(evaluation.locator(".plot .main-svg").first).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("window.scrollY") == scrolled
