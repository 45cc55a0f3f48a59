"""The web process sends evaluation tasks by name and never imports the engine's heavy modules (torch and
transformers cost a gunicorn worker hundreds of megabytes)."""

import json
import os
import subprocess
import sys

import pytest
import redis
from django.db import connection

from tests.conftest import ROOT
from tests.runs_support import fake_series

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# What a web process does: set up Django, load every app's tasks (Celery's autodiscovery, as when a task is sent
# or inspected), store a task version (its runs are sent when it commits, with the receipt e-mail task).
WEB_PROCESS = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.db import transaction
from config.celery import app
from submissions.models import Round
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv

app.loader.import_default_modules()
with transaction.atomic():
    version = submit_task(
        user=get_user_model().objects.get(username="alice"),
        round=Round.objects.get(),
        answers=ANSWERS,
        upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
    )
print(json.dumps({
    "runs": version.runs.count(),
    "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
    "heavy": sorted(name for name in ("torch", "transformers") if name in sys.modules),
}))
"""


def test_submitting_sends_the_runs_without_importing_torch_or_transformers(alice, open_round, tmp_path):
    fake_series(tmp_path / "model")
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    broker.flushdb()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "VAR_DIR": str(tmp_path),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", WEB_PROCESS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout.strip().splitlines()[-1])
        sent = {
            queue: [json.loads(m)["headers"]["task"] for m in broker.lrange(queue, 0, -1)]
            for queue in ("gpu", "default")
        }
    finally:
        broker.flushdb()
    assert report["heavy"] == []
    assert "evaluation.tasks.run_evaluation" in report["tasks"]  # every app's tasks were loaded...
    assert report["runs"] == 1
    # ...and both tasks reached the broker, by name.
    assert sent == {
        "gpu": ["evaluation.tasks.run_evaluation"],
        "default": ["submissions.tasks.send_submission_receipt_task"],
    }
