"""Scaling plots for a task: plotly figures for the pages (plotly.js) and PNG images for the e-mails.

No Django here. Callers embed a figure with ``fig.to_json()`` (or ``fig.to_plotly_json()``) and plotly.js, or
turn it into a PNG with :func:`figure_png` (kaleido, which drives a headless Chromium).
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from plotly.colors import qualitative

from contest.rules import CLASSIFICATION, LOGODDS
from evaluation.trends import check_metric

PALETTE = qualitative.Plotly
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "pentagon")
CHANCE_COLOUR = "#7f7f7f"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
INSTALL_HINT = (
    "PNG export needs kaleido (pip install kaleido==1.5.0) and a Chrome or Chromium browser: "
    "on Debian/Ubuntu run `apt-get install -y chromium`, or point BROWSER_PATH at a Chrome executable"
)

Y_TITLES = {
    "classification": "Mean loss (lower is better)",
    "sequence_prob": "Mean loss (lower is better)",
    "logodds": "Log-odds difference (lower is better)",
    "absolute_logodds": "Absolute log-odds difference (lower is better)",
}
X_TITLE = "Parameters"
TITLE_LINE = 70  # characters of an image's title on one line (800 px at 17 px)
MIN_TICKS = 4  # labelled ticks over the shown values, however narrow their band


class PngExportUnavailable(RuntimeError):
    """No PNG can be made on this machine: kaleido or a Chrome/Chromium browser is missing or fails to start."""


@dataclass(frozen=True)
class Point:
    model: str
    parameters: int
    mean: float
    stderr: float
    accuracy: float | None = None


@dataclass(frozen=True)
class Curve:
    series: str
    points: Sequence[Point]


def human_count(n: float) -> str:
    """1_300_000_000 -> "1.3B": parameter counts as people write them."""
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:.3g}"


def _sorted_points(curve: Curve) -> list[Point]:
    return sorted(curve.points, key=lambda p: p.parameters)


def _all_points(curves: Sequence[Curve]) -> list[Point]:
    return [p for c in curves for p in c.points]


def _x_axis(points: Sequence[Point]) -> dict:
    """A log axis with a labelled tick at each power of ten spanned by the models ("1M", "10M", "1B", ...)."""
    axis: dict = {"title": {"text": X_TITLE}, "type": "log", "showgrid": True}
    sizes = [p.parameters for p in points if p.parameters > 0]
    if sizes:
        low, high = math.log10(min(sizes)), math.log10(max(sizes))
        # Powers of ten; for a narrow span also 2× and 5× them (or every multiple) so some ticks fall inside.
        multiples = (1,) if high - low >= 2 else (1, 2, 5) if high - low >= 0.7 else tuple(range(1, 10))
        ticks = [m * 10.0**k for k in range(math.floor(low), math.ceil(high) + 1) for m in multiples]
        axis.update(tickmode="array", tickvals=ticks, ticktext=[human_count(t) for t in ticks])
    return axis


def _log_y_ticks(values: Sequence[float]) -> dict:
    """Plain labels ("0.2", "0.5", "1") at 1, 2 and 5 times the powers of ten on a log y axis spanning over
    about a decade, instead of plotly's lone leading digits; narrower spans keep the linear axis' ticks."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive or math.log10(max(positive) / min(positive)) < 0.7:
        return {}
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    ticks = [m * 10.0**k for k in range(low, high + 1) for m in (1, 2, 5)]
    return {"tickmode": "array", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def _multiples(step: float, low: float, high: float) -> list[float]:
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def _tick_step(low: float, high: float) -> float:
    """The largest step of 1, 2 or 5 times a power of ten with at least MIN_TICKS multiples in [low, high]."""
    step = 10.0 ** math.floor(math.log10(high - low))
    while True:
        for m in (1.0, 0.5, 0.2):
            if len(_multiples(step * m, low, high)) >= MIN_TICKS:
                return step * m
        step /= 10


@dataclass(frozen=True)
class ValueAxis:
    """A linear value axis: its range, its labelled ticks, and whether the chance line lies inside it."""

    range: tuple[float, float]
    tickvals: list[float]
    ticktext: list[str]
    chance_shown: bool


def value_axis(values: Sequence[float], *, chance: float | None = None) -> ValueAxis:
    """A linear axis over ``values`` with at least MIN_TICKS labelled ticks among them, whatever their range.

    The chance value joins the range only while the data keep at least half of the axis: a chance loss of
    ln 2 = 0.69 under losses around 3.4 would squeeze them into a sliver, so it is named in the legend instead.
    """
    shown = [v for v in values if math.isfinite(v)]
    low, high = (min(shown), max(shown)) if shown else (0.0, 1.0)
    if high - low < 1e-12 * max(1.0, abs(high)):  # one value: a band of ±5% around it (±0.5 around 0)
        half = abs(high) * 0.05 or 0.5
        low, high = low - half, high + half
    step = _tick_step(low, high)
    axis_low, axis_high = low, high
    chance_shown = False
    if chance is not None and max(high, chance) - min(low, chance) <= 2 * (high - low):
        axis_low, axis_high, chance_shown = min(low, chance), max(high, chance), True
    pad = 0.05 * (axis_high - axis_low)  # keeps the extreme bars and the chance line off the axis lines
    axis_low, axis_high = axis_low - pad, axis_high + pad
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    ticks = [round(t, decimals + 3) for t in _multiples(step, axis_low, axis_high)]
    return ValueAxis(
        range=(axis_low, axis_high),
        tickvals=ticks,
        ticktext=[f"{t:.{decimals}f}" for t in ticks],
        chance_shown=chance_shown,
    )


TEMPLATE = "plotly_white"


@functools.cache
def template_json() -> dict:
    """plotly's TEMPLATE as a figure's JSON carries it (some 8 kB): the pages send it once, in
    ``static/site/plotly-template.js`` (written by ``python -m evaluation.plots``), not in every chart. Not to be
    changed (it is cached)."""
    return json.loads(go.Figure(layout={"template": TEMPLATE}).to_json())["layout"]["template"]


def without_template(figure: dict) -> dict:
    """A figure's JSON for a page: TEMPLATE's JSON replaced by its name, which the page's script resolves."""
    layout = figure.get("layout", {})
    if layout.get("template") != template_json():
        return figure
    return {**figure, "layout": {**layout, "template": TEMPLATE}}


def template_script() -> str:
    """The content of ``static/site/plotly-template.js``."""
    return (
        "// Written by `python -m evaluation.plots` from plotly's template, which the pages' charts name"
        " (evaluation/plots.py).\n"
        f"window.plotlyTemplates = {{{json.dumps(TEMPLATE)}: {json.dumps(template_json(), sort_keys=True)}}};\n"
    )


def _layout(fig: go.Figure, *, title: str, png_title: str) -> None:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.5, "xanchor": "center"},
        autosize=True,  # no fixed width: the page's container and figure_png give the size
        margin={"l": 70, "r": 30, "t": 80 if title else 60, "b": 60},
        hovermode="closest",
        showlegend=True,  # names the series and the dashed chance line, also in a downloaded image
        # Under the chart, its height grown to fit: above it the linear/log buttons would cover a long legend.
        legend={
            "orientation": "h",
            "yref": "container",
            "yanchor": "bottom",
            "y": 0,
            "xanchor": "left",
            "x": 0,
        },
        font={"size": 13},
        meta=_image_meta(png_title) if png_title else None,
    )


