import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import (
    ContestantFactory,
    RoundFactory,
    UserFactory,
    make_task_csv,
)

ROOT = Path(__file__).resolve().parents[1]
DEMO_TASKS = ROOT / "demo" / "tasks"


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    """Uploads go to the test's own folder, so no test sees another's files; passwords hash fast."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def pytest_sessionstart(session):
    # Environment settings live in pyproject.toml (pytest-env); make sure nobody ran the suite on SQLite.
    assert connection.vendor == "postgresql", (
        "the tests run against PostgreSQL: see DATABASE_URL in the README"
    )


@pytest.fixture(autouse=True)
def _celery_eager():
    """Tasks run in the test's own process; tests that need a real worker start one and say so."""
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield


@pytest.fixture
def open_round(db):
    return RoundFactory(name="Round 1")


@pytest.fixture
def closed_round(db):
    today = dt.date.today()
    return RoundFactory(
        name="Round 0",
        opens_at=dt.datetime(2022, 6, 27, tzinfo=dt.UTC),
        deadline=today - dt.timedelta(days=3),
    )


@pytest.fixture
def alice(db):
    """A contestant; owns the team that bob is also in."""
    return ContestantFactory(username="alice")


@pytest.fixture
def bob(alice):
    from accounts.services import join_team

    user = ContestantFactory(username="bob")
    join_team(user=user, invite_code=alice.membership.team.invite_code)
    return user


@pytest.fixture
def charlie(db):
    """A contestant in another team."""
    return ContestantFactory(username="charlie")


@pytest.fixture
def rita(db):
    from accounts.models import Role
    from accounts.services import grant_role

    user = UserFactory(username="rita")
    grant_role(user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def olga(db):
    from accounts.models import Role
    from accounts.services import grant_role

    user = UserFactory(username="olga", is_staff=True)
    grant_role(user=user, role=Role.ORGANIZER)
    return user


@pytest.fixture
def reviewers(db):
    """Three reviewers, reviewer0 to reviewer2."""
    from accounts.models import Role
    from accounts.services import grant_role

    people = [UserFactory(username=f"reviewer{i}") for i in range(3)]
    for person in people:
        grant_role(user=person, role=Role.REVIEWER)
    return people


@pytest.fixture
def valid_csv() -> bytes:
    return make_task_csv(n=300)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Use Debian's chromium (Playwright's own browser download is unreachable here)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


@dataclass
class WorkerProcess:
    worker: subprocess.Popen
    env: dict
    mail_dir: Path


ALL_QUEUES = "gpu,gpu-private,api,default"


def start_worker(env: dict, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ALL_QUEUES, "--pool", "solo"]
        + ["-n", f"{name}@%h", "-l", "warning"],
        cwd=ROOT,
        env=env,
    )


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker in its own process, on the real Redis, against the test database.

    Tasks the test sends go through Redis; the worker writes the e-mails it sends into ``mail_dir``.
    """
    import redis

    from config.celery import app

    broker = os.environ["REDIS_URL"]  # the tests' own Redis database (pyproject.toml), emptied first
    redis.Redis.from_url(broker).flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker,
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",  # four slashes: an absolute path
        "VAR_DIR": str(tmp_path),  # so its MEDIA_ROOT is the test's upload folder (see _test_settings)
        "EVAL_CACHE_DIR": str(tmp_path / "cache"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    app.conf.task_always_eager = False
    process = WorkerProcess(worker=start_worker(env, "test"), env=env, mail_dir=tmp_path / "mail")
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.5):
            assert process.worker.poll() is None, "the Celery worker exited at start"
            assert time.monotonic() < deadline, "the Celery worker did not answer within 30 s"
        yield process
    finally:
        process.worker.terminate()
        process.worker.wait(timeout=20)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory) -> list[tuple[str, int, Path]]:
    """Three tiny random GPT-2 models of growing width sharing one tokenizer: (name, parameters, directory)."""
    from evaluation.engine.demo_models import corpus_text, gpt2_model, parameter_count, train_tokenizer

    paragraphs = [p for p in corpus_text().split("\n\n") if p.strip()][:300]
    tokenizer = train_tokenizer(paragraphs, vocab_size=500)
    out = []
    for name, width in (("tiny-s", 16), ("tiny-m", 32), ("tiny-l", 64)):
        model = gpt2_model(vocab_size=len(tokenizer), n_layer=2, n_embd=width, n_head=2, n_positions=256)
        path = tmp_path_factory.mktemp(name)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        out.append((name, parameter_count(model), path))
    return out


@pytest.fixture
def tiny_series(db, tiny_model_dirs):
    from evaluation.models import LanguageModel, ModelSeries

    series = ModelSeries.objects.create(name="Tiny GPT-2", visibility="public")
    for order, (name, params, path) in enumerate(tiny_model_dirs):
        LanguageModel.objects.create(
            series=series, name=name, parameter_count=params, location=str(path), order=order
        )
    return series
