"""Markdown that organizers write, rendered to HTML that is safe to put in a page."""

import functools

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Raw HTML in the Markdown is shown as text, never passed through; markdown-it also refuses javascript:,
# vbscript:, file: and data: links. nh3 then keeps only the tags and attributes below, whatever got through.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


@functools.lru_cache(maxsize=128)
def render_markdown(text: str) -> SafeString:
    html = _MARKDOWN.render(text)
    clean = nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"table": {"class": "table table-sm table-bordered"}},
    )
    return mark_safe(clean)  # noqa: S308 — nh3 kept only the tags and attributes above