def _chance_line(fig: go.Figure, value: float, *, label: str, shown: bool = True) -> None:
    """A dashed horizontal line across the plot at ``value``, named in the legend rather than by a label on the
    plot (which would sit on the axis line or on the data); the legend also says when it lies off the axis."""
    where = "" if shown else (", below the axis" if value < fig.layout.yaxis.range[0] else ", above the axis")
    fig.add_hline(
        y=value,
        line_dash="dash",
        line_color=CHANCE_COLOUR,
        line_width=1.5,
        layer="below",
        showlegend=True,
        name=f"{label}{where}",
    )


def _prefixed(name: str, settings: dict) -> dict:
    return {f"{name}.{key}": value for key, value in settings.items()}


def _scale_toggle(linear: dict, log: dict) -> dict:
    """Two buttons above the plot's right corner switching the value axis between linear and log scale."""
    return {
        "type": "buttons",
        "direction": "right",
        "showactive": True,
        "active": 0,
        "x": 1,
        "xanchor": "right",
        "y": 1.02,
        "yanchor": "bottom",
        "pad": {"r": 0, "t": 0},
        "font": {"size": 11},
        "buttons": [
            {"label": "linear", "method": "relayout", "args": [linear]},
            {"label": "log", "method": "relayout", "args": [log]},
        ],
    }


