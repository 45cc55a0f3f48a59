from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from submissions.forms import ANSWER_LIMITS


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused to read, in the site's layout; a form too large to read says so."""
    too_large = isinstance(exception, RequestDataTooBig)
    return render(
        request,
        "400.html",
        {
            "too_large": too_large,
            "limit_mb": settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024,
            "limits": {name: f"{limit:,}" for name, limit in ANSWER_LIMITS.items()},
        },
        status=413 if too_large else 400,
    )
