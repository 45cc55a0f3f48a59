"""The rules' optional questions (few-shot conditioning, fine-tuning, RLHF models): offered on the form, kept with
each version, shown with the other answers to the team and to reviewers, and counted in what changed."""

import functools

import pytest
from django.urls import reverse

from evaluation.services import _send
from submissions.models import Submission
from tests.factories import ANSWERS, UserFactory
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

OPTIONAL = {
    "few_shot": "Yes: it persists with 4 examples and vanishes with 32.",
    "fine_tuning": "Untested; the trap is in the prompt, so we expect it to persist.",
    "rlhf": "It persists on the RLHF models we tried.",
}


def _post(client, url, data: bytes | None = None, **answers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    payload = {**ANSWERS, **answers}
    if data is not None:
        payload["task_file"] = SimpleUploadedFile("task.csv", data, content_type="text/csv")
    return client.post(url, payload)


def test_the_form_offers_the_optional_questions_in_the_rules_words(client, alice, open_round):
    client.force_login(alice)
    page = client.get(reverse("submission_create", args=[open_round.pk])).content.decode()
    assert "Optional questions" in page
    for words in (
        "Does inverse scaling persist even if the model is conditioned with few-shot examples to behave correctly?",
        "how many examples are required for that?",
        "Does inverse scaling persist even after fine-tuning on the task?",
        "Are there good reasons to think it would persist after fine-tuning?",
        "Reinforcement Learning from Human Feedback (RLHF)",
    ):
        assert words in page
    for name in OPTIONAL:
        assert f'name="{name}"' in page


def test_optional_answers_are_kept_with_the_version_and_shown_with_the_others(
    client, alice, open_round, valid_csv
):
    client.force_login(alice)
    response = _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv, **OPTIONAL)
    assert response.status_code == 302
    version = Submission.objects.get().current_version
    assert {name: getattr(version, name) for name in OPTIONAL} == OPTIONAL
    page = client.get(version.submission.get_absolute_url()).content.decode()
    for text in OPTIONAL.values():
        assert text in page
    assert "Does inverse scaling persist for RLHF models?" in page


def test_optional_questions_may_be_left_empty(client, alice, open_round, valid_csv):
    client.force_login(alice)
    assert _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv).status_code == 302
    version = Submission.objects.get().current_version
    assert (version.few_shot, version.fine_tuning, version.rlhf) == ("", "", "")
    page = client.get(version.submission.get_absolute_url()).content.decode()
    assert "Not answered (few-shot conditioning, fine-tuning, RLHF models)." in page


def test_answering_an_optional_question_later_is_a_change_of_answers_that_keeps_the_results(
    client, alice, open_round, valid_csv, django_capture_on_commit_callbacks
):
    public_and_private_series((1_000_000, 10_000_000))
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=False):
        _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv)
    first = Submission.objects.get().current_version
    rows = list(range(2, 302))
    for run in first.runs.all():
        finish_run(run, rows=rows, values=[0.5 + (r % 7) / 100 for r in rows])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(
            client, reverse("submission_edit", args=[first.submission.pk]), rlhf=OPTIONAL["rlhf"]
        )
    assert response.status_code == 302
    second = Submission.objects.get().current_version
    assert second.changes == {"answers": ["rlhf"]}
    assert second.changes_described() == ["answers: RLHF question"]
    assert [c for c in callbacks if isinstance(c, functools.partial) and c.func is _send] == []
    assert second.runs.filter(status="succeeded").count() == 4
    # The edit form starts from the current answers, the optional ones included.
    form = client.get(reverse("submission_edit", args=[first.submission.pk])).context["form"]
    assert form.initial["rlhf"] == OPTIONAL["rlhf"]


def test_the_assigned_reviewer_reads_the_optional_answers_on_the_review_page(
    client, alice, olga, open_round, valid_csv
):
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer

    client.force_login(alice)
    _post(client, reverse("submission_create", args=[open_round.pk]), valid_csv, **OPTIONAL)
    submission = Submission.objects.get()
    rhea = UserFactory(username="rhea")
    grant_role(user=rhea, role=Role.REVIEWER)
    assign_reviewer(submission=submission, reviewer=rhea, by=olga)
    client.force_login(rhea)
    page = client.get(reverse("review_page", args=[submission.pk])).content.decode()
    for text in OPTIONAL.values():
        assert text in page
    assert "Alice Example" not in page  # still blind
