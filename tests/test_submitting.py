"""Submitting a task: the form, validation beside the file field, immutable versions stored under their sha256."""

import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from submissions.models import Submission, SubmissionVersion
from submissions.services import TaskFileInvalid, TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv

pytestmark = pytest.mark.django_db


def _post(client, url, data: bytes | None, name="task.csv", **answers):
    payload = {**ANSWERS, **answers}
    if data is not None:
        payload["task_file"] = SimpleUploadedFile(name, data, content_type="text/csv")
    return client.post(url, payload)


def test_a_contestant_submits_a_valid_task_and_lands_on_its_page(client, alice, open_round, valid_csv):
    client.force_login(alice)
    response = _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv)
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("submission_detail", args=[submission.pk])
    version = submission.current_version
    assert (version.number, version.example_count, version.task_name) == (1, 300, "Even or odd")
    assert version.sha256 == hashlib.sha256(valid_csv).hexdigest()
    assert version.task_file.name == f"tasks/{version.sha256[:2]}/{version.sha256}.csv"
    with default_storage.open(version.task_file.name, "rb") as f:
        assert f.read() == valid_csv
    page = client.get(response.url).content.decode()
    assert "is submitted to Round 1 with 300 examples" in page
    assert "Question 0: is 0 even?" in page  # the preview of the first examples


def test_a_broken_csv_shows_each_problem_beside_the_file_field_and_keeps_the_answers(
    client, alice, open_round
):
    client.force_login(alice)
    bad = (
        make_task_csv(300)
        .replace(b"""[' Yes', ' No']",1""", b"""[' Yes' ' No']",1""", 1)
        .replace(b",0\n", b",7\n", 1)
    )
    response = _post(
        client, reverse("submission_create", args=[open_round.pk]), bad, description="My careful description"
    )
    assert response.status_code == 200
    errors = response.context["form"].errors["task_file"]
    assert any(e.startswith("row 2, column answer_index:") for e in errors), errors
    assert any(e.startswith("row 3, column classes:") for e in errors), errors
    html = response.content.decode()
    assert "My careful description" in html  # what the contestant typed is still in the form
    assert 'id="id_task_file_errors"' in html
    assert "Nothing was saved" in html and 'href="#id_task_file"' in html
    assert not Submission.objects.exists()


def test_an_upload_with_too_few_examples_names_the_rounds_minimum(client, alice, open_round):
    client.force_login(alice)
    response = _post(client, reverse("submission_create", args=[open_round.pk]), make_task_csv(120))
    assert response.context["form"].errors["task_file"] == [
        "file: 120 examples, but at least 300 are required"
    ]


def test_a_missing_answer_is_reported_beside_its_field(client, alice, open_round, valid_csv):
    client.force_login(alice)
    response = _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv, importance="")
    assert response.status_code == 200
    assert "importance" in response.context["form"].errors
    assert not Submission.objects.exists()


def test_editing_creates_a_new_version_and_keeps_the_old_one(client, alice, bob, open_round, valid_csv):
    client.force_login(alice)
    _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv)
    submission = Submission.objects.get()
    client.force_login(bob)  # a teammate edits the team's submission
    new_csv = make_task_csv(301)
    response = _post(
        client, reverse("submission_edit", args=[submission.pk]), new_csv, task_name="Even or odd v2"
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    v1, v2 = submission.versions.order_by("number")
    assert (v1.task_name, v1.example_count, v1.created_by) == ("Even or odd", 300, alice)
    assert (v2.task_name, v2.example_count, v2.created_by) == ("Even or odd v2", 301, bob)
    assert submission.current_version == v2
    with v1.task_file.open("rb") as f:
        assert f.read() == valid_csv
    page = client.get(reverse("submission_detail", args=[submission.pk])).content.decode()
    assert "Version 1" in page and "Version 2" in page
    old = client.get(reverse("version_detail", args=[submission.pk, 1])).content.decode()
    assert "older version" in old and "Even or odd v2" not in old.split("<h1")[1].split("</h1>")[0]


def test_editing_without_a_new_file_keeps_the_file_and_revalidates_it_for_the_new_metric(
    client, alice, open_round, valid_csv
):
    client.force_login(alice)
    _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv)
    submission = Submission.objects.get()
    edit = reverse("submission_edit", args=[submission.pk])
    response = _post(client, edit, None, task_name="Renamed")
    assert response.status_code == 302
    v2 = submission.versions.get(number=2)
    assert v2.sha256 == submission.versions.get(number=1).sha256
    response = _post(client, edit, None, metric="sequence_prob")
    assert response.status_code == 200
    assert any("completion" in e for e in response.context["form"].errors["task_file"])
    assert submission.versions.count() == 2


