"""Charts read at a glance: a value axis with labelled ticks over any band of values, a log toggle, a chance
line that never squeezes the data, and downloaded images that say what they show."""

import math

import pytest
from django.core.cache import cache
from django.urls import reverse

from evaluation import plots
from evaluation.plots import Curve, Point, accuracy_figure, figure_png, for_image, scaling_figure
from tests.test_page_cost import add_series

PNG = b"\x89PNG\r\n\x1a\nfake"


def curve(means, *, stderr=None, name="GPT-3") -> Curve:
    return Curve(
        name,
        [
            Point(f"m{i}", 10 ** (6 + i), mean, stderr if stderr is not None else abs(mean) * 0.002, 0.5)
            for i, mean in enumerate(means)
        ],
    )


def labelled_ticks_over(axis, low: float, high: float) -> list[str]:
    assert axis.tickmode == "array" and len(axis.tickvals) == len(axis.ticktext)
    return [text for value, text in zip(axis.tickvals, axis.ticktext, strict=True) if low <= value <= high]


@pytest.mark.parametrize(
    ("metric", "means", "n_classes"),
    [
        ("classification", [3.2, 3.35, 3.5, 3.6], 2),  # chance ln 2 = 0.69 far below
        ("sequence_prob", [0.001, 0.0013, 0.0016, 0.002], None),
        ("sequence_prob", [120, 122, 123, 125], None),
        ("logodds", [-3.1, -3.0, -2.95, -2.9], None),
        ("absolute_logodds", [0.41, 0.42, 0.43], None),
        ("classification", [0.5, 1.2, 2.6, 5.0], 4),  # a wide band, chance inside it
        ("sequence_prob", [2.5, 2.5], None),  # one value
    ],
)
def test_at_least_four_labelled_ticks_over_the_data_whatever_its_band(metric, means, n_classes):
    fig = scaling_figure([curve(means)], metric=metric, n_classes=n_classes)
    axis = fig.layout.yaxis
    assert axis.type == "linear"
    labels = labelled_ticks_over(axis, min(means), max(means) if max(means) > min(means) else min(means))
    if max(means) > min(means):
        assert len(labels) >= 4, (means, axis.tickvals)
    assert len(set(axis.ticktext)) == len(axis.ticktext)  # labels precise enough to tell the ticks apart
    low, high = axis.range
    for point in curve(means).points:
        assert (
            low < point.mean - point.stderr and point.mean + point.stderr < high
        )  # bars inside, off the lines
    assert all(low <= t <= high for t in axis.tickvals)


def test_the_issue_band_shows_its_ticks_not_the_chance_line():
    """Losses 3.2-3.6 showed only the ticks 1 and 2 next to the chance line at ln 2."""
    fig = scaling_figure([curve([3.2, 3.4, 3.6], stderr=0.02)], metric="classification", n_classes=2)
    assert fig.layout.yaxis.ticktext == ("3.2", "3.3", "3.4", "3.5", "3.6")
    assert fig.layout.yaxis.range[0] > 3  # ln 2 = 0.69 does not stretch the axis
    ((line,),) = [[s for s in fig.layout.shapes if s.line.dash == "dash"]]
    assert line.y0 == pytest.approx(math.log(2))
    assert line.name == "chance: ln 2 = 0.693, below the axis"  # the legend says where it is


def test_a_chance_line_near_the_data_joins_the_axis_off_its_edges():
    fig = scaling_figure([curve([0.72, 0.8, 0.9], stderr=0.01)], metric="classification", n_classes=2)
    low, high = fig.layout.yaxis.range
    chance = math.log(2)
    assert low < chance < high and chance - low >= 0.04 * (high - low)
    (line,) = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert line.name == "chance: ln 2 = 0.693"
    assert len(labelled_ticks_over(fig.layout.yaxis, 0.72, 0.9)) >= 4


def test_the_log_toggle_switches_the_value_axis_keeping_its_range_and_ticks():
    fig = scaling_figure([curve([3.2, 3.4, 3.6], stderr=0.02)], metric="classification", n_classes=2)
    (toggle,) = fig.layout.updatemenus
    linear, log = (button.args[0] for button in toggle.buttons)
    assert [b.label for b in toggle.buttons] == ["linear", "log"] and toggle.active == 0
    assert linear["yaxis.type"] == "linear" and list(linear["yaxis.range"]) == list(fig.layout.yaxis.range)
    assert log["yaxis.type"] == "log"
    low, high = log["yaxis.range"]
    assert low < math.log10(3.18) and math.log10(3.62) < high and high - low < 0.1  # the bars, not ln 2
    assert len(labelled_ticks_over(fig.layout.yaxis, 3.2, 3.6)) >= 4
    assert [v for v in log["yaxis.tickvals"] if 3.2 <= v <= 3.6] == [3.2, 3.3, 3.4, 3.5, 3.6]
    # A wide band gets 1-2-5 ticks on the log scale.
    wide = scaling_figure([curve([0.05, 0.5, 5.0])], metric="sequence_prob").layout.updatemenus[0]
    assert {0.1, 0.2, 0.5, 1.0, 2.0} <= set(wide.buttons[1].args[0]["yaxis.tickvals"])


