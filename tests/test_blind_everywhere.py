"""Nothing an assigned reviewer receives names the authors: not the pages, the JSON, the CSV, the chart images
(their metadata included) or the file's download name."""

import re

import pytest
from django.urls import reverse

from contest import rubric
from evaluation.evidence import precompute_evidence
from reviews.services import ReviewAnswers, assign_reviewer, save_review
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))
# Who submitted, in every form it could leak: the authors' answer, the team, the uploader, the file's name.
SECRETS = ("Zelda Quintessa", "Team zquint", "zquint", "zelda-secret-task")


@pytest.fixture
def judged(open_round, rita, olga, django_capture_on_commit_callbacks):
    author = ContestantFactory(username="zquint", email="zquint@uni.example")
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=author,
            round=open_round,
            answers={**ANSWERS, "authors": "Zelda Quintessa (Uni Example)"},
            upload=TaskUpload(name="zelda-secret-task.csv", data=make_task_csv(300)),
        )
    public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    from evaluation.services import enqueue_runs

    with django_capture_on_commit_callbacks(execute=False):
        enqueue_runs(version=version)
    for run in version.runs.select_related("model"):
        finish_run(
            run, rows=ROWS, values=[0.5 + run.model.parameter_count / 1e9 + (r % 7) / 100 for r in ROWS]
        )
    precompute_evidence(version_id=version.pk)
    assignment = assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    save_review(
        assignment=assignment,
        user=rita,
        answers=ReviewAnswers(levels=dict.fromkeys(rubric.CRITERIA_KEYS, "accepted"), suggested_tier="third"),
        submit=True,
    )
    return version


def _assert_blind(what: str, body: bytes | str) -> None:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{what} names {secret!r}"


def test_nothing_a_reviewer_receives_names_the_authors(client, rita, judged):
    pk, n = judged.submission_id, judged.number
    client.force_login(rita)
    responses = {
        "review page": reverse("review_page", args=[pk]),
        "version page": reverse("submission_detail", args=[pk]),
        "spot-check": reverse("spot_check", args=[pk]),
        "examples page": reverse("examples_drill_down", args=[pk, n]),
        "status JSON": reverse("evaluation_status", args=[pk, n]),
        "evidence fragment": reverse("evidence_fragment", args=[pk, n]),
        "results CSV": reverse("results_csv", args=[pk, n]),
        "results JSON": reverse("results_json", args=[pk, n]),
        "an example": reverse("version_example", args=[pk, n, 2]),
        "dashboard": reverse("dashboard"),
    }
    for what, url in responses.items():
        response = client.get(url)
        assert response.status_code == 200, what
        _assert_blind(what, response.content)
    download = client.get(reverse("version_download", args=[pk, n]))
    _assert_blind("the download's name", download["Content-Disposition"])
    _assert_blind("the downloaded file", b"".join(download.streaming_content))

    # The same pages name them to the authors themselves: the secrets are real, the checks above can fail.
    client.force_login(judged.created_by)
    own = client.get(reverse("submission_detail", args=[pk])).content.decode()
    assert "Zelda Quintessa" in own and "zelda-secret-task" in own and "Team zquint" in own


@pytest.mark.slow
def test_a_chart_image_and_its_metadata_do_not_name_the_authors(client, rita, judged):
    """Rendered for real (Debian's chromium): the PNG's text chunks hold at most the task's title."""
    series_id = judged.runs.filter(model__series__visibility="private").first().model.series_id
    client.force_login(rita)
    response = client.get(
        reverse("figure_png", args=[judged.submission_id, judged.number, series_id, "scaling"])
    )
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")
    _assert_blind("the PNG's name", response["Content-Disposition"])
    chunks = re.findall(rb"(tEXt|iTXt|zTXt)(.{0,2000}?)\x00", response.content, re.S)
    _assert_blind("the PNG's text chunks", b" ".join(body for _, body in chunks))
    _assert_blind("the PNG", response.content)


# Every place the apps send e-mail from, and what it sends: a new one fails the test below until it is added here
# and to test_no_email_a_reviewer_receives_names_the_authors (who receives it? a reviewer?).
EMAIL_SENDERS = {
    "accounts/services.py": "the invitation of a reviewer or organizer, to the address an organizer typed",
    "accounts/adapter.py": "allauth's account e-mails (confirmation, password reset), to the person's own address",
    "submissions/emails.py": "the receipt of a version and the results e-mail, to the team's members",
    "reviews/feedback.py": "the feedback release, to the team's members",
}
_SENDS = re.compile(
    r"\b(EmailMultiAlternatives|EmailMessage|send_mail|send_mass_mail|mail_admins|mail_managers)\("
)


