"""The results e-mail: once every public run of a version has finished, the team gets the public verdicts, the
charts and a link, exactly once; private series are never mentioned."""

import logging
import threading

import pytest
from django.core import mail
from django.db import transaction

from evaluation.models import EvaluationRun, ResultsEmail
from evaluation.plots import PngExportUnavailable
from evaluation.services import announce_results_if_finished, claim_results_email, claim_run, fail_run
from submissions.services import TaskUpload, submit_task
from tests.conftest import DEMO_TASKS
from tests.factories import ANSWERS
from tests.runs_support import finish_run, in_thread, public_and_private_series, wait_for

ROWS = list(range(2, 302))


@pytest.fixture
def version(alice, bob, open_round, valid_csv, django_capture_on_commit_callbacks):
    public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def _finish_all(version, *, except_model: str | None = None) -> None:
    for run in version.runs.select_related("model"):
        if run.model.name == except_model:
            continue
        if run.model.name == "open-0":
            fail_run(run_id=run.pk, token=claim_run(run_id=run.pk, worker="t"), reason="Context too short")
            continue
        # Larger models do worse on every example: inverse scaling.
        values = [0.5 + run.model.parameter_count / 1e8 + (row % 7) / 100 for row in ROWS]
        finish_run(run, rows=ROWS, values=values)


@pytest.fixture
def png(monkeypatch):
    """Kaleido is not under test here: any figure becomes a tiny image."""
    monkeypatch.setattr("evaluation.plots.figure_png", lambda fig, **size: b"\x89PNG\r\n\x1a\nfake")


@pytest.mark.django_db
def test_the_team_gets_one_email_each_with_public_verdicts_charts_and_a_link(
    version, png, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://prize.example.org"
    _finish_all(version, except_model="open-2")
    with django_capture_on_commit_callbacks(execute=True):
        assert announce_results_if_finished(version_id=version.pk) is False  # a public run is still queued
    assert mail.outbox == []

    _finish_all(version, except_model="open-0")
    with django_capture_on_commit_callbacks(execute=True):
        assert announce_results_if_finished(version_id=version.pk) is True
        assert announce_results_if_finished(version_id=version.pk) is False  # claimed once
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    url = f"https://prize.example.org/submissions/{version.submission_id}/v1/"
    for text in (message.body, html):
        assert "Open Models" in text and "Secret Lab" not in text and "secret-" not in text
        assert "inverse scaling" in text and url in text
        assert "Failed: open-0" in text
        assert "https://prize.example.org/help/trend-verdicts/#inverse-scaling" in text
    assert "inverse scaling" in message.subject
    assert [(name, kind) for name, _, kind in message.attachments] == [
        ("open-models-scaling.png", "image/png"),
        ("open-models-accuracy.png", "image/png"),
    ]
    record = ResultsEmail.objects.get(version=version)
    assert record.sent_at is not None and record.with_charts is True


@pytest.mark.django_db
def test_without_chromium_the_email_goes_without_images_and_says_so_in_the_log(
    version, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def unavailable(fig, **size):
        raise PngExportUnavailable("no Chromium or Chrome found")

    monkeypatch.setattr("evaluation.plots.figure_png", unavailable)
    _finish_all(version)
    with caplog.at_level(logging.WARNING), django_capture_on_commit_callbacks(execute=True):
        assert announce_results_if_finished(version_id=version.pk)
    assert len(mail.outbox) == 2 and mail.outbox[0].attachments == []
    assert "inverse scaling" in mail.outbox[0].body
    assert any(r.getMessage() == "results e-mail sent without chart images" for r in caplog.records)
    assert ResultsEmail.objects.get(version=version).with_charts is False


@pytest.mark.django_db
def test_no_email_for_a_version_superseded_before_its_runs_finished(
    version, alice, png, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        submit_task(
            user=alice,
            round=version.submission.round,
            answers={**ANSWERS, "task_name": "Renamed"},
            upload=None,
            submission=version.submission,
        )
    _finish_all(version)
    with django_capture_on_commit_callbacks(execute=True):
        assert announce_results_if_finished(version_id=version.pk) is False
    assert mail.outbox == []


@pytest.fixture
def unsent(monkeypatch):
    """No worker: runs are not sent when their version commits (a transactional test commits it)."""
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)


@pytest.mark.django_db(transaction=True)
def test_two_workers_finishing_the_last_runs_at_once_send_one_email(unsent, version):
    _finish_all(version)
    barrier = threading.Barrier(2)
    answers = []

    def worker():
        barrier.wait()
        answers.append(claim_results_email(version_id=version.pk))

    threads = [in_thread(worker), in_thread(worker)]
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [False, True]
    assert ResultsEmail.objects.filter(version=version, claimed_at__isnull=False).count() == 1


@pytest.mark.slow
def test_a_real_worker_sends_the_results_email_once_when_the_last_run_finishes(
    celery_worker_process, alice, open_round, tiny_series
):
    data = (DEMO_TASKS / "1-proverb-ending.csv").read_bytes()
    with transaction.atomic():
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="p.csv", data=data)
        )

    def results_mails() -> list[str]:
        files = celery_worker_process.mail_dir.glob("*.log")
        return [
            text for text in (p.read_text() for p in files) if "Every model has finished evaluating" in text
        ]

    wait_for(
        lambda: (
            EvaluationRun.objects.filter(version=version).exclude(status__in=("succeeded", "failed")).count()
            == 0
        ),
        seconds=600,
        what="the runs",
    )
    wait_for(
        lambda: ResultsEmail.objects.filter(version=version, sent_at__isnull=False).exists(), seconds=120
    )
    sent = results_mails()
    assert len(sent) == 1
    assert "Tiny GPT-2:" in sent[0] and f"/submissions/{version.submission_id}/v1/" in sent[0]
    assert 'filename="tiny-gpt-2-scaling.png"' in sent[0]  # the worker rendered the chart (Debian's chromium)
