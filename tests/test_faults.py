"""Faults against the real services: workers killed mid-run with the beat sweeper running for real, a broker
restarted under a queue of runs, a database that drops during an upload."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.models import Count

from evaluation.models import EvaluationRun, ExampleResult, LanguageModel, ResultsEmail
from submissions.services import TaskUpload, submit_task
from tests.conftest import DEMO_TASKS, ROOT, start_worker
from tests.factories import ANSWERS
from tests.runs_support import wait_for

KILLS = 20
EXAMPLES = 150


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=20)


def _services_env(tmp_path: Path, broker: str, **settings) -> dict:
    """The environment of a worker or beat process: the test database, ``broker``, the test's own folders, and
    ``settings`` (short timeouts) as the environment variables config/settings.py reads."""
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker,
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",
        "VAR_DIR": str(tmp_path),
        "EVAL_CACHE_DIR": str(tmp_path / "cache"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        **{name: str(value) for name, value in settings.items()},
    }


def start_beat(env: dict, tmp_path: Path) -> subprocess.Popen:
    """``celery beat`` as production runs it: it sends the sweeper's task every EVALUATION_SWEEP_SECONDS."""
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning"]
        + ["-s", str(tmp_path / "beat-schedule"), "--pidfile", str(tmp_path / "beat.pid")],
        cwd=ROOT,
        env=env,
    )


@pytest.fixture
def real_broker(transactional_db):
    """This process sends its tasks through the real Redis of the tests (emptied first)."""
    import redis

    from config.celery import app

    broker = os.environ["REDIS_URL"]
    redis.Redis.from_url(broker).flushdb()
    app.conf.task_always_eager = False
    return broker


@pytest.mark.slow
def test_twenty_workers_killed_mid_run_leave_every_run_succeeded_once(
    real_broker, alice, open_round, tiny_series, tmp_path
):
    """Each worker is killed (SIGKILL) as soon as it holds a run; beat's sweeper, running for real, gives the
    run to the next worker once its heartbeat is stale. In the end every run has succeeded, with exactly one
    result per example and one claim per worker that held it."""
    env = _services_env(
        tmp_path,
        real_broker,
        EVALUATION_HEARTBEAT_TIMEOUT=3,
        EVALUATION_HEARTBEAT_SECONDS=0.5,
        EVALUATION_SWEEP_SECONDS=1,
        EVALUATION_QUEUED_RESEND_SECONDS=10,
        # The kills may fall on the same run again and again: giving up is not what this test is about.
        EVALUATION_MAX_ATTEMPTS=KILLS + 1,
    )
    LanguageModel.objects.exclude(name="tiny-l").delete()
    # Two runs of 150 examples each: a fresh worker imports torch and loads the model after its claim, so even
    # a short run is caught running; the short runs keep the end (two runs on one busy worker) quick.
    open_round.subsample_cap = EXAMPLES
    open_round.save()
    data = (DEMO_TASKS / "lambada-1k.csv").read_bytes()
    for name in ("a.csv", "b.csv"):
        with transaction.atomic():
            submit_task(
                user=alice,
                round=open_round,
                answers={**ANSWERS, "metric": "sequence_prob", "task_name": name},
                upload=TaskUpload(name=name, data=data),
            )
    runs = EvaluationRun.objects.all()
    beat = start_beat(env, tmp_path)
    worker = start_worker(env, "w0")
    killed: list[str] = []  # the claims (worker tokens) whose worker was killed
    try:
        for kill in range(1, KILLS + 1):
            fresh = runs.filter(status="running", progress_total__gt=0).exclude(worker__in=killed)
            wait_for(fresh.exists, seconds=180, what=f"claim {kill} of a run by a live worker")
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=20)
            killed.append(fresh.values_list("worker", flat=True).get())
            worker = start_worker(env, f"w{kill}")
        wait_for(lambda: not runs.exclude(status__in=("succeeded", "failed")).exists(), seconds=600)
        # The worker announces a version's results just after its last run commits.
        claimed = ResultsEmail.objects.filter(claimed_at__isnull=False)
        wait_for(lambda: claimed.count() == 2, seconds=60, what="the results e-mail of each version")
    finally:
        _stop(worker)
        _stop(beat)

    assert len(killed) == len(set(killed)) == KILLS
    runs = list(runs)
    for run in runs:
        assert run.status == "succeeded", run.failure_reason
        assert run.worker not in killed  # the claim that completed it is one no kill touched
        assert run.n_examples == run.examples.count() == EXAMPLES
    duplicates = ExampleResult.objects.values("run", "row").annotate(n=Count("id")).filter(n__gt=1)
    assert not duplicates.exists()
    # One claim per killed worker plus the one that completed each run: no run was claimed more.
    assert sum(run.attempts for run in runs) == KILLS + len(runs)


@pytest.fixture
def database_drops_mid_save(transactional_db, monkeypatch):
    """The database connection of the request is terminated (as a restart or failover would) from another
    connection, inside the service's transaction, after the submission's row was written; once only."""
    import psycopg

    from submissions import services

    ensure_changed = services._ensure_something_changed
    db = connection.settings_dict
    dropped = []

    def drop_then_check(**kwargs):
        if not dropped:
            pid = connection.connection.info.backend_pid
            with psycopg.connect(
                host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
            ) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [pid])
            dropped.append(pid)
        return ensure_changed(**kwargs)

    monkeypatch.setattr(services, "_ensure_something_changed", drop_then_check)
    return dropped