def test_no_log_toggle_where_a_mean_is_not_positive():
    assert not scaling_figure([curve([-0.5, 0.3])], metric="logodds").layout.updatemenus
    assert not scaling_figure([curve([0.0, 0.2], stderr=0.01)], metric="sequence_prob").layout.updatemenus
    # A positive mean whose error bar reaches below zero keeps the toggle; the log axis shows the means.
    fig = scaling_figure([curve([0.05, 0.4], stderr=0.1)], metric="sequence_prob")
    low, high = fig.layout.updatemenus[0].buttons[1].args[0]["yaxis.range"]
    assert low < math.log10(0.05) and math.log10(0.5) < high


def test_the_image_carries_its_title_legend_and_axis_names_and_no_buttons():
    fig = scaling_figure(
        [curve([3.2, 3.4, 3.6])], metric="classification", n_classes=2, png_title="Hindsight — GPT-3 — loss"
    )
    assert fig.layout.title.text in ("", None)  # the page names the task and series around the chart
    image = for_image(fig)
    assert image.layout.title.text == "Hindsight — GPT-3 — loss"
    assert image.layout.showlegend is True
    assert image.layout.xaxis.title.text == "Parameters"
    assert image.layout.yaxis.title.text == "Mean loss (lower is better)"
    assert not image.layout.updatemenus
    assert fig.layout.updatemenus  # the figure itself is left as it was
    accuracy = for_image(accuracy_figure([curve([1, 2])], n_classes=2, png_title="T — S — accuracy"))
    assert accuracy.layout.title.text == "T — S — accuracy"


def test_a_long_title_breaks_after_the_task_and_shows_markup_as_written():
    long_task = "Does <b>bold</b> & co. still hold when the prompt is long, very long indeed"
    fig = scaling_figure([curve([1, 2])], metric="sequence_prob", png_title=f"{long_task} — GPT-3 — loss")
    assert for_image(fig).layout.title.text == (
        "Does &lt;b&gt;bold&lt;/b&gt; &amp; co. still hold when the prompt is long, very long indeed<br>GPT-3 — loss"
    )


def test_figure_png_renders_the_image_version(monkeypatch):
    kaleido = pytest.importorskip("kaleido", reason="kaleido is not installed")
    rendered = []

    def capture(figure, **kwargs):
        rendered.append(figure)
        return PNG

    monkeypatch.setattr(kaleido, "calc_fig_sync", capture)
    monkeypatch.setattr(plots, "find_browser", lambda: "/usr/bin/chromium")
    fig = scaling_figure([curve([3.2, 3.6])], metric="classification", png_title="T — S — loss")
    assert figure_png(fig) == PNG
    assert rendered[0]["layout"]["title"]["text"] == "T — S — loss"
    assert not rendered[0]["layout"].get("updatemenus")


@pytest.mark.django_db
def test_a_downloaded_png_names_the_task_the_series_and_the_metric(
    client, alice, version, monkeypatch, settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    cache.clear()
    drawn = []

    def render(fig, *, width, height):
        drawn.append(for_image(fig))
        return PNG

    monkeypatch.setattr(plots, "figure_png", render)
    series = add_series(version, "Open A", models=2)
    client.force_login(alice)
    for kind, metric in [
        ("scaling", "mean classification loss (classification)"),
        ("accuracy", "accuracy (classification)"),
    ]:
        url = reverse("figure_png", args=[version.submission.pk, version.number, series.pk, kind])
        response = client.get(url)
        assert response.status_code == 200 and response.content == PNG
        layout = drawn[-1].layout
        assert layout.title.text == f"{version.task_name} — Open A — {metric}"
        assert layout.showlegend is True and [t.name for t in drawn[-1].data] == ["Open A"]
        assert layout.xaxis.title.text == "Parameters" and layout.yaxis.title.text
    cache.clear()


@pytest.fixture
def version(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS

    with django_capture_on_commit_callbacks(execute=False):
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def test_a_browser_that_hangs_is_given_up_on_after_the_timeout(monkeypatch):
    import threading

    import kaleido
    import plotly.graph_objects

    from evaluation import plots

    released = threading.Event()
    monkeypatch.setattr(kaleido, "calc_fig_sync", lambda *a, **k: released.wait(30))
    monkeypatch.setattr(plots, "find_browser", lambda: "/usr/bin/chromium")
    with pytest.raises(plots.PngExportUnavailable, match="did not render the figure within 0.2 s"):
        plots.figure_png(plotly.graph_objects.Figure(), timeout=0.2)
    released.set()
