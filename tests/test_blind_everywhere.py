"""Nothing an assigned reviewer receives names the authors: not the pages, the JSON, the CSV, the chart images
(their metadata included) or the file's download name."""

import re

import pytest
from django.urls import reverse

from contest import rubric
from evaluation.evidence import precompute_evidence
from reviews.services import ReviewAnswers, assign_reviewer, save_review
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))
# Who submitted, in every form it could leak: the authors' answer, the team, the uploader, the file's name.
SECRETS = ("Zelda Quintessa", "Team zquint", "zquint", "zelda-secret-task")


@pytest.fixture
def judged(open_round, rita, olga, django_capture_on_commit_callbacks):
    author = ContestantFactory(username="zquint", email="zquint@uni.example")
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=author,
            round=open_round,
            answers={**ANSWERS, "authors": "Zelda Quintessa (Uni Example)"},
            upload=TaskUpload(name="zelda-secret-task.csv", data=make_task_csv(300)),
        )
    public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    from evaluation.services import enqueue_runs

    with django_capture_on_commit_callbacks(execute=False):
        enqueue_runs(version=version)
    for run in version.runs.select_related("model"):
        finish_run(
            run, rows=ROWS, values=[0.5 + run.model.parameter_count / 1e9 + (r % 7) / 100 for r in ROWS]
        )
    precompute_evidence(version_id=version.pk)
    assignment = assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    save_review(
        assignment=assignment,
        user=rita,
        answers=ReviewAnswers(levels=dict.fromkeys(rubric.CRITERIA_KEYS, "accepted"), suggested_tier="third"),
        submit=True,
    )
    return version


def _assert_blind(what: str, body: bytes | str) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{what} names {secret!r}"


def test_nothing_a_reviewer_receives_names_the_authors(client, rita, judged):
    pk, n = judged.submission_id, judged.number
    client.force_login(rita)
    responses = {
        "review page": reverse("review_page", args=[pk]),
        "version page": reverse("submission_detail", args=[pk]),
        "spot-check": reverse("spot_check", args=[pk]),
        "examples page": reverse("examples_drill_down", args=[pk, n]),
        "status JSON": reverse("evaluation_status", args=[pk, n]),
        "evidence fragment": reverse("evidence_fragment", args=[pk, n]),
        "results CSV": reverse("results_csv", args=[pk, n]),
        "results JSON": reverse("results_json", args=[pk, n]),
        "an example": reverse("version_example", args=[pk, n, 2]),
        "dashboard": reverse("dashboard"),
    }
    for what, url in responses.items():
        response = client.get(url)
        assert response.status_code == 200, what
        _assert_blind(what, response.content)
    download = client.get(reverse("version_download", args=[pk, n]))
    _assert_blind("the download's name", download["Content-Disposition"])
    _assert_blind("the downloaded file", b"".join(download.streaming_content))

    # The same pages name them to the authors themselves: the secrets are real, the checks above can fail.
    client.force_login(judged.created_by)
    own = client.get(reverse("submission_detail", args=[pk])).content.decode()
    assert "Zelda Quintessa" in own and "zelda-secret-task" in own and "Team zquint" in own


@pytest.mark.slow
def test_a_chart_image_and_its_metadata_do_not_name_the_authors(client, rita, judged):
    """Rendered for real (Debian's chromium): the PNG's text chunks hold at most the task's title."""
    series_id = judged.runs.filter(model__series__visibility="private").first().model.series_id
    client.force_login(rita)
    response = client.get(
        reverse("figure_png", args=[judged.submission_id, judged.number, series_id, "scaling"])
    )
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    _assert_blind("the PNG's name", response["Content-Disposition"])
    chunks = re.findall(rb"(tEXt|iTXt|zTXt)(.{0,2000}?)\x00", response.content, re.S)
    _assert_blind("the PNG's text chunks", b" ".join(body for _, body in chunks))
    _assert_blind("the PNG", response.content)
