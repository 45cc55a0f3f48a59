from django import template

from evaluation.plots import human_count, without_template

register = template.Library()


@register.filter
def parameters(n) -> str:
    """4_339_200 -> "4.34M": parameter counts as people write them (the charts' ticks use the same)."""
    return human_count(n)


@register.filter
def percent(p) -> str:
    """A probability as a percentage people read: 0.4213 -> "42.1%"; a tiny one keeps two significant digits
    ("0.0031%") rather than reading as 0."""
    if p is None:
        return ""
    value = 100 * float(p)
    if value == 0 or value >= 0.1:
        return f"{value:.1f}%"
    return f"{value:.2g}%"


@register.filter
def page_figures(figures: dict) -> dict:
    """A chart's figures (kind -> figure JSON) as a page sends them: plotly's template named, not repeated in
    every chart (static/site/plotly-template.js carries it once)."""
    return {kind: figure and without_template(figure) for kind, figure in figures.items()}