def _style(index: int) -> dict:
    colour = PALETTE[index % len(PALETTE)]
    return {
        "line": {"color": colour, "width": 2},
        "marker": {"color": colour, "size": 8, "symbol": SYMBOLS[index % len(SYMBOLS)]},
    }


def scaling_figure(
    curves: Sequence[Curve],
    *,
    metric: str,
    n_classes: int | None = None,
    title: str = "",
    png_title: str = "",
) -> go.Figure:
    """Mean metric value against parameters, one line per series, with standard-error bars.

    A log x axis, and a linear value axis (see :func:`value_axis`) with buttons to switch it to a log scale
    where every mean is positive (not for the signed log-odds). For classification with ``n_classes`` a dashed
    "chance" line at the chance loss -log(1/n_classes). ``png_title`` is the title of the image export.
    """
    check_metric(metric)
    if n_classes is not None and n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    fig = go.Figure()
    for index, curve in enumerate(curves):
        points = _sorted_points(curve)
        fig.add_trace(
            go.Scatter(
                x=[p.parameters for p in points],
                y=[p.mean for p in points],
                error_y={
                    "type": "data",
                    "array": [p.stderr for p in points],
                    "visible": True,
                    "thickness": 1.5,
                },
                mode="lines+markers",
                name=curve.series,
                text=[p.model for p in points],
                customdata=[[human_count(p.parameters), p.stderr] for p in points],
                hovertemplate=(
                    "<b>%{text}</b><br>%{customdata[0]} parameters<br>"
                    "Mean: %{y:.4f} ± %{customdata[1]:.4f} (standard error)<extra>%{fullData.name}</extra>"
                ),
                **_style(index),
            )
        )
    points = _all_points(curves)
    chance = math.log(n_classes) if metric == CLASSIFICATION and n_classes else None
    shown = [p.mean + sign * p.stderr for p in points for sign in (-1, 1)]
    axis = value_axis(shown, chance=chance)
    _layout(fig, title=title, png_title=png_title)
    fig.update_xaxes(**_x_axis(points))
    linear = {
        "type": "linear",
        "range": list(axis.range),
        "tickmode": "array",
        "tickvals": axis.tickvals,
        "ticktext": axis.ticktext,
    }
    fig.update_yaxes(title={"text": Y_TITLES[metric]}, **linear)
    if metric == LOGODDS or axis.range[0] <= 0:
        fig.update_yaxes(zeroline=True, zerolinecolor="#bbbbbb", zerolinewidth=1)
    if metric != LOGODDS and points and all(p.mean > 0 for p in points):  # log: positive means only
        extra = [p.mean for p in points] + ([chance] if axis.chance_shown else [])
        on_log = [v for v in [*shown, *extra] if v > 0]  # the means, and the bars' ends above zero
        low, high = math.log10(min(on_log)), math.log10(max(on_log))
        pad = max(0.05 * (high - low), 0.005)
        log = {**linear, **_log_y_ticks(on_log), "type": "log", "range": [low - pad, high + pad]}
        fig.update_layout(updatemenus=[_scale_toggle(_prefixed("yaxis", linear), _prefixed("yaxis", log))])
    if chance is not None:
        _chance_line(fig, chance, label=f"chance: ln {n_classes} = {chance:.3f}", shown=axis.chance_shown)
    return fig


