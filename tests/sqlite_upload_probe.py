"""Run by tests/test_uploads.py in a process of its own: the embedded default (SQLite, WAL, immediate
transactions) with one upload held in validation while a second person loads a page and signs in.

Prints one JSON line with what happened."""

import json
import os
import sys
import threading
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
tmp = Path(sys.argv[1])
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
    VAR_DIR=str(tmp),
    EMAIL_URL=f"filemail:///{tmp / 'mail'}",
)
for name in ("REDIS_URL", "CELERY_BROKER_URL"):
    os.environ.pop(name, None)

import django  # noqa: E402

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from submissions import services  # noqa: E402
from submissions.models import SubmissionVersion  # noqa: E402
from tests.factories import ANSWERS, ContestantFactory, RoundFactory, make_task_csv  # noqa: E402

call_command("migrate", verbosity=0)
call_command("createcachetable")  # as bin/run does: the login rate limit counts in it
round_ = RoundFactory(name="Round 1")
ContestantFactory(username="uploader")
ContestantFactory(username="visitor")
connection.close()

started, release = threading.Event(), threading.Event()
real = services.read_task_file


def held_validation(*args, **kwargs):
    started.set()
    release.wait(timeout=120)
    return real(*args, **kwargs)


services.read_task_file = held_validation
result = {}


def recorded(work):
    """A thread's failure lands in the result instead of vanishing with the thread."""

    def run():
        try:
            work()
        except Exception:
            result.setdefault("errors", []).append(traceback.format_exc())
        finally:
            connection.close()

    return run


def upload():
    client = Client()
    client.login(username="uploader", password="correct-horse-battery")
    response = client.post(
        f"/rounds/{round_.pk}/submit/",
        {**ANSWERS, "task_file": SimpleUploadedFile("task.csv", make_task_csv(300), "text/csv")},
    )
    result["upload"] = response.status_code


def visit():
    client = Client()
    result["login_page"] = client.get("/accounts/login/").status_code
    response = client.post("/accounts/login/", {"login": "visitor", "password": "correct-horse-battery"})
    result["signed_in"] = response.status_code
    result["served_while_validating"] = not release.is_set()


uploader = threading.Thread(target=recorded(upload))
uploader.start()
result["validation_was_blocking"] = started.wait(timeout=120)
visitor = threading.Thread(target=recorded(visit))
visitor.start()
# A visitor blocked behind the upload's write lock would wait for SQLite's 30 s timeout; give it 25 s.
visitor.join(timeout=25)
release.set()
visitor.join()
uploader.join()
result["versions"] = SubmissionVersion.objects.count()
print(json.dumps(result))
