"""Hardening: what a client sends cannot break a page, production settings pass Django's deployment checks,
pages carry a Content-Security-Policy, and rate limits are counted in a cache every web process shares."""

import pytest
from django.urls import reverse

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
