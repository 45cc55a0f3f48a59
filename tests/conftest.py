import datetime as dt
import os
from pathlib import Path

import pytest

# The suite runs against the real PostgreSQL and Redis (bin/test starts them); plain `pytest` gets the same.
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inverse_scaling")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Playwright's sync API keeps an asyncio loop in the main thread; Django's live_server setup must not mind.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from tests.factories import (  # noqa: E402
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
