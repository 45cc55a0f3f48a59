"""What every signed-in request pays for before its page: the session (read from the cache, kept in the
database: accounts/sessions.py), the user, the user's roles and team (one query), the navigation bar (rendered
once per kind of viewer: config/templatetags/layout.py), and the check that the user may see the submission a
page is about (read by its key, then checked)."""

import contextlib
import socket

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.http import Http404
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import sessions
from accounts.models import Role
from accounts.selectors import roles_of, team_of
from accounts.services import grant_role
from reviews.services import assign_reviewer, declare_conflict
from submissions.models import Submission
from submissions.selectors import submissions_visible_to, visible_submission_or_404
from submissions.services import TaskUpload, submit_task, withdraw_submission
from tests.factories import ANSWERS, PASSWORD, UserFactory, make_task_csv

pytestmark = pytest.mark.django_db


def session_queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries if "django_session" in q["sql"]]


def signed_in(client: Client, user) -> str:
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_session_is_read_from_the_cache_and_signing_out_ends_it(client, alice):
    key = signed_in(client, alice)
    dashboard = reverse("dashboard")
    assert session_queries(client, dashboard) == []  # the copy that signing in put in the cache
    cache.delete(
        sessions.SessionStore.cache_key_prefix + key
    )  # lost (evicted, Redis restarted): read from the database, copied
    assert len(session_queries(client, dashboard)) == 1
    assert session_queries(client, dashboard) == []

    client.post(reverse("account_logout"))
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get(dashboard).status_code == 302  # the old cookie is no one's: to the sign-in page


def test_a_cached_session_keeps_no_deactivated_account_or_changed_password_signed_in(client, alice, bob):
    dashboard = reverse("dashboard")
    signed_in(client, alice)
    assert client.get(dashboard).status_code == 200
    alice.is_active = False
    alice.save()
    assert client.get(dashboard).status_code == 302

    other = Client()
    signed_in(other, bob)
    assert other.get(dashboard).status_code == 200
    bob.set_password("a new password, set elsewhere")
    bob.save()
    assert other.get(dashboard).status_code == 302


def test_a_sessions_copy_lives_at_most_cached_for(client, alice, monkeypatch):
    timeouts = []
    real_set = cache.set

    def recording_set(key, value, timeout=None, **kwargs):
        if key.startswith(sessions.SessionStore.cache_key_prefix):
            timeouts.append(timeout)
        return real_set(key, value, timeout, **kwargs)

    monkeypatch.setattr(cache, "set", recording_set)
    signed_in(client, alice)  # a session of two weeks (SESSION_COOKIE_AGE)
    client.get(reverse("dashboard"))
    assert settings.SESSION_COOKIE_AGE > sessions.CACHED_FOR
    assert timeouts and set(timeouts) == {sessions.CACHED_FOR}


def test_while_the_cache_is_down_signed_in_users_go_on_and_signing_in_waits_with_a_clear_page(client, alice):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: every cache call is refused
    down = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    with override_settings(CACHES=down):
        key = signed_in(client, alice)
        assert client.get(reverse("dashboard")).status_code == 200
        client.post(reverse("account_logout"))

        # Signing in counts attempts in the cache (no guessing passwords uncounted): a page that says to wait.
        other = Client()
        response = other.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
        assert response.status_code == 503
        assert response["Retry-After"] == "60"
        assert "Please try again in a minute" in response.content.decode()
        assert (
            not other.cookies.get(settings.SESSION_COOKIE_NAME)
            or other.get(reverse("dashboard")).status_code == 302
        )

    replay = Client()  # the cache is back: nothing in it signs the old cookie in
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get(reverse("dashboard")).status_code == 302
    response = Client().post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_roles_and_team_are_read_together_in_one_query(alice, olga, django_assert_num_queries):
    grant_role(user=olga, role=Role.REVIEWER)
    olga.groups.add(Group.objects.create(name="newsletter"))  # a group that is no role of the contest
    for user, roles, team in (
        (alice, {"contestant"}, alice.membership.team),
        (olga, {"organizer", "reviewer"}, None),
    ):
        fresh = type(user).objects.get(pk=user.pk)
        with django_assert_num_queries(1):
            assert roles_of(fresh) == roles
            assert team_of(fresh) == team
        if team is not None:
            assert team_of(fresh).name == team.name and team_of(fresh).created_at == team.created_at


