"""Hostile input through the web: stored data that no page may fail on, fields that refuse what breaks
e-mails and pages, and size limits that keep pages small."""

import io

import pandas as pd
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from reviews.services import assign_reviewer
from submissions.models import SubmissionVersion
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, make_task_csv
from tests.runs_support import finish_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(db):
    series = ModelSeries.objects.create(name="Open Models", visibility="public")
    for i, params in enumerate((1_000_000, 10_000_000)):
        LanguageModel.objects.create(
            series=series, name=f"open-{i}", parameter_count=params, location=f"/nowhere/open-{i}"
        )
    return series


def _finish_runs(version: SubmissionVersion, *, worst_row: int) -> None:
    """Every run succeeds, with `worst_row` the worst example on every model (so the drill-down shows it)."""
    rows = list(range(2, version.example_count + 2))
    for run in version.runs.all():
        values = [2.0 if row == worst_row else 0.5 + (row % 7) / 100 for row in rows]
        finish_run(run, rows=rows, values=values, correct_below=0.7)


def _submit(user, round, data: bytes, django_capture_on_commit_callbacks, **answers) -> SubmissionVersion:
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        return submit_task(
            user=user, round=round, answers={**ANSWERS, **answers}, upload=TaskUpload(name="t.csv", data=data)
        )


def _upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("task.csv", data, content_type="text/csv")


# --- No page fails on stored data --------------------------------------------------------------


@pytest.mark.parametrize("bad_classes", [r"[' Yes', ' \ud800']", r"['\udfff', ' No']"])
def test_a_stored_file_with_invalid_unicode_still_shows_every_page(
    client, alice, rita, olga, open_round, series, bad_classes, django_capture_on_commit_callbacks
):
    """A file stored before the validator refused such cells (or put in storage some other way)."""
    version = _submit(alice, open_round, make_task_csv(300), django_capture_on_commit_callbacks)
    # Row 10, after the stored preview of the first examples, gets a class that escapes to a lone surrogate.
    table = pd.read_csv(io.BytesIO(make_task_csv(300)), dtype=str)
    table.loc[8, "classes"] = bad_classes
    name = default_storage.save("tasks/hostile.csv", ContentFile(table.to_csv(index=False).encode()))
    SubmissionVersion.objects.filter(pk=version.pk).update(task_file=name)
    _finish_runs(version, worst_row=10)
    assert EvaluationRun.objects.filter(version=version, status="succeeded").count() == 2
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)

    page = reverse("submission_detail", args=[version.submission.pk])
    for user in (alice, rita, olga):
        client.force_login(user)
        response = client.get(page)
        assert response.status_code == 200, user
        assert "Open Models" in response.content.decode()
    admin_page = reverse("admin:submissions_submissionversion_change", args=[version.pk])
    assert client.get(admin_page).status_code == 200


# --- Single-line fields, and e-mails that never get lost ----------------------------------------


@pytest.mark.parametrize("name", ["Even\r\nBcc: victim@example.org", "Even\nor odd", "Tab\there", "Bell\x07"])
def test_a_task_name_with_a_line_break_or_control_character_is_refused_beside_the_field(
    client, alice, open_round, valid_csv, name
):
    client.force_login(alice)
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {**ANSWERS, "task_name": name, "description": "Kept as typed", "task_file": _upload(valid_csv)},
    )
    assert response.status_code == 200
    [error] = response.context["form"].errors["task_name"]
    assert error.startswith("This must be a single line, but it holds "), error
    html = response.content.decode()
    assert 'id="id_task_name_errors"' in html  # beside the field
    assert "Kept as typed" in html
    assert not SubmissionVersion.objects.exists()


def test_a_team_name_with_a_line_break_is_refused_beside_the_field(client, alice):
    client.force_login(alice)
    response = client.post(reverse("team"), {"rename": "1", "name": "Proverbial\r\nTeam"})
    assert response.status_code == 200
    [error] = response.context["rename_form"].errors["name"]
    assert "single line" in error and "line break" in error
    alice.membership.team.refresh_from_db()
    assert alice.membership.team.name == "Team alice"


