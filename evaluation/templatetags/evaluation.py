from django import template

from evaluation.plots import human_count

register = template.Library()


@register.filter
def parameters(n) -> str:
    """4_339_200 -> "4.34M": parameter counts as people write them (the charts' ticks use the same)."""
    return human_count(n)
