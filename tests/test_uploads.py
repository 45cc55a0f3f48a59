"""Uploads stop at MAX_UPLOAD_MB without reading the rest, and a file is checked outside any transaction."""

import io
import json
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import reverse

from submissions import services
from submissions.models import SubmissionVersion
from tests.conftest import ROOT
from tests.factories import ANSWERS


class CountingInput(io.BytesIO):
    """A request body that counts how much of it the server read."""

    def read(self, size=-1):
        data = super().read(size)
        self.consumed = getattr(self, "consumed", 0) + len(data)
        return data

    def readline(self, size=-1):
        line = super().readline(size)
        self.consumed = getattr(self, "consumed", 0) + len(line)
        return line


def _multipart(file_bytes: bytes, **answers) -> bytes:
    # The answers come before the file, as in the form, so what arrives before the cut is kept.
    return encode_multipart(
        BOUNDARY,
        {**ANSWERS, **answers, "task_file": SimpleUploadedFile("task.csv", file_bytes, "text/csv")},
    )


def _post_body(client, round, body: CountingInput, *, length: int):
    """Post ``body`` to the submission form as a raw request announcing ``length`` bytes."""
    return client.generic(
        "POST",
        reverse("submission_create", args=[round.pk]),
        data=b"x",
        content_type=MULTIPART_CONTENT,
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": body},
    )


@pytest.mark.django_db
def test_a_body_announced_larger_than_the_limit_is_refused_before_it_is_read(
    client, alice, open_round, settings
):
    settings.MAX_UPLOAD_MB = 1
    client.force_login(alice)
    body = CountingInput(b"x" * 1024)
    huge = (1 + 400) * 1024 * 1024  # what a 400 MB upload announces
    response = _post_body(client, open_round, body, length=huge)
    assert response.status_code == 413
    text = response.content.decode()
    assert "The file is 401.0 MB; the limit is 1 MB." in text and "Nothing was saved" in text
    assert getattr(body, "consumed", 0) == 0
    assert not SubmissionVersion.objects.exists()


@pytest.mark.django_db
def test_a_file_over_the_limit_is_cut_off_while_it_streams_and_refused_beside_the_field(
    client, alice, open_round, settings
):
    settings.MAX_UPLOAD_MB = 1
    client.force_login(alice)
    # 3 MB: under the limit plus the answers' allowance, so only the streaming handler can stop it.
    payload = _multipart(b"prompt,classes,answer_index\n" + b"x" * (3 * 1024 * 1024), description="Kept")
    body = CountingInput(payload)
    # Announced within the allowance for the answers: only the handler can stop it.
    response = _post_body(client, open_round, body, length=len(payload))
    assert response.status_code == 200
    errors = response.context["form"].errors["task_file"]
    assert errors == [
        "The file is larger than the limit of 1 MB. Tasks above 10,000 examples are subsampled anyway, "
        "so a smaller file loses nothing."
    ]
    assert "Kept" in response.content.decode()  # the answers sent before the file are in the form again
    assert body.consumed < 2 * 1024 * 1024, "the server read on past the limit"
    assert not SubmissionVersion.objects.exists()


@pytest.mark.django_db
def test_the_form_tells_the_browser_the_limit_so_it_refuses_before_sending(
    client, alice, open_round, settings
):
    settings.MAX_UPLOAD_MB = 7
    client.force_login(alice)
    html = client.get(reverse("submission_create", args=[open_round.pk])).content.decode()
    assert f'data-max-bytes="{7 * 1024 * 1024}"' in html
    assert "site/upload.js" in html


@pytest.mark.django_db(transaction=True)
def test_the_task_file_is_checked_outside_any_transaction(client, alice, open_round, valid_csv, monkeypatch):
    seen = []
    real = services.read_task_file

    def checking(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "read_task_file", checking)
    client.force_login(alice)
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {**ANSWERS, "task_file": SimpleUploadedFile("task.csv", valid_csv, "text/csv")},
    )
    assert response.status_code == 302
    assert seen == [False]
    assert SubmissionVersion.objects.count() == 1


@pytest.mark.slow
def test_on_the_embedded_sqlite_pages_are_served_while_a_large_upload_is_checked(tmp_path):
    """The embedded default in a process of its own: while one upload is being validated, another person
    loads the login page and signs in (a write)."""
    probe = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "sqlite_upload_probe.py"), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["validation_was_blocking"], result
    assert result["login_page"] == 200, result
    assert result["signed_in"] == 302, result
    assert result["served_while_validating"], result
    assert result["upload"] == 302 and result["versions"] == 1, result
