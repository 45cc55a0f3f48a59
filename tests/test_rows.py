"""config.rows: a row read by its key with SQL compiled once reads what the ORM reads, and the sign-in backends
that use it for every request's user still refuse an inactive account."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from accounts.selectors import signed_in_user
from config import rows
from submissions.models import Submission, SubmissionVersion

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_a_row_read_by_its_key_is_the_row_the_orm_reads(alice, open_round, valid_csv):
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS

    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    for model, pk in [(Submission, version.submission_id), (get_user_model(), alice.pk)]:
        read = rows.by_key(model, pk)
        assert type(read) is model and not read._state.adding and read._state.db == "default"
        assert fields(read) == fields(model.objects.get(pk=pk))
        assert rows.by_key(model, str(pk)) == read  # a key as the session keeps it
        assert rows.by_key(model, pk + 10_000) is None
    # A column the ORM converts on reading (JSON) goes through the same converters.
    assert rows._statement(SubmissionVersion) is not None
    assert rows.by_key(SubmissionVersion, version.pk).preview == version.preview != ""


def test_its_statement_is_compiled_once(alice):
    rows.by_key(get_user_model(), alice.pk)
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(3):
            rows.by_key(get_user_model(), alice.pk)
    assert len({q["sql"] for q in ctx.captured_queries}) == 1 and len(ctx.captured_queries) == 3
    assert rows._statement.cache_info().hits >= 3


@pytest.mark.parametrize(
    "backend", ["accounts.backends.ModelBackend", "accounts.backends.AuthenticationBackend"]
)
def test_each_sign_in_backend_signs_out_an_account_made_inactive(client, alice, backend):
    client.force_login(alice, backend=backend)
    assert client.get(reverse("dashboard")).status_code == 200
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)
    assert client.get(reverse("dashboard")).status_code == 302  # to the sign-in page


def test_the_signed_in_user_comes_with_roles_and_team_in_one_statement(alice, olga):
    with CaptureQueriesContext(connection) as ctx:
        user = signed_in_user(str(alice.pk))
        organizer = signed_in_user(olga.pk)
        assert signed_in_user(alice.pk + 10_000) is None
    assert len(ctx.captured_queries) == 3
    assert fields(user) == fields(alice)
    assert user._contest_team == alice.membership.team and user._contest_roles == {Role.CONTESTANT}
    assert organizer._contest_team is None
    assert organizer._contest_roles == {Role.ORGANIZER}


PROBE = """
import json, os, sys
os.environ.update(DJANGO_SETTINGS_MODULE="config.settings", DATABASE_URL="sqlite:///" + sys.argv[1], VAR_DIR=sys.argv[2])
for name in ("REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(name, None)
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from accounts.models import Membership, Team
from accounts.selectors import signed_in_user
from config import rows
user = get_user_model().objects.create_user("probe", "probe@example.org", "x")
Membership.objects.create(user=user, team=Team.objects.create(name="Probes"))
read = signed_in_user(str(user.pk))
keyed = rows.by_key(Team, read._contest_team.pk)
print(json.dumps([timezone.is_aware(read.date_joined), timezone.is_aware(read._contest_team.created_at),
                  timezone.is_aware(keyed.created_at), read.is_active is True, read.date_joined == user.date_joined]))
"""


def test_on_the_embedded_default_sqlite_the_values_are_converted_as_the_orm_does(tmp_path):
    """SQLite returns times without their time zone: the ORM's converters make them aware, and so must ours."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "db.sqlite3"), str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, True, True, True, True]
