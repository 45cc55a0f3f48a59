"""How pages show what contestants wrote in their task files: long texts shortened, formulas flagged."""

from django import template

from submissions.taskfile import FORMULA_WARNING

register = template.Library()

# A prompt of up to LONG characters is shown whole; a longer one shows its start and its end (what the
# model continues from) and loads the rest only when asked, so a 10 MB prompt does not make a 10 MB page.
LONG = 1_500
HEAD = 1_000
TAIL = 400


@register.inclusion_tag("includes/long_text.html")
def long_text(text, url: str = "", field: str = "prompt"):
    """`text` in a .prompt box; shortened when long, with a button that loads `field` of the JSON at `url`."""
    text = "" if text is None else str(text)
    if len(text) <= LONG:
        return {"text": text, "shortened": False}
    return {
        "shortened": True,
        "head": text[:HEAD],
        "tail": text[-TAIL:],
        "omitted": len(text) - HEAD - TAIL,
        "length": len(text),
        "url": url,
        "field": field,
    }


@register.filter
def warns_of_formulas(warnings) -> bool:
    """Whether the validation warnings (as stored on a version) say that cells would run as formulas."""
    return any(FORMULA_WARNING in str(warning) for warning in warnings or ())