def test_a_submission_is_found_for_exactly_those_who_may_see_it(
    alice, bob, charlie, rita, reviewers, olga, open_round
):
    def submit(user, name):
        upload = TaskUpload(name=f"{name}.csv", data=make_task_csv(300))
        return submit_task(user=user, round=open_round, answers={**ANSWERS, "task_name": name}, upload=upload)

    submissions = [
        submit(u, name).submission
        for u, name in ((alice, "Assigned"), (alice, "Withdrawn"), (charlie, "Unassigned"))
    ]
    assigned, withdrawn, _ = submissions
    for reviewer in (rita, reviewers[0]):
        assign_reviewer(submission=assigned, reviewer=reviewer, by=olga)
        assign_reviewer(submission=withdrawn, reviewer=reviewer, by=olga)
    declare_conflict(reviewer=reviewers[0], team=alice.membership.team)
    withdraw_submission(user=alice, submission=withdrawn)
    stranger = UserFactory(username="stranger")

    seen = {}
    for user in (alice, bob, charlie, rita, reviewers[0], reviewers[1], olga, stranger):
        expected = set(submissions_visible_to(user).values_list("pk", flat=True))
        found = set()
        for submission in Submission.objects.all():
            with contextlib.suppress(Http404):
                found.add(visible_submission_or_404(user, submission.pk, "round", "current_version").pk)
        assert found == expected, user.username
        seen[user.username] = found
        with pytest.raises(Http404):
            visible_submission_or_404(user, max(s.pk for s in submissions) + 1)
    # The matrix means something: each kind of viewer sees a different set.
    assert seen["alice"] == seen["bob"] == {s.pk for s in submissions[:2]}
    assert seen["rita"] == {assigned.pk}  # the withdrawn one is no longer reviewed
    assert seen["olga"] == {s.pk for s in submissions}
    assert seen["stranger"] == seen["reviewer1"] == set()


def test_the_navigation_is_each_viewers_own_with_their_own_sign_out_token(alice, bob, rita, olga):
    home = reverse("home")
    assert "Sign in" in Client().get(home).content.decode()
    for user, shown, not_shown in (
        (alice, ["Team", "My submissions", ">contestant<"], ["People", "Conflicts of interest"]),
        (bob, ["Team", "My submissions"], ["People"]),
        (rita, ["Conflicts of interest", "Assigned reviews", ">reviewer<"], ["People", ">Team<"]),
        (olga, ["People", "Manage contest", "All submissions", ">organizer<"], ["Conflicts of interest"]),
    ):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        for _ in range(2):  # the second from the kept rendering
            html = client.get(home).content.decode()
            nav = html[html.index('<nav class="navbar') : html.index("</nav>")]
            assert f"\n              {user.username}\n" in nav
            assert all(text in nav for text in shown), user.username
            assert not any(text in nav for text in not_shown), user.username
        token = nav.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        assert client.post(reverse("account_logout"), {"csrfmiddlewaretoken": token}).status_code == 302
        assert client.get(reverse("dashboard")).status_code == 302  # signed out by the nav's own form

    grant_role(user=rita, role=Role.ORGANIZER)  # a new role shows on the next page
    client = Client()
    client.force_login(rita)
    assert "People" in client.get(home).content.decode()


def test_every_cache_call_goes_through_one_redis_client():
    backend = cache._cache  # the thread's RedisCacheClient (config/cache.py)
    cache.set("one-client", "read back", 60)
    client = backend.get_client(write=True)
    assert backend.get_client() is client is backend.get_client("any key", write=True)
    assert cache.get("one-client") == "read back"
    assert backend.get_client() is client
