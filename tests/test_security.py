"""Hardening: what a client sends cannot break a page, production settings pass Django's deployment checks,
pages carry a Content-Security-Policy, and rate limits are counted in a cache every web process shares."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "cookie",
    ["America", "Etc", "x" * 300, "../../etc/passwd", "/etc/passwd", "UTC\x00", "Europe/../UTC", "Not/AZone"],
)
@pytest.mark.parametrize("who", [None, "alice"])
def test_a_malformed_time_zone_cookie_falls_back_to_utc(client, request, cookie, who):
    if who:
        client.force_login(request.getfixturevalue(who))
    client.cookies["tz"] = cookie
    for url in (reverse("home"), reverse("dashboard" if who else "account_login")):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<span data-tz-name>UTC</span>" in response.content.decode()


def test_a_valid_time_zone_cookie_shows_times_in_that_zone(client, alice, open_round):
    client.force_login(alice)
    client.cookies["tz"] = "America/Argentina/Buenos_Aires"
    page = client.get(reverse("home")).content.decode()
    assert "<span data-tz-name>America/Argentina/Buenos_Aires</span>" in page


# One web process (a gunicorn worker, say) that tries to log in as dana with each password given, in turn, and
# prints what it saw: "in", "wrong" (the form's error) or "refused" (django-allauth's rate limit).
LOGIN_ATTEMPTS = """
import sys

import django

django.setup()
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, as in the tests

if sys.argv[1] == "create":
    get_user_model().objects.create_user("dana", "dana@example.org", "the-right-password")
for password in sys.argv[2:]:
    page = Client().post("/accounts/login/", {"login": "dana", "password": password})
    refused = "Too many failed login attempts" in page.content.decode()
    print("refused" if refused else "in" if page.status_code == 302 else "wrong")
"""


def _test_database_url() -> str:
    """The test database, for a process of its own (it sees what the test has committed)."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _web_process(env: dict, *passwords: str, create: bool = False) -> list[str]:
    return _django_python(LOGIN_ATTEMPTS, "create" if create else "-", *passwords, env=env).split()


def _django_python(code: str, *args: str, env: dict) -> str:
    """Run ``code`` in a Python process of its own with the project's settings; its standard output."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _failed_logins_spread_over_two_processes(env: dict) -> None:
    """allauth allows 5 failed logins per account in 5 minutes: 3 in one process and 2 in another use them up,
    so the other process refuses even the right password."""
    assert _web_process(env, "wrong-1", "wrong-2", "wrong-3") == ["wrong"] * 3
    assert _web_process(env, "wrong-4", "wrong-5", "the-right-password") == ["wrong", "wrong", "refused"]


@pytest.mark.slow
def test_failed_logins_are_counted_across_web_processes_in_redis(transactional_db):
    from django.conf import settings
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"  # Django's, one client per pool
    cache.clear()  # the tests' own Redis database: no failed logins of an earlier test or run
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    try:
        assert _web_process(env, "the-right-password", create=True) == ["in"]
        _failed_logins_spread_over_two_processes(env)
    finally:
        cache.clear()


@pytest.mark.slow
def test_failed_logins_are_counted_across_web_processes_in_the_embedded_default(tmp_path):
    """No Redis: the count lives in the embedded default's SQLite database (bin/run runs createcachetable)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"REDIS_URL": "", "VAR_DIR": str(tmp_path)}
    for command in (["migrate", "-v", "0"], ["createcachetable"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=120)
    assert _web_process(env, "the-right-password", create=True) == ["in"]
    _failed_logins_spread_over_two_processes(env)


# Production as .env.example sets it up: DEBUG off, HTTPS (SECURE_COOKIES) behind a proxy, a real secret and host.
PRODUCTION = {
    "DEBUG": "false",
    "SECURE_COOKIES": "true",
    "ALLOWED_HOSTS": "contest.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://contest.example.org",
    "TRUSTED_PROXY_COUNT": "2",  # a load balancer that terminates TLS, then nginx
}
PRODUCTION_CHECK = """
import json

import django

django.setup()
from django.core.management import call_command
from django.test import Client

call_command("check", deploy=True, fail_level="WARNING")  # a warning exits with an error
client = Client(HTTP_HOST="contest.example.org")
plain = client.get("/")
secure = client.get("/", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.2")
print(json.dumps({"plain": [plain.status_code, plain.get("Location")], "secure": dict(secure.headers)}))
"""


def test_production_settings_pass_the_deployment_checks_and_send_security_headers():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}  # the tests' own
    env |= {**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": _test_database_url()}
    out = _django_python(PRODUCTION_CHECK, env=env)
    assert "System check identified no issues" in out
    seen = json.loads(out.splitlines()[-1])
    assert seen["plain"] == [301, "https://contest.example.org/"]
    headers = seen["secure"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_pages_send_a_content_security_policy_without_inline_scripts(client, alice):
    client.force_login(alice)
    policy = client.get(reverse("dashboard"))["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no inline or eval'd script
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


def test_the_production_image_has_the_chromium_that_chart_pngs_need():
    """Without a browser in the image, PNG downloads and e-mailed charts fail in production (a 503)."""
    from evaluation.plots import DEBIAN_CHROMIUM

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim-bookworm" in dockerfile  # Debian, so that its chromium package fits
    installs = [line for line in dockerfile.splitlines() if "apt-get install" in line]
    assert any("chromium" in line.split() for line in installs), installs
    assert f"BROWSER_PATH={DEBIAN_CHROMIUM}" in dockerfile