def test_every_place_that_sends_email_is_known():
    from tests.conftest import ROOT

    apps = ("accounts", "submissions", "evaluation", "reviews", "pages", "contest", "config")
    senders = {
        str(path.relative_to(ROOT))
        for app in apps
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts and _SENDS.search(path.read_text())
    }
    assert senders == set(EMAIL_SENDERS), (
        "e-mail is sent from a new place (or no longer from one): check whether a reviewer can receive it, "
        f"add it to EMAIL_SENDERS and to the test below: {sorted(senders ^ set(EMAIL_SENDERS))}"
    )


def _as_sent(message) -> list[tuple[str, str]]:
    """Every header and every decoded part of the message as it goes out: subject, addresses, text, HTML,
    attachments and their names."""
    out = []
    for part in message.message().walk():
        out += [(f"header {key}", str(value)) for key, value in part.items()]
        if part.get_filename():
            out.append(("attachment's name", part.get_filename()))
        payload = part.get_payload(decode=True)
        if payload:
            out.append((part.get_content_type(), payload.decode("utf-8", "replace")))
    return out


def test_no_email_a_reviewer_receives_names_the_authors(
    client, rita, olga, judged, monkeypatch, django_capture_on_commit_callbacks
):
    """Reviewers get no e-mail about a submission at all (no notice of an assignment, a discussion post or an
    unlock): only their invitation and their account's e-mails, which name nobody. Every e-mail of a round's life
    is sent here, and those that reach a reviewer are read whole: headers, text, HTML and attachments."""
    from django.core import mail
    from django.core.management import call_command

    from accounts.models import Role
    from accounts.services import grant_role
    from evaluation.emails import send_results_email
    from reviews import feedback
    from reviews.models import Award, Review
    from submissions.emails import send_submission_receipt
    from tests.factories import UserFactory

    monkeypatch.setattr("evaluation.plots.figure_png", lambda fig, **size: b"\x89PNG\r\n\x1a\nchart")
    pk, round = judged.submission_id, judged.submission.round
    mail.outbox.clear()
    # The team's e-mails: the receipt, the results (with the charts attached).
    send_submission_receipt(version_id=judged.pk)
    send_results_email(version_id=judged.pk)
    # An organizer invites a reviewer; once signed up, the assignment command gives him the submission.
    client.force_login(olga)
    assert (
        client.post(reverse("people_invite"), {"email": "newrev@example.org", "role": "reviewer"}).status_code
        == 302
    )
    newrev = UserFactory(username="newrev", email="newrev@example.org")
    grant_role(user=newrev, role=Role.REVIEWER)
    call_command("assign_reviewers", round=round.name, per_submission=2, stdout=None)
    assert judged.submission.assignments.filter(reviewer=newrev).exists()
    # Reviewers at work: a discussion, an unlock, a review submitted again, a conflict declared.
    client.force_login(rita)
    assert client.post(reverse("discussion_post", args=[pk]), {"body": "Row 7 looks off."}).status_code == 302
    client.force_login(olga)
    assert (
        client.post(reverse("discussion_post", args=[pk]), {"body": "Agreed, see row 7."}).status_code == 302
    )
    review = Review.objects.get(assignment__submission=pk, assignment__reviewer=rita)
    client.post(reverse("review_unlock", args=[review.pk]), {"reason": "Please look at row 7 again."})
    client.force_login(rita)
    client.post(reverse("review_page", args=[pk]), {"submit": "1"})
    client.post(reverse("reviewer_conflicts"), {"name": "charlie-nobody", "reason": "none"})
    # A reviewer resets a forgotten password (allauth).
    client.logout()
    assert client.post(reverse("account_reset_password"), {"email": rita.email}).status_code == 302
    # The organizer confirms the award and releases the feedback: the team's e-mails go out.
    Award.objects.create(submission=judged.submission, round=round, tier="third", decided_by=olga)
    with django_capture_on_commit_callbacks(execute=True):
        feedback.release_feedback(round=round, by=olga)

    reviewers = {rita.email, newrev.email}
    sent_to = {m.subject: set(m.to + m.cc + m.bcc) for m in mail.outbox}
    to_reviewers = [m for m in mail.outbox if reviewers & set(m.to + m.cc + m.bcc + m.reply_to)]
    kinds = sorted("invitation" if "invit" in m.subject.lower() else "password" for m in to_reviewers)
    assert kinds == ["invitation", "password"], sent_to
    assert all("password" in m.subject.lower() for m in to_reviewers if "invit" not in m.subject.lower())
    for message in to_reviewers:
        for where, text in _as_sent(message):
            _assert_blind(f"{message.subject!r}: {where}", text)
            assert ANSWERS["task_name"] not in text, f"{message.subject!r} tells a reviewer of a submission"
    # The same checks would catch a misrouted e-mail: the team's name the authors.
    to_authors = [m for m in mail.outbox if judged.created_by.email in m.to]
    assert len(to_authors) >= 3, sent_to  # the receipt, the results, the feedback
    assert any("zquint" in text for m in to_authors for _, text in _as_sent(m))
    assert any(name.endswith(".png") for m in to_authors for where, name in _as_sent(m) if "name" in where)
