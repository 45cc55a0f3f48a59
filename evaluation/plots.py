"""Scaling plots for a task: plotly figures for the pages (plotly.js) and PNG images for the e-mails.

No Django here. Callers embed a figure with ``fig.to_json()`` (or ``fig.to_plotly_json()``) and plotly.js, or
turn it into a PNG with :func:`figure_png` (kaleido, which drives a headless Chromium).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import plotly.graph_objects as go
from plotly.colors import qualitative

from contest.rules import CLASSIFICATION, LOGODDS, LOSS_METRICS
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
    about a decade, instead of plotly's lone leading digits; narrower spans keep plotly's own ticks."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    if not positive or math.log10(max(positive) / min(positive)) < 0.7:
        return {}
    low, high = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    ticks = [m * 10.0**k for k in range(low, high + 1) for m in (1, 2, 5)]
    return {"tickmode": "array", "tickvals": ticks, "ticktext": [f"{t:g}" for t in ticks]}


def _layout(fig: go.Figure, *, title: str, n_traces: int) -> None:
    fig.update_layout(
        template="plotly_white",
        title={"text": title, "x": 0.5, "xanchor": "center"},
        autosize=True,  # no fixed width: the page's container and figure_png give the size
        margin={"l": 70, "r": 30, "t": 80 if title else 50, "b": 60},
        hovermode="closest",
        showlegend=n_traces > 1,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        font={"size": 13},
    )


def _chance_line(fig: go.Figure, value: float, *, log_axis: bool, label: str = "chance") -> None:
    """A dashed horizontal line across the plot at ``value``, labelled at its right end."""
    fig.add_hline(y=value, line_dash="dash", line_color=CHANCE_COLOUR, line_width=1.5, layer="below")
    # Shapes take data values on a log axis but annotations take log10 of them (plotly's convention).
    fig.add_annotation(
        x=1,
        xref="x domain",
        xanchor="right",
        y=math.log10(value) if log_axis else value,
        yref="y",
        yanchor="bottom",
        text=label,
        showarrow=False,
        font={"color": CHANCE_COLOUR},
    )


def _style(index: int) -> dict:
    colour = PALETTE[index % len(PALETTE)]
    return {
        "line": {"color": colour, "width": 2},
        "marker": {"color": colour, "size": 8, "symbol": SYMBOLS[index % len(SYMBOLS)]},
    }


def scaling_figure(
    curves: Sequence[Curve], *, metric: str, n_classes: int | None = None, title: str = ""
) -> go.Figure:
    """Mean metric value against parameters, one line per series, with standard-error bars.

    Log-log axes for the losses (classification, sequence_prob; a linear y axis if a mean is not positive, which
    a log axis cannot show), a linear y axis for the log-odds metrics (values may be negative). For
    classification with ``n_classes`` a dashed "chance" line at the chance loss -log(1/n_classes).
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
    log_y = metric in LOSS_METRICS and all(p.mean > 0 for p in points)
    _layout(fig, title=title, n_traces=len(curves))
    fig.update_xaxes(**_x_axis(points))
    y_axis: dict = {"title": {"text": Y_TITLES[metric]}, "type": "log" if log_y else "linear"}
    if log_y:
        shown = [p.mean + sign * p.stderr for p in points for sign in (-1, 1)]
        y_axis.update(_log_y_ticks(shown + ([chance] if chance else [])))
    if metric == LOGODDS or not log_y:
        y_axis.update(zeroline=True, zerolinecolor="#bbbbbb", zerolinewidth=1)
    fig.update_yaxes(**y_axis)
    if chance is not None:
        _chance_line(fig, chance, log_axis=log_y)
    return fig


def accuracy_figure(curves: Sequence[Curve], *, n_classes: int | None = None, title: str = "") -> go.Figure:
    """Accuracy (classification, logodds) against parameters on a 0-100% axis, one line per series.

    Points without an accuracy are left out, and so are curves without any; with ``n_classes`` a dashed
    "chance" line at 1/n_classes. Raises ValueError when no point has an accuracy (sequence_prob has none).
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
    _layout(fig, title=title, n_traces=len(fig.data))
    fig.update_xaxes(**_x_axis(plotted))
    fig.update_yaxes(
        title={"text": "Accuracy (higher is better)"}, type="linear", range=[0, 1.02], tickformat=".0%"
    )
    if n_classes:
        _chance_line(fig, 1 / n_classes, log_axis=False)
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
    found = Chromium.find_browser()
    return str(found) if found and _is_executable(found) else None


def _is_executable(path: str | Path) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def figure_png(fig: go.Figure, *, width: int = 800, height: int = 500) -> bytes:
    """The figure as a PNG image of ``width`` × ``height`` pixels, rendered by kaleido in headless Chromium.

    Raises PngExportUnavailable, naming what to install, when kaleido or a browser is missing or the browser
    cannot start. MathJax is turned off (kaleido would fetch it from a CDN; our figures have no LaTeX) and the
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
    try:
        image = kaleido.calc_fig_sync(
            fig.to_dict(),
            opts={"format": "png", "width": width, "height": height, "scale": 1},
            kopts={"path": browser, "mathjax": False},
        )
    except (ChromeNotFoundError, BrowserFailedError) as error:
        raise PngExportUnavailable(
            f"the browser {browser} could not render the figure ({error}). {INSTALL_HINT}"
        ) from error
    return bytes(image)
