"""The version page's charts in a real browser: the linear/log toggle, and plotly's "Download plot" button
drawing the image the server's PNG draws (titled, without the toggle), under the Content-Security-Policy."""

import pytest
from playwright.sync_api import Page, expect

from tests.test_security_browser import _log_in, _watch_for_violations, evaluated_version  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXIS_TYPE = "el => el._fullLayout.yaxis.type"


def test_the_value_axis_switches_to_log_and_back_and_the_download_is_titled(
    page: Page,
    live_server,
    evaluated_version,  # noqa: F811
):
    violations = _watch_for_violations(page)
    _log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}{evaluated_version.submission.get_absolute_url()}")
    chart = page.locator(".plot[data-key='scaling']").first
    expect(chart.locator(".main-svg").first).to_be_visible()
    assert chart.evaluate(AXIS_TYPE) == "linear"
    # Drawn with plotly_white, which the page's figures name and plotly-template.js carries (plotly's own
    # default would paint the plot area #E5ECF6).
    assert chart.evaluate("el => el._fullLayout.plot_bgcolor") == "white"
    chart.locator(".updatemenu-button", has_text="log").click()
    page.wait_for_function("el => el._fullLayout.yaxis.type === 'log'", arg=chart.element_handle())
    chart.locator(".updatemenu-button", has_text="linear").click()
    page.wait_for_function("el => el._fullLayout.yaxis.type === 'linear'", arg=chart.element_handle())

    # What the button hands plotly to draw: the figure with the image's title and without the toggle.
    page.evaluate(
        """() => {
          const download = Plotly.downloadImage;
          window.drawn = [];
          Plotly.downloadImage = (figure, options) => {
            window.drawn.push({title: figure.layout.title.text, menus: figure.layout.updatemenus.length});
            return download(figure, options);
          };
        }"""
    )
    chart.hover()
    with page.expect_download() as download:
        chart.locator(".modebar-btn[data-title^='Download plot']").click()
    assert download.value.suggested_filename == (
        f"submission-{evaluated_version.submission_id}-v{evaluated_version.number}-"
        f"{evaluated_version.runs.first().model.series_id}-scaling.png"
    )
    assert page.evaluate("window.drawn") == [
        {
            "title": f"{evaluated_version.task_name} — Open Models — mean classification loss (classification)",
            "menus": 0,
        }
    ]
    assert violations == []
