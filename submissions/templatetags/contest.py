import datetime as dt

from django import template
from django.utils import timezone
from django.utils.timesince import timeuntil

register = template.Library()


@register.inclusion_tag("includes/deadline.html")
def deadline(round, now=None):
    """The round's deadline in the viewer's time zone, with the time left (kept current by site.js)."""
    now = now or timezone.now()
    closes_at = round.closes_at
    return {
        "round": round,
        "closes_at": closes_at,
        "local": timezone.localtime(closes_at),
        "tz_name": timezone.get_current_timezone_name(),
        "closed": round.has_closed(now),
        "opened": round.has_opened(now),
        "left": timeuntil(closes_at, now, depth=2),
    }


_CONTROL_CLASS = {
    "select": "form-select",
    "checkbox": "form-check-input",
    "clearablefile": "form-control",
    "file": "form-control",
}


@register.filter
def control(field):
    """Render a bound field's widget with Bootstrap's class and its help/error ids for screen readers."""
    classes = [_CONTROL_CLASS.get(field.widget_type, "form-control")]
    described = []
    if field.help_text:
        described.append(f"{field.auto_id}_help")
    if field.errors:
        classes.append("is-invalid")
        described.append(f"{field.auto_id}_errors")
    attrs = {"class": " ".join(classes)}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.filter
def fields_with_errors(form) -> list:
    """The form's visible fields that have errors, in the form's order, for the summary at its top."""
    return [field for field in form.visible_fields() if field.errors]


@register.filter
def control_id(field) -> str:
    """The id of the element a link to this field should reach: the first radio of a radio group."""
    return f"{field.auto_id}_0" if field.widget_type == "radioselect" else field.auto_id


@register.inclusion_tag("includes/opens.html")
def opens(round, now=None):
    """When the round opens (or opened), in the viewer's time zone."""
    return {
        "round": round,
        "opened": round.has_opened(now or timezone.now()),
        "tz_name": timezone.get_current_timezone_name(),
    }


@register.inclusion_tag("includes/review_deadline.html")
def review_deadline(round, now=None):
    """The round's review deadline in the viewer's time zone, with the time left; says so when none is set."""
    now = now or timezone.now()
    closes_at = round.reviews_close_at
    if closes_at is None:
        return {"round": round, "closes_at": None}
    return {
        "round": round,
        "closes_at": closes_at,
        "local": timezone.localtime(closes_at),
        "tz_name": timezone.get_current_timezone_name(),
        "closed": now >= closes_at + dt.timedelta(seconds=1),
        "left": timeuntil(closes_at, now, depth=2),
    }
