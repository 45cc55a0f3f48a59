"""Jobs leave the web process through the real Redis and run in a real Celery worker."""

import email
import time
from email.header import decode_header, make_header

import pytest

from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS

pytestmark = pytest.mark.slow


def test_a_receipt_is_sent_by_a_real_worker_through_redis(
    celery_worker_process, alice, open_round, valid_csv
):
    from django.db import transaction

    with transaction.atomic():
        submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )

    # The file backend ends each message with a line of 79 dashes: wait for a whole message, not an open file.
    def written() -> list[str]:
        return [p.read_text() for p in celery_worker_process.mail_dir.glob("*.log")]

    deadline = time.monotonic() + 120  # a busy CI machine
    while not any(text.endswith("-" * 79 + "\n") for text in written()):
        assert time.monotonic() < deadline, "no receipt was written within 120 s"
        time.sleep(0.2)
    mails = [email.message_from_string(text) for text in written()]
    assert len(mails) == 1
    assert mails[0]["To"] == "alice@example.org"
    assert (
        str(make_header(decode_header(mails[0]["Subject"]))) == "Received: “Even or odd”, version 1 (Round 1)"
    )
