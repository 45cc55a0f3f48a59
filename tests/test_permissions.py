"""Who may open which page: anonymous, the owner, a teammate, another team, a reviewer, an organizer."""

import pytest
from django.urls import reverse

from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, make_task_csv

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def people(alice, bob, charlie, rita, olga):
    return {"anonymous": None, "alice": alice, "bob": bob, "charlie": charlie, "rita": rita, "olga": olga}


@pytest.fixture
def submission(alice, open_round, valid_csv):
    return submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    ).submission


# Expected status per person; "login" means a redirect to the login page.
MATRIX = {
    "home": ({}, dict(anonymous=200, alice=200, bob=200, charlie=200, rita=200, olga=200)),
    "dashboard": ({}, dict(anonymous="login", alice=200, bob=200, charlie=200, rita=200, olga=200)),
    "team": ({}, dict(anonymous="login", alice=200, bob=200, charlie=200, rita=200, olga=200)),
    "submission_create": (
        {"round": True},
        dict(anonymous="login", alice=200, bob=200, charlie=200, rita=403, olga=403),
    ),
    "submission_detail": (
        {"submission": True},
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, olga=200),
    ),
    "version_detail": (
        {"submission": True, "number": 1},
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, olga=200),
    ),
    "version_download": (
        {"submission": True, "number": 1},
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, olga=200),
    ),
    # An organizer may read every submission but not edit a team's task: they are sent back to it.
    "submission_edit": (
        {"submission": True},
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, olga=302),
    ),
}


def _url(name, spec, submission, open_round):
    args = []
    if spec.get("round"):
        args.append(open_round.pk)
    if spec.get("submission"):
        args.append(submission.pk)
    if "number" in spec:
        args.append(spec["number"])
    return reverse(name, args=args)


@pytest.mark.parametrize("view", list(MATRIX))
@pytest.mark.parametrize("who", ["anonymous", "alice", "bob", "charlie", "rita", "olga"])
def test_view_permissions(client, people, submission, open_round, view, who):
    spec, expected = MATRIX[view]
    if people[who]:
        client.force_login(people[who])
    response = client.get(_url(view, spec, submission, open_round))
    want = expected[who]
    if want == "login":
        assert response.status_code == 302 and response.url.startswith(LOGIN)
    else:
        assert response.status_code == want


def test_another_team_cannot_post_a_new_version(client, charlie, submission):
    client.force_login(charlie)
    response = client.post(
        reverse("submission_edit", args=[submission.pk]), {**ANSWERS, "task_name": "Hijacked"}
    )
    assert response.status_code == 404
    assert submission.versions.count() == 1


def test_the_dashboard_lists_only_the_teams_submissions(client, alice, bob, charlie, open_round, valid_csv):
    submit_task(
        user=charlie,
        round=open_round,
        answers={**ANSWERS, "task_name": "Charlie's task"},
        upload=TaskUpload(name="c.csv", data=valid_csv),
    )
    submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
    )
    client.force_login(bob)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Even or odd" in html
    assert "Charlie&#x27;s task" not in html and "Charlie's task" not in html


def test_the_organizer_dashboard_lists_every_team(client, alice, charlie, olga, open_round, valid_csv):
    for user in (alice, charlie):
        submit_task(
            user=user, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )
    client.force_login(olga)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Team alice" in html and "Team charlie" in html


@pytest.mark.parametrize("view", ["dashboard_contestant", "dashboard_organizer"])
def test_dashboards_make_a_constant_number_of_queries(
    client, olga, open_round, django_assert_max_num_queries, view
):
    data = make_task_csv(300)
    users = [ContestantFactory(username=f"c{i}") for i in range(6)]
    viewer = olga if view == "dashboard_organizer" else users[0]
    client.force_login(viewer)

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("dashboard")).status_code == 200
        return len(ctx.captured_queries)

    submit_task(user=users[0], round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=data))
    few = count_queries()
    for user in users:
        for _ in range(2):
            submit_task(
                user=user, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=data)
            )
    assert count_queries() == few


def test_a_missing_or_foreign_page_explains_itself_in_the_site_layout(client, charlie):
    client.force_login(charlie)
    response = client.get("/submissions/999999/")
    assert response.status_code == 404
    assert "belongs to another team" in response.content.decode()
