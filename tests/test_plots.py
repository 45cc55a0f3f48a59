"""evaluation.plots: figure structure for the pages, and PNG export for the e-mails."""

import json
import math
import os
import sys
import time
from pathlib import Path

import plotly.io as pio
import pytest

from evaluation import plots
from evaluation.plots import (
    Curve,
    PngExportUnavailable,
    Point,
    accuracy_figure,
    figure_png,
    human_count,
    scaling_figure,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
GPT3 = Curve(
    "GPT-3",
    [
        Point("davinci", 175_000_000_000, 0.80, 0.03, 0.40),  # out of order on purpose
        Point("ada", 350_000_000, 0.55, 0.03, 0.70),
        Point("babbage", 1_300_000_000, 0.62, 0.03, 0.62),
        Point("curie", 6_700_000_000, 0.71, 0.03, 0.55),
    ],
)
PRIVATE = Curve(
    "Private", [Point(f"p{k}", 10 ** (6 + k), 0.5 + 0.1 * k, 0.02, 0.6 - 0.1 * k) for k in range(4)]
)
LOGODDS = Curve("GPT-3", [Point(p.model, p.parameters, p.mean - 1.0, 0.2) for p in GPT3.points])


def chance_shapes(fig):
    return [s for s in fig.layout.shapes if s.line.dash == "dash"]


@pytest.mark.parametrize("metric", ["classification", "sequence_prob"])
def test_losses_on_a_log_parameter_axis_and_a_linear_value_axis_with_error_bars(metric):
    fig = scaling_figure([GPT3, PRIVATE], metric=metric, n_classes=2, title="Task")
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.type == "linear"
    (toggle,) = fig.layout.updatemenus  # a log value axis is one click away
    assert [b.args[0]["yaxis.type"] for b in toggle.buttons] == ["linear", "log"]
    assert fig.layout.xaxis.title.text == "Parameters"
    assert fig.layout.yaxis.title.text == "Mean loss (lower is better)"
    assert len(fig.data) == 2
    for trace, curve in zip(fig.data, [GPT3, PRIVATE], strict=True):
        assert trace.name == curve.series
        assert trace.mode == "lines+markers"
        assert trace.error_y.visible
        assert trace.error_y.type == "data"
        assert list(trace.error_y.array) == [
            p.stderr for p in sorted(curve.points, key=lambda p: p.parameters)
        ]
    assert list(fig.data[0].x) == sorted(p.parameters for p in GPT3.points)
    assert list(fig.data[0].y) == [0.55, 0.62, 0.71, 0.80]


def test_hover_names_the_models():
    fig = scaling_figure([GPT3], metric="classification")
    trace = fig.data[0]
    assert list(trace.text) == ["ada", "babbage", "curie", "davinci"]
    assert "%{text}" in trace.hovertemplate
    assert trace.customdata[0][0] == "350M"


def test_chance_line_only_for_classification_at_the_chance_loss():
    fig = scaling_figure([GPT3], metric="classification", n_classes=2)
    (line,) = chance_shapes(fig)
    assert line.y0 == line.y1 == pytest.approx(math.log(2))
    assert line.showlegend and line.name == "chance: ln 2 = 0.693"  # named in the legend, not on the plot
    assert not fig.layout.annotations
    assert not chance_shapes(scaling_figure([GPT3], metric="classification"))  # n_classes unknown
    for metric in ["sequence_prob", "logodds", "absolute_logodds"]:
        assert not chance_shapes(scaling_figure([GPT3], metric=metric, n_classes=4))


@pytest.mark.parametrize(
    ("metric", "title"),
    [
        ("logodds", "Log-odds difference (lower is better)"),
        ("absolute_logodds", "Absolute log-odds difference (lower is better)"),
    ],
)
def test_logodds_metrics_use_a_linear_y_axis(metric, title):
    fig = scaling_figure([LOGODDS], metric=metric)
    assert fig.layout.xaxis.type == "log"
    assert fig.layout.yaxis.type == "linear"
    assert fig.layout.yaxis.title.text == title
    assert min(fig.data[0].y) < 0
    assert fig.data[0].error_y.visible


def test_a_loss_that_is_not_positive_gets_no_log_toggle():
    curve = Curve("S", [Point("a", 10**6, 0.0, 0.0), Point("b", 10**7, 0.2, 0.01)])
    fig = scaling_figure([curve], metric="sequence_prob")
    assert fig.layout.yaxis.type == "linear" and not fig.layout.updatemenus


def test_one_colour_per_series_and_always_a_legend():
    fig = scaling_figure([GPT3, PRIVATE], metric="classification")
    colours = [t.marker.color for t in fig.data]
    assert colours == list(plots.PALETTE[:2])
    assert fig.layout.showlegend is True
    # A downloaded image names its one series too.
    assert scaling_figure([GPT3], metric="classification").layout.showlegend is True


def test_layout_is_clean_and_responsive():
    fig = scaling_figure([GPT3], metric="classification", title="My task")
    assert fig.layout.template == pio.templates["plotly_white"]
    assert fig.layout.width is None and fig.layout.height is None
    assert fig.layout.autosize is True
    assert fig.layout.title.text == "My task"
    assert fig.layout.margin.l is not None
    # Callers embed the figure as JSON for plotly.js.
    data = json.loads(fig.to_json())
    assert data["layout"]["xaxis"]["type"] == "log"
    assert fig.to_plotly_json()["data"][0]["name"] == "GPT-3"


def test_x_ticks_read_like_parameter_counts():
    fig = scaling_figure([PRIVATE], metric="classification")
    labels = dict(zip(fig.layout.xaxis.tickvals, fig.layout.xaxis.ticktext, strict=True))
    assert labels[1e6] == "1M" and labels[1e9] == "1B"
    assert [human_count(n) for n in (125_000_000, 1_300_000_000, 175e9, 1e12, 500)] == [
        "125M",
        "1.3B",
        "175B",
        "1T",
        "500",
    ]


def test_accuracy_figure_in_percent_with_chance():
    fig = accuracy_figure([GPT3, PRIVATE], n_classes=2, title="Accuracy")
    assert fig.layout.yaxis.tickformat == ".0%"
    assert fig.layout.yaxis.range[0] == 0 and 1 <= fig.layout.yaxis.range[1] <= 1.05
    assert fig.layout.yaxis.type == "linear"
    assert fig.layout.xaxis.type == "log"
    assert [t.name for t in fig.data] == ["GPT-3", "Private"]
    assert list(fig.data[0].y) == [0.70, 0.62, 0.55, 0.40]
    assert list(fig.data[0].text) == ["ada", "babbage", "curie", "davinci"]
    (line,) = chance_shapes(fig)
    assert line.y0 == pytest.approx(0.5)
    assert line.showlegend and line.name == "chance: 50%"
    assert not chance_shapes(accuracy_figure([GPT3]))


def test_accuracy_figure_needs_some_accuracy():
    no_accuracy = Curve("S", [Point("a", 10**6, 1.0, 0.1), Point("b", 10**7, 2.0, 0.1)])
    assert [t.name for t in accuracy_figure([no_accuracy, GPT3]).data] == ["GPT-3"]
    with pytest.raises(ValueError, match="no accuracy to plot"):
        accuracy_figure([no_accuracy])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown metric"):
        scaling_figure([GPT3], metric="accuracy")
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        scaling_figure([GPT3], metric="classification", n_classes=1)


@pytest.mark.skipif(not Path(plots.DEBIAN_CHROMIUM).exists(), reason="needs Debian's /usr/bin/chromium")
def test_png_export(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    pytest.importorskip("kaleido", reason="kaleido is not installed")
    fig = scaling_figure([GPT3, PRIVATE], metric="classification", n_classes=2, title="Task")
    start = time.perf_counter()
    image = figure_png(fig, width=640, height=400)
    elapsed = time.perf_counter() - start
    assert image.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    assert (width, height) == (640, 400)
    assert elapsed < 30


def test_missing_browser_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("kaleido", reason="kaleido is not installed")
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    with pytest.raises(
        PngExportUnavailable, match=r"BROWSER_PATH=.*no-such-chrome.*apt-get install -y chromium"
    ):
        figure_png(scaling_figure([GPT3], metric="classification"))


def test_no_browser_anywhere_is_a_clear_error(monkeypatch, tmp_path):
    pytest.importorskip("kaleido", reason="kaleido is not installed")
    from choreographer.browsers.chromium import Chromium

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(plots, "DEBIAN_CHROMIUM", str(tmp_path / "chromium"))
    monkeypatch.setattr(Chromium, "find_browser", staticmethod(lambda *args, **kwargs: None))
    assert plots.find_browser() is None
    with pytest.raises(
        PngExportUnavailable, match="no Chrome or Chromium was found.*apt-get install -y chromium"
    ):
        figure_png(scaling_figure([GPT3], metric="classification"))


def test_the_search_through_choreographer_runs_without_debian_chromium(monkeypatch, tmp_path):
    """Unmocked: choreographer's own search (its signature changed once under us: a TypeError, not None)."""
    pytest.importorskip("kaleido", reason="kaleido is not installed")
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(plots, "DEBIAN_CHROMIUM", str(tmp_path / "chromium"))
    found = plots.find_browser()
    assert found is None or Path(found).is_file()


def test_missing_kaleido_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido raises ImportError
    with pytest.raises(PngExportUnavailable, match=r"kaleido is not installed.*pip install kaleido"):
        figure_png(scaling_figure([GPT3], metric="classification"))


def test_a_browser_that_fails_to_start_is_a_clear_error(monkeypatch, tmp_path):
    kaleido = pytest.importorskip("kaleido", reason="kaleido is not installed")
    from kaleido.errors import BrowserFailedError

    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))

    def fail(*args, **kwargs):
        raise BrowserFailedError("the browser closed at start")

    monkeypatch.setattr(kaleido, "calc_fig_sync", fail)
    with pytest.raises(PngExportUnavailable, match=f"the browser {fake} could not render"):
        figure_png(scaling_figure([GPT3], metric="classification"))
    assert os.environ["BROWSER_PATH"] == str(fake)


def test_the_pages_script_carries_plotlys_template_as_this_plotly_writes_it():
    """static/site/plotly-template.js is written by `python -m evaluation.plots`: again after plotly changes."""
    script = (Path(__file__).resolve().parent.parent / "static" / "site" / "plotly-template.js").read_text()
    assert script == plots.template_script(), "run `python -m evaluation.plots` to write it again"


def test_a_figure_for_a_page_names_the_template_and_keeps_everything_else():
    figure = json.loads(scaling_figure([GPT3], metric="classification").to_json())
    sent = plots.without_template(figure)
    assert sent["layout"]["template"] == "plotly_white"
    assert {**sent["layout"], "template": figure["layout"]["template"]} == figure["layout"]
    assert sent["data"] == figure["data"]
    assert figure["layout"]["template"] == plots.template_json()  # the original is left as it was
    other = {**figure, "layout": {**figure["layout"], "template": {"layout": {"font": {"size": 9}}}}}
    assert plots.without_template(other) == other  # another template goes as it is
