"""The site's navigation bar, rendered once per kind of viewer (signed in or not, name, roles) in each process:
every page shows it, and rendering it cost more than the rest of the layout. Its sign-out form carries the
request's own CSRF token (a placeholder in the kept rendering, as in config/freshness.py)."""

import functools

from django import template
from django.conf import settings
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils.safestring import SafeString, mark_safe

from config.freshness import CSRF_PLACEHOLDER

register = template.Library()


def _render(prefix: str, username: str, contestant: bool, reviewer: bool, organizer: bool) -> str:
    del prefix  # in the key only: the links reversed under it
    return render_to_string(
        "includes/nav.html",
        {
            "signed_in": bool(username),
            "username": username,
            "is_contestant": contestant,
            "is_reviewer": reviewer,
            "is_organizer": organizer,
            "csrf_token": CSRF_PLACEHOLDER,
        },
    )


_kept = functools.lru_cache(maxsize=4096)(_render)


@register.simple_tag(takes_context=True)
def site_nav(context) -> SafeString:
    user = context.get("user")
    username = user.get_username() if user is not None and user.is_authenticated else ""
    render = _render if settings.DEBUG else _kept  # a template edited while developing shows at once
    html = render(
        get_script_prefix(),
        username,
        bool(context.get("is_contestant")),
        bool(context.get("is_reviewer")),
        bool(context.get("is_organizer")),
    )
    request = context.get("request")
    if request is not None and CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    return mark_safe(html)  # noqa: S308 (a template's rendering, escaped where it had to be)