def test_the_same_file_is_stored_once_however_often_it_is_submitted(alice, charlie, open_round, valid_csv):
    for user in (alice, charlie):
        submit_task(
            user=user, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )
    names = set(SubmissionVersion.objects.values_list("task_file", flat=True))
    assert len(names) == 1
    folder = names.pop().rsplit("/", 1)[0]
    assert len(default_storage.listdir(folder)[1]) == 1


def test_the_service_refuses_an_invalid_file_with_its_report(alice, open_round):
    with pytest.raises(TaskFileInvalid) as refused:
        submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "metric": "logodds"},
            upload=TaskUpload(name="a.csv", data=make_task_csv(300)),
        )
    assert any("other_prompt" in str(p) for p in refused.value.report.errors)


def test_a_reviewer_is_refused_by_the_server_not_only_the_page(client, rita, open_round, valid_csv):
    with pytest.raises(PermissionDenied, match="Reviewers cannot submit"):
        submit_task(
            user=rita, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )
    client.force_login(rita)
    page = client.get(reverse("submission_create", args=[open_round.pk]))
    assert page.status_code == 403
    assert page.content.decode().count("Reviewers cannot submit tasks") == 1  # once: no flash beside it
    response = _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv)
    assert response.status_code == 403
    assert not Submission.objects.exists()


def test_a_contestant_who_becomes_a_reviewer_can_no_longer_submit(alice, open_round, valid_csv):
    from accounts.models import Role
    from accounts.services import grant_role

    grant_role(user=alice, role=Role.REVIEWER)
    with pytest.raises(PermissionDenied, match="Reviewers cannot submit"):
        submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )


def test_another_team_cannot_add_a_version_through_the_service(alice, charlie, open_round, valid_csv):
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
    )
    with pytest.raises(PermissionDenied):
        submit_task(
            user=charlie, round=open_round, answers=ANSWERS, upload=None, submission=version.submission
        )
    assert version.submission.versions.count() == 1


def test_an_oversized_upload_is_refused_with_the_limit(client, alice, open_round, settings):
    settings.MAX_UPLOAD_MB = 0
    client.force_login(alice)
    response = _post(client, reverse("submission_create", args=[open_round.pk]), make_task_csv(300))
    assert "the limit of 0 MB" in response.context["form"].errors["task_file"][0]


def test_the_metric_choices_are_the_validators(db):
    from contest.rules import METRICS
    from submissions.models import Metric

    assert tuple(Metric.values) == METRICS


def test_every_team_member_gets_a_receipt_by_email(
    alice, bob, open_round, valid_csv, django_capture_on_commit_callbacks
):
    from django.core import mail

    with django_capture_on_commit_callbacks(execute=True):
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    message = mail.outbox[0]
    assert message.subject == "Received: “Even or odd”, version 1 (Round 1)"
    assert f"/submissions/{version.submission.pk}/" in message.body
    assert "300 examples" in message.alternatives[0][0]


def _summary(page: str) -> str:
    return page.split('id="form-errors"', 1)[1].split("</ul>", 1)[0]


def test_the_alert_at_the_top_links_to_each_field_it_is_about(client, alice, open_round, valid_csv):
    client.force_login(alice)
    url = reverse("submission_create", args=[open_round.pk])
    page = _post(client, url, valid_csv, importance="", license="").content.decode()
    summary = _summary(page)
    assert "Nothing was saved" in summary
    assert 'href="#id_importance"' in summary and "Why is the task important?" in summary
    assert 'id="id_importance"' in page  # the link reaches the control itself
    license_target = "id_license_0" if 'id="id_license_0"' in page else "id_license"
    assert f'href="#{license_target}"' in summary

    page = _post(client, url, valid_csv.replace(b"answer_index", b"answer_idx", 1)).content.decode()
    summary = _summary(page)
    assert 'href="#id_task_file"' in summary and "Task file" in summary
    assert 'id="id_task_file"' in page
    assert not Submission.objects.exists()