def accuracy_figure(
    curves: Sequence[Curve], *, n_classes: int | None = None, title: str = "", png_title: str = ""
) -> go.Figure:
    """Accuracy (classification, logodds) against parameters on a 0-100% axis, one line per series.

    Points without an accuracy are left out, and so are curves without any; with ``n_classes`` a dashed
    "chance" line at 1/n_classes. Raises ValueError when no point has an accuracy (sequence_prob has none).
    ``png_title`` is the title of the figure exported as an image.
    """
    if n_classes is not None and n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    fig = go.Figure()
    plotted: list[Point] = []
    for index, curve in enumerate(curves):
        points = [p for p in _sorted_points(curve) if p.accuracy is not None]
        if not points:
            continue
        plotted.extend(points)
        fig.add_trace(
            go.Scatter(
                x=[p.parameters for p in points],
                y=[p.accuracy for p in points],
                mode="lines+markers",
                name=curve.series,
                text=[p.model for p in points],
                customdata=[[human_count(p.parameters)] for p in points],
                hovertemplate=(
                    "<b>%{text}</b><br>%{customdata[0]} parameters<br>"
                    "Accuracy: %{y:.1%}<extra>%{fullData.name}</extra>"
                ),
                **_style(index),
            )
        )
    if not plotted:
        raise ValueError("no accuracy to plot: none of the points has one (sequence_prob tasks have none)")
    _layout(fig, title=title, png_title=png_title)
    fig.update_xaxes(**_x_axis(plotted))
    fig.update_yaxes(
        title={"text": "Accuracy (higher is better)"}, type="linear", range=[0, 1.02], tickformat=".0%"
    )
    if n_classes:
        _chance_line(fig, 1 / n_classes, label=f"chance: {1 / n_classes:.0%}")
    return fig


def find_browser() -> str | None:
    """The Chrome/Chromium kaleido should drive: BROWSER_PATH, else Debian's chromium, else choreographer's search.

    choreographer (kaleido's browser driver) itself reads BROWSER_PATH, then looks for chrome/chromium/... on
    PATH, then at typical install paths, then for a copy downloaded with ``kaleido_get_chrome``.
    """
    override = os.environ.get("BROWSER_PATH")
    if override:
        return override if _is_executable(override) else None
    if _is_executable(DEBIAN_CHROMIUM):
        return DEBIAN_CHROMIUM
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:
        return None
    found = Chromium.find_browser(skip_local=False)  # a copy kaleido_get_chrome downloaded counts too
    return str(found) if found and _is_executable(found) else None


def _is_executable(path: str | Path) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _image_meta(png_title: str) -> dict:
    """The title an image of the figure shows, as plotly text, and the top margin it needs: kept in the
    figure's ``meta`` for :func:`for_image` here and for the page's own "Download plot" button.

    plotly reads tags in titles, so a task named "<b>x</b>" is escaped to show as written; a long title breaks
    after the task's name rather than running off the image.
    """
    lines = png_title.split(" — ", 1) if len(png_title) > TITLE_LINE and " — " in png_title else [png_title]
    return {
        "image_title": "<br>".join(html.escape(line, quote=False) for line in lines),
        "image_margin_top": 70 + 25 * len(lines),
    }


def for_image(fig: go.Figure) -> go.Figure:
    """The figure as a downloaded image shows it: titled with its ``png_title`` (task, series and metric; the
    page names those around the chart) and without the page's buttons, which do nothing in an image."""
    image = go.Figure(fig)
    meta = image.layout.meta if isinstance(image.layout.meta, dict) else {}
    if meta.get("image_title"):
        image.update_layout(
            title={"text": meta["image_title"], "x": 0.5}, margin={"t": meta["image_margin_top"]}
        )
    image.layout.updatemenus = ()
    return image


