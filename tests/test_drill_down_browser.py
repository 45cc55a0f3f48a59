"""The examples page in Debian's chromium: on a 390 px phone nothing scrolls sideways and each model's value is
in view; choosing a model submits the form (no inline script: the CSP would block it); a long prompt expands."""

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from evaluation.models import LanguageModel
from tests.test_drill_down import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_the_values_are_in_view_and_the_form_submits_on_choice(
    page: Page, live_server, client, alice, open_round
):
    version, _, _ = build(alice, open_round, 300)
    client.force_login(alice)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.set_viewport_size({"width": 390, "height": 844})
    base = reverse("examples_drill_down", args=[version.submission_id, version.number])
    page.goto(f"{live_server.url}{base}?compare={LanguageModel.objects.get(name='open-0').pk}")
    first = page.locator(".drill-example").first
    expect(first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for value in first.locator(".drill-value").all():
        box = value.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box

    page.get_by_label("Sort by").select_option("row")  # drilldown.js submits at once
    expect(page.locator(".drill-example").first).to_have_attribute("data-row", "2")
    assert "sort=row" in page.url
    assert not errors, errors
