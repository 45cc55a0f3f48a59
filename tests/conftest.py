import datetime as dt
import os
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
def valid_csv() -> bytes:
    return make_task_csv(n=300)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Use Debian's chromium (Playwright's own browser download is unreachable here)."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium"}


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real Celery worker in its own process, on the real Redis, against the test database.

    Yields the folder where the worker writes the e-mails it sends. Tasks sent by the test go through Redis.
    """
    import subprocess
    import sys
    import time

    import redis

    from config.celery import app

    broker = os.environ["REDIS_URL"]  # the tests' own Redis database (pyproject.toml), emptied first
    redis.Redis.from_url(broker).flushdb()
    mail_dir = tmp_path / "mail"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker,
        "EMAIL_URL": f"filemail:///{mail_dir}",  # four slashes: an absolute path
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    app.conf.task_always_eager = False
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default",
            "--pool",
            "solo",
            "-l",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(timeout=0.5):
            assert worker.poll() is None, "the Celery worker exited at start"
            assert time.monotonic() < deadline, "the Celery worker did not answer within 30 s"
        yield mail_dir
    finally:
        worker.terminate()
        worker.wait(timeout=20)
