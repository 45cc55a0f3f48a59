"""config.rows: a row read by its key with SQL compiled once reads what the ORM reads, and the sign-in backends
that use it for every request's user still refuse an inactive account."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

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
    # A model with a column the ORM converts on reading (JSON) is read through the ORM, converted.
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