def test_a_receipt_for_a_name_saved_with_a_line_break_is_sent_with_a_one_line_subject(
    alice, bob, open_round, valid_csv, mailoutbox, django_capture_on_commit_callbacks
):
    """Names stored before the form refused line breaks (or saved another way) must not lose the e-mail."""
    with django_capture_on_commit_callbacks(execute=True):
        submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "task_name": "Even\r\nBcc: victim@example.org"},
            upload=TaskUpload(name="t.csv", data=valid_csv),
        )
    assert sorted(m.to[0] for m in mailoutbox) == ["alice@example.org", "bob@example.org"]
    for message in mailoutbox:
        assert message.subject == "Received: “Even Bcc: victim@example.org”, version 1 (Round 1)"
        assert message.bcc == []


@pytest.fixture
def eager_retries():
    """In-process tasks run their retries at once (Celery's eager mode), instead of raising Retry."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def _flaky_send(monkeypatch, *, failing: str, failures: int) -> list[str]:
    """Sending to `failing` raises `failures` times (an SMTP server hanging up); returns who got an e-mail."""
    from smtplib import SMTPServerDisconnected

    from django.core.mail import EmailMultiAlternatives

    delivered, attempts = [], []
    original = EmailMultiAlternatives.send

    def send(message, fail_silently=False):
        if message.to == [failing]:
            attempts.append(failing)
            if len(attempts) <= failures:
                raise SMTPServerDisconnected("Connection unexpectedly closed")
        delivered.append(message.to[0])
        return original(message, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send)
    return delivered


def test_a_failed_receipt_is_logged_and_retried_for_that_member_only(
    alice, bob, open_round, valid_csv, monkeypatch, caplog, eager_retries, django_capture_on_commit_callbacks
):
    delivered = _flaky_send(monkeypatch, failing="bob@example.org", failures=2)
    with django_capture_on_commit_callbacks(execute=True):
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    assert sorted(delivered) == ["alice@example.org", "bob@example.org"]  # alice once, bob after two retries
    failures = [r for r in caplog.records if r.getMessage() == "submission receipt not sent"]
    assert len(failures) == 2
    assert {(r.levelname, r.version, r.recipient) for r in failures} == {
        ("WARNING", version.pk, "bob@example.org")
    }
    assert failures[0].exc_info is not None
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_a_receipt_that_never_goes_out_is_logged_as_an_error_after_the_last_retry(
    alice, open_round, valid_csv, monkeypatch, caplog, eager_retries, django_capture_on_commit_callbacks
):
    from submissions.tasks import RECEIPT_RETRIES

    delivered = _flaky_send(monkeypatch, failing="alice@example.org", failures=100)
    with django_capture_on_commit_callbacks(execute=True):
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    assert delivered == []
    tries = [r for r in caplog.records if r.getMessage() == "submission receipt not sent"]
    assert len(tries) == 1 + RECEIPT_RETRIES
    [final] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert final.getMessage() == "submission receipt not sent after every retry; giving up"
    assert (final.version, final.users) == (version.pk, [alice.pk])


# --- Size limits ---------------------------------------------------------------------------------


def test_the_form_states_each_limit_and_stops_typing_at_it(client, alice, open_round):
    client.force_login(alice)
    html = client.get(reverse("submission_create", args=[open_round.pk])).content.decode()
    assert html.count('maxlength="20000"') == 8  # five answers and the three optional questions
    assert 'maxlength="2000"' in html and 'maxlength="200"' in html
    assert html.count("data-counter") == 10
    assert html.count("At most 20,000 characters.") == 8


def test_an_answer_over_its_limit_is_refused_beside_the_field_and_the_answers_are_kept(
    client, alice, open_round, valid_csv
):
    client.force_login(alice)
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {
            **ANSWERS,
            "description": "d" * 20_001,
            "importance": "Kept as typed",
            "task_file": _upload(valid_csv),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["description"] == [
        "This has 20001 characters; the limit is 20,000. Shorten it (a link to a longer document is fine)."
    ]
    html = response.content.decode()
    assert 'id="id_description_errors"' in html and "Kept as typed" in html
    assert not SubmissionVersion.objects.exists()


def test_line_breaks_count_as_one_character_as_the_browser_counts_them(client, alice, open_round, valid_csv):
    client.force_login(alice)
    text = ("x" * 99 + "\r\n") * 200  # 20,000 characters in the browser's count, 20,200 as sent
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {**ANSWERS, "description": text, "task_file": _upload(valid_csv)},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert SubmissionVersion.objects.get().description == text.replace("\r\n", "\n").strip()


def test_a_form_too_large_to_read_gets_the_sites_page_saying_so(
    client, alice, open_round, valid_csv, settings
):
    client.force_login(alice)
    response = client.post(
        reverse("submission_create", args=[open_round.pk]),
        {
            **ANSWERS,
            "description": "d" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
            "task_file": _upload(valid_csv),
        },
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert 'class="navbar' in html  # the site's layout, not a bare "Bad Request (400)"
    assert "What you sent is too large" in html and "nothing was saved" in html
    assert "at most 20,000 characters" in html
    assert not SubmissionVersion.objects.exists()


HUGE_PROMPT = "The start of a long story. " + "word " * 2_000_000 + "And the model continues from here:"


@pytest.fixture
def huge_prompt_version(alice, open_round, series, django_capture_on_commit_callbacks):
    table = pd.read_csv(io.BytesIO(make_task_csv(300)), dtype=str)
    table.loc[0, "prompt"] = HUGE_PROMPT  # row 2: in the preview of the first examples
    version = _submit(
        alice, open_round, table.to_csv(index=False).encode(), django_capture_on_commit_callbacks
    )
    _finish_runs(version, worst_row=2)  # and in the drill-down tables of the evaluation
    return version


def test_a_huge_prompt_is_shown_shortened_keeping_its_start_and_end(client, alice, huge_prompt_version):
    assert len(HUGE_PROMPT) > 10_000_000
    client.force_login(alice)
    response = client.get(reverse("submission_detail", args=[huge_prompt_version.submission.pk]))
    html = response.content.decode()
    assert len(response.content) < 300_000, len(response.content)
    url = reverse("version_example", args=[huge_prompt_version.submission.pk, 1, 2])
    # The preview and both drill-down tables (worst on the largest model, grew most) show it shortened.
    assert html.count(f'data-expand="{url}" data-field="prompt"') == 3
    assert html.count("The start of a long story. word word") == 3
    assert html.count("word word And the model continues from here:</div>") == 3
    assert html.count(f"[… {len(HUGE_PROMPT) - 1_400:,} more characters …]") == 3


def test_the_full_text_loads_only_for_those_who_see_the_version(
    client, alice, bob, charlie, rita, olga, huge_prompt_version
):
    url = reverse("version_example", args=[huge_prompt_version.submission.pk, 1, 2])
    assign_reviewer(submission=huge_prompt_version.submission, reviewer=rita, by=olga)
    for user in (alice, bob, rita, olga):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, user
        assert response.json() == {"row": 2, "prompt": HUGE_PROMPT}
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    client.force_login(alice)
    assert (
        client.get(reverse("version_example", args=[huge_prompt_version.submission.pk, 1, 999])).status_code
        == 404
    )
    assert (
        client.get(reverse("version_example", args=[huge_prompt_version.submission.pk, 2, 2])).status_code
        == 404
    )
    client.logout()
    assert client.get(url).status_code == 302  # to the login page


# --- Formulas: warned of at the download link, served as submitted ------------------------------


def test_reviewers_and_organizers_are_warned_of_formulas_at_the_download_link(
    client, alice, rita, olga, open_round, series, django_capture_on_commit_callbacks
):
    table = pd.read_csv(io.BytesIO(make_task_csv(300)), dtype=str)
    table.loc[3, "prompt"] = '=HYPERLINK("http://evil.example","Click")'
    table.loc[7, "prompt"] = "+cmd|' /C calc'!A0"
    data = table.to_csv(index=False).encode()
    version = _submit(alice, open_round, data, django_capture_on_commit_callbacks)
    assert any(
        "row 5, column prompt" in w and "so do 1 more cells: row 9 (prompt)" in w
        for w in (version.validation_warnings)
    )
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    download = reverse("version_download", args=[version.submission.pk, 1])
    for user in (rita, olga, alice):
        client.force_login(user)
        html = client.get(reverse("submission_detail", args=[version.submission.pk])).content.decode()
        assert f'href="{download}" aria-describedby="formula-warning"' in html
        assert "some cells start like spreadsheet formulas" in html
        response = client.get(download)
        assert b"".join(response.streaming_content) == data  # byte for byte as submitted


def test_a_file_without_formulas_has_no_warning_at_the_download_link(client, alice, open_round, valid_csv):
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
    )
    client.force_login(alice)
    html = client.get(reverse("submission_detail", args=[version.submission.pk])).content.decode()
    assert "Download CSV" in html and "formula" not in html