def test_a_database_drop_during_an_upload_keeps_the_answers_and_saves_nothing(
    client, database_drops_mid_save, alice, open_round, valid_csv
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from submissions.models import Submission, SubmissionVersion
    from submissions.views import DATABASE_UNAVAILABLE

    client.force_login(alice)
    url = reverse("submission_create", args=[open_round.pk])
    answers = {**ANSWERS, "description": "My careful description"}

    def post():
        return client.post(url, {**answers, "task_file": SimpleUploadedFile("t.csv", valid_csv)})

    response = post()
    assert database_drops_mid_save, "the connection was not dropped"
    assert response.status_code == 503
    html = response.content.decode()
    assert DATABASE_UNAVAILABLE in html and "Traceback" not in html
    assert "My careful description" in html and 'value="Even or odd"' in html
    assert not Submission.objects.exists() and not SubmissionVersion.objects.exists()

    # Once the database is back, sending the same form again saves it.
    response = post()
    assert response.status_code == 302
    assert SubmissionVersion.objects.get().description == "My careful description"


class PrivateRedis:
    """A redis-server of this test's own, without persistence, on a free port: the machine's Redis is shared by
    other test runs and must never be restarted."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )

        def answers() -> bool:
            try:
                return self.client().ping()
            except OSError:
                return False
            except Exception:  # redis.ConnectionError while it starts
                return False

        wait_for(answers, seconds=30, what="the test's redis-server")

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


@pytest.fixture
def private_redis(transactional_db):
    """This process sends its tasks to a redis-server of the test's own (see PrivateRedis)."""
    from config.celery import app
    from evaluation import broker

    server = PrivateRedis()
    server.start()
    before = app.conf.broker_url
    app.close()  # the connection pool is made again for the new broker
    app.conf.broker_url = server.url
    app.conf.task_always_eager = False
    broker.forget()
    try:
        yield server
    finally:
        app.close()
        app.conf.broker_url = before
        broker.forget()
        server.stop()


@pytest.mark.slow
def test_a_redis_restart_under_a_hundred_queued_runs_delays_them_and_loses_none(
    client, private_redis, alice, olga, open_round, tiny_series, tmp_path
):
    """The broker restarts (without persistence: its queued messages are lost) while 100 runs are queued: the
    site keeps serving, says evaluations are delayed and still takes submissions; once the broker is back, the
    sweeper sends the lost runs again and every one completes."""
    from django.urls import reverse

    from evaluation import broker
    from evaluation.models import EvaluationRun
    from tests.factories import make_task_csv

    env = _services_env(
        tmp_path, private_redis.url, EVALUATION_SWEEP_SECONDS=1, EVALUATION_QUEUED_RESEND_SECONDS=3
    )
    LanguageModel.objects.exclude(name="tiny-s").delete()  # one model: 100 runs, one evaluation, 99 cached
    # A private series: no results e-mails, whose chart images (headless Chromium) would take the worker longer
    # than the runs; its organizer sees the runs and the notice.
    tiny_series.visibility = "private"
    tiny_series.save()
    open_round.min_examples = 10
    open_round.save()
    data = make_task_csv(10)
    beat = start_beat(env, tmp_path)
    worker = start_worker(env, "worker")
    try:
        versions = []
        for i in range(100):
            with transaction.atomic():
                versions.append(
                    submit_task(
                        user=alice,
                        round=open_round,
                        answers={**ANSWERS, "task_name": f"Task {i}"},
                        upload=TaskUpload(name="t.csv", data=data),
                    )
                )
        runs = EvaluationRun.objects.all()
        assert runs.count() == 100
        private_redis.stop()  # the restart begins: every message still in the queue is lost
        assert runs.filter(status="queued").exists()

        client.force_login(olga)
        broker.forget()
        last = versions[-1]
        status_url = reverse("evaluation_status", args=[last.submission_id, last.number])
        state = client.get(status_url).json()
        assert state["delayed"] == broker.DELAYED_NOTICE
        page = client.get(reverse("version_detail", args=[last.submission_id, last.number]))
        assert page.status_code == 200 and broker.DELAYED_NOTICE in page.content.decode()
        client.force_login(alice)
        response = client.post(
            reverse("submission_create", args=[open_round.pk]),
            {**ANSWERS, "task_name": "Sent while the queue is down", "task_file": _upload(data)},
        )
        assert response.status_code == 302  # stored; its run waits in the database for the broker
        assert runs.count() == 101

        private_redis.start()
        wait_for(
            lambda: not runs.exclude(status="succeeded").exists(),
            seconds=600,
            what="every run to succeed after the restart",
        )
    finally:
        _stop(worker)
        _stop(beat)
    assert ExampleResult.objects.count() == 101 * 10
    client.force_login(olga)
    broker.forget()
    assert client.get(status_url).json()["delayed"] == ""


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("t.csv", data, content_type="text/csv")
