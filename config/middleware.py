"""What a request gets when the cache server (Redis) does not answer in a part of the site that cannot do
without it: signing in and signing up count attempts there (django-allauth's rate limits), and letting them
through uncounted would open the site to guessing passwords. Pages that only read from the cache never get
here: they compute what they would have read (config/freshness.py, accounts/sessions.py)."""

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class CacheUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, RedisError):
            return None
        logger.warning("the cache did not answer during %s %s: %s", request.method, request.path, exception)
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "60"
        return response
