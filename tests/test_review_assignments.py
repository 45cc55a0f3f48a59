"""Organizers assign reviewers; a reviewer sees an assigned submission blind, with every series' evidence."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import Role
from accounts.services import grant_role
from evaluation.models import LanguageModel, ModelSeries
from reviews.services import assign_reviewer
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    private = ModelSeries.objects.create(name="Secret Lab", visibility="private")
    LanguageModel.objects.create(series=private, name="secret-0", parameter_count=10, location="/nowhere")
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "authors": "Alice Example"},
            upload=TaskUpload(name="alice-secret-task.csv", data=valid_csv),
        )
    return version.submission


def test_an_assigned_reviewer_sees_the_submission_blind_with_private_series(client, rita, olga, submission):
    assign_reviewer(submission=submission, reviewer=rita, by=olga)
    client.force_login(rita)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Even or odd" in dashboard and "Team alice" not in dashboard
    page = client.get(reverse("submission_detail", args=[submission.pk])).content.decode()
    assert "Even or odd" in page
    for secret in ("Alice Example", "Team alice", "alice-secret-task.csv", "by alice"):
        assert secret not in page
    assert "hidden for blind review" in page
    assert "Secret Lab" in page  # reviewers judge generality on the private models too
    download = client.get(reverse("version_download", args=[submission.pk, 1]))
    assert download.status_code == 200
    assert "alice" not in download["Content-Disposition"]
    assert client.get(reverse("submission_edit", args=[submission.pk])).status_code == 302  # read, not write


def test_an_unassigned_reviewer_sees_nothing(client, rita, submission):
    client.force_login(rita)
    assert client.get(reverse("submission_detail", args=[submission.pk])).status_code == 404
    assert "No submission is assigned to you yet" in client.get(reverse("dashboard")).content.decode()


def test_a_reviewer_in_the_submitting_team_cannot_be_assigned(bob, olga, submission):
    grant_role(user=bob, role=Role.REVIEWER)
    with pytest.raises(ValidationError, match="conflict of interest"):
        assign_reviewer(submission=submission, reviewer=bob, by=olga)


def test_only_reviewers_are_assigned_and_only_by_organizers(alice, charlie, rita, olga, submission):
    with pytest.raises(ValidationError, match="is not a reviewer"):
        assign_reviewer(submission=submission, reviewer=charlie, by=olga)
    with pytest.raises(PermissionDenied):
        assign_reviewer(submission=submission, reviewer=rita, by=alice)


def test_the_admin_refuses_a_conflicted_assignment_beside_the_field(client, bob, olga, submission):
    grant_role(user=bob, role=Role.REVIEWER)
    client.force_login(olga)
    response = client.post(
        reverse("admin:reviews_assignment_add"), {"submission": submission.pk, "reviewer": bob.pk}
    )
    assert response.status_code == 200
    assert "conflict of interest" in response.content.decode()


def test_the_admin_assigns_through_the_service_which_records_who_assigned(client, rita, olga, submission):
    from reviews.models import Assignment

    client.force_login(olga)
    response = client.post(
        reverse("admin:reviews_assignment_add"), {"submission": submission.pk, "reviewer": rita.pk}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assignment = Assignment.objects.get()
    assert (assignment.reviewer, assignment.assigned_by) == (rita, olga)
    # Made or removed, never edited into another assignment (which would skip the conflict checks).
    change = client.post(
        reverse("admin:reviews_assignment_change", args=[assignment.pk]),
        {"submission": submission.pk, "reviewer": olga.pk},
    )
    assert change.status_code == 403
    assert Assignment.objects.get().reviewer == rita


def test_the_admin_releases_a_series_through_the_service(client, olga, submission):
    from evaluation.models import SeriesRelease

    private = ModelSeries.objects.get(name="Secret Lab")
    client.force_login(olga)
    response = client.post(
        reverse("admin:evaluation_seriesrelease_add"), {"series": private.pk, "round": submission.round_id}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    release = SeriesRelease.objects.get()
    assert (release.series, release.round, release.released_by) == (private, submission.round, olga)
