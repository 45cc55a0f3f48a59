"""A team withdraws a submission before the deadline: kept for the record, hidden from its reviewers, not edited
or evaluated further; undone until the deadline; refused after it."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from evaluation import services as evaluation_services
from evaluation.models import EvaluationRun
from submissions.models import Submission
from submissions.services import TaskUpload, reinstate_submission, submit_task, withdraw_submission
from tests.factories import ANSWERS, UserFactory
from tests.runs_support import public_and_private_series

pytestmark = pytest.mark.django_db


@pytest.fixture
def submission(alice, bob, open_round, valid_csv, django_capture_on_commit_callbacks):
    public_and_private_series((1_000, 10_000))
    with django_capture_on_commit_callbacks(execute=False):  # no worker: runs stay queued
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    return version.submission


@pytest.fixture
def rhea(olga, submission):
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer

    user = UserFactory(username="rhea")
    grant_role(user=user, role=Role.REVIEWER)
    assign_reviewer(submission=submission, reviewer=user, by=olga)
    return user


def test_a_teammate_confirms_then_withdraws_with_a_reason_and_who_and_when_are_recorded(
    client, alice, bob, submission
):
    client.force_login(bob)
    url = reverse("submission_withdraw", args=[submission.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Withdraw the submission" in confirm.content.decode()
    submission.refresh_from_db()
    assert submission.withdrawn_at is None  # the GET only asks

    page = client.post(url, {"reason": "We found a bug in our labels."}, follow=True)
    submission.refresh_from_db()
    assert submission.withdrawn_by == bob and submission.withdrawn_at is not None
    assert submission.withdrawal_reason == "We found a bug in our labels."
    assert Submission.objects.filter(pk=submission.pk).exists() and submission.versions.count() == 1
    html = page.content.decode()
    assert "Withdrawn" in html and "We found a bug in our labels." in html and "by bob" in html

    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Withdrawn" in dashboard and submission.current_version.task_name in dashboard


def test_a_withdrawn_submission_cannot_be_edited_and_the_edit_page_says_why(client, alice, submission):
    withdraw_submission(user=alice, submission=submission)
    client.force_login(alice)
    response = client.get(reverse("submission_edit", args=[submission.pk]), follow=True)
    assert response.redirect_chain[-1][0] == submission.get_absolute_url()
    assert "was withdrawn on" in response.content.decode()
    assert "Edit (new version)" not in response.content.decode()
    with pytest.raises(PermissionDenied, match="withdrawn"):
        submit_task(
            user=alice,
            round=submission.round,
            answers={**ANSWERS, "task_name": "Renamed"},
            upload=None,
            submission=submission,
        )


def test_reviewers_no_longer_see_a_withdrawn_submission_but_organizers_do(
    client, alice, rhea, olga, submission
):
    client.force_login(rhea)
    assert client.get(submission.get_absolute_url()).status_code == 200
    withdraw_submission(user=alice, submission=submission)
    assert client.get(submission.get_absolute_url()).status_code == 404
    assert client.get(reverse("version_download", args=[submission.pk, 1])).status_code == 404
    assert submission.current_version.task_name not in client.get(reverse("dashboard")).content.decode()

    client.force_login(olga)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert "Withdrawn" in page and "by alice" in page
    assert "Withdrawn" in client.get(reverse("dashboard")).content.decode()
    admin = client.get(reverse("admin:submissions_submission_change", args=[submission.pk]))
    assert admin.status_code == 200 and "Withdrawn at" in admin.content.decode()


def test_queued_runs_of_a_withdrawn_submission_are_not_started_nor_sent_again(alice, submission, settings):
    run = EvaluationRun.objects.filter(version=submission.current_version).first()
    withdraw_submission(user=alice, submission=submission)
    assert evaluation_services.claim_run(run_id=run.pk, worker="w") is None
    run.refresh_from_db()
    assert run.status == "queued" and run.attempts == 0
    later = run.sent_at + dt.timedelta(seconds=settings.EVALUATION_QUEUED_RESEND_SECONDS + 1)
    assert evaluation_services.resend_queued_runs(now=later) == 0

    reinstate_submission(user=alice, submission=submission)
    assert evaluation_services.resend_queued_runs(now=later) == 4  # every model of both series
    assert evaluation_services.claim_run(run_id=run.pk, worker="w") is not None


def test_withdrawal_is_undone_before_the_deadline_and_refused_after_it(
    client, alice, bob, charlie, submission
):
    with pytest.raises(PermissionDenied, match="Only members of the submitting team"):
        withdraw_submission(user=charlie, submission=submission)
    withdraw_submission(user=alice, submission=submission)
    client.force_login(bob)
    page = client.post(reverse("submission_reinstate", args=[submission.pk]), follow=True).content.decode()
    submission.refresh_from_db()
    assert submission.withdrawn_at is None and "no longer withdrawn" in page

    round = submission.round
    round.deadline = dt.date.today() - dt.timedelta(days=3)
    round.save()
    response = client.post(reverse("submission_withdraw", args=[submission.pk]), follow=True)
    assert "can no longer be withdrawn after the deadline" in response.content.decode()
    submission.refresh_from_db()
    assert submission.withdrawn_at is None


def test_two_teammates_withdrawing_at_once_keep_the_first_record(alice, bob, submission):
    bob = type(bob).objects.get(pk=bob.pk)  # the fixture's object still remembers the team bob left
    stale = Submission.objects.get(pk=submission.pk)
    withdraw_submission(user=alice, submission=submission, reason="first")
    with pytest.raises(PermissionDenied, match="already withdrawn"):
        withdraw_submission(user=bob, submission=Submission.objects.get(pk=submission.pk), reason="second")
    # bob's page was loaded before alice withdrew: the compare-and-set keeps alice's record.
    withdraw_submission(user=bob, submission=stale, reason="second")
    submission.refresh_from_db()
    assert (submission.withdrawn_by, submission.withdrawal_reason) == (alice, "first")