RENDER_TIMEOUT_SECONDS = float(os.environ.get("CHART_RENDER_TIMEOUT_SECONDS", "60"))


def figure_png(
    fig: go.Figure, *, width: int = 800, height: int = 500, timeout: float = RENDER_TIMEOUT_SECONDS
) -> bytes:
    """The figure as a PNG image of ``width`` × ``height`` pixels, rendered by kaleido in headless Chromium.

    Raises PngExportUnavailable, naming what to install, when kaleido or a browser is missing or the browser
    cannot start. The image is :func:`for_image` of the figure. MathJax is turned off (kaleido would fetch it from a CDN; our figures have no LaTeX) and the
    plotly.js bundled with plotly is used, so no network is needed. Starts a browser per call (about 2 s).
    """
    try:
        import kaleido
        from kaleido.errors import BrowserFailedError, ChromeNotFoundError
    except ImportError as error:
        raise PngExportUnavailable(f"kaleido is not installed. {INSTALL_HINT}") from error
    browser = find_browser()
    if browser is None:
        where = os.environ.get("BROWSER_PATH")
        found = f"BROWSER_PATH={where!r} is not an executable" if where else "no Chrome or Chromium was found"
        raise PngExportUnavailable(f"{found}. {INSTALL_HINT}")
    # A browser that hangs must not hang its caller (a worker sending e-mails holds its queue meanwhile): the
    # render runs in a thread of its own, waited for at most ``timeout`` seconds, then given up on.
    outcome: dict = {}

    def render() -> None:
        try:
            outcome["image"] = kaleido.calc_fig_sync(
                for_image(fig).to_dict(),
                opts={"format": "png", "width": width, "height": height, "scale": 1},
                kopts={"path": browser, "mathjax": False, "timeout": timeout},
            )
        except Exception as error:  # raised in the caller's thread below
            outcome["error"] = error

    worker = threading.Thread(target=render, name="png-render", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise PngExportUnavailable(f"the browser {browser} did not render the figure within {timeout:g} s")
    error = outcome.get("error")
    if isinstance(error, (ChromeNotFoundError, BrowserFailedError)):
        raise PngExportUnavailable(
            f"the browser {browser} could not render the figure ({error}). {INSTALL_HINT}"
        ) from error
    if error is not None:
        raise error
    return bytes(outcome["image"])


def small_multiple(
    curves: Sequence[Curve], *, metric: str, title: str, n_classes: int | None = None, height: int = 260
) -> go.Figure:
    """One small scaling chart of a set drawn side by side (the trend of one subcategory): the axes and styles of
    :func:`scaling_figure`, a short title, no linear/log buttons, and a legend only when several series share it.
    Each chart scales its own value axis: the charts compare shapes, and their numbers are on their axes.
    Without plotly_white's template (8 kB of JSON in every chart, 50 charts on one page): its white background
    and light grid are set here."""
    fig = scaling_figure(curves, metric=metric, n_classes=n_classes, title=title)
    fig.layout.template = None
    fig.layout.updatemenus = ()
    fig.update_layout(
        height=height,
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=PALETTE,
        showlegend=len(curves) > 1,
        title={"font": {"size": 13}},
        margin={"l": 55, "r": 10, "t": 40, "b": 40},
        font={"size": 11},
    )
    grid = {"gridcolor": "#ebf0f8", "linecolor": "#ebf0f8", "title": None}
    fig.update_xaxes(**grid)
    fig.update_yaxes(**grid)
    return fig


if __name__ == "__main__":
    Path(__file__).resolve().parent.parent.joinpath("static", "site", "plotly-template.js").write_text(
        template_script()
    )
