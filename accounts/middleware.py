import functools
import zoneinfo

from django.utils import timezone


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class ViewerTimezoneMiddleware:
    """Show times in the viewer's time zone, which the browser reports in the ``tz`` cookie (see site.js).

    The cookie is whatever the client sends: only a name of the time zone database is used (a folder such as
    ``America``, an overlong or a path-like value would make ``ZoneInfo`` raise an OSError); anything else is UTC.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.COOKIES.get("tz", "")
        if name in _known_zones():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        return self.get_response(request)
