"""Feedback release: the organizer previews and releases a round's feedback; each contestant gets one e-mail per
submission (reviewers' comments for authors, never a confidential comment or a reviewer's name, the decision, the
private plots), exactly once across releases and crashes; the version page shows the same, only after release."""

import logging
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from accounts.services import grant_role
from evaluation.models import SeriesRelease
from reviews import feedback
from reviews.models import Award, FeedbackEmail, FeedbackRelease, Review
from reviews.services import assign_reviewer, current_rubric
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, UserFactory
from tests.runs_support import finish_run, public_and_private_series, wait_for

CONFIDENTIAL = "CONFIDENTIAL-NOTE-FOR-ORGANIZERS"
JUDGES = ("quill-judge", "oakley-judge", "juniper-judge")
ROWS = list(range(2, 302))


@pytest.fixture
def png(monkeypatch):
    """Kaleido is not under test here: any figure becomes a tiny image."""
    monkeypatch.setattr("evaluation.plots.figure_png", lambda fig, **size: b"\x89PNG\r\n\x1a\nfake")


@pytest.fixture
def judges(db):
    people = [UserFactory(username=name) for name in JUDGES]
    for person in people:
        grant_role(user=person, role=Role.REVIEWER)
    return people


def _finish_runs(version) -> None:
    for run in version.runs.select_related("model"):
        values = [0.5 + run.model.parameter_count / 1e8 + (row % 7) / 100 for row in ROWS]
        finish_run(run, rows=ROWS, values=values)


def _review(submission, judge, olga, n: int) -> Review:
    assignment = assign_reviewer(submission=submission, reviewer=judge, by=olga)
    return Review.objects.create(
        assignment=assignment,
        version=submission.current_version,
        rubric=current_rubric(),
        status=Review.Status.SUBMITTED,
        levels={},
        comment_for_authors=f"Comment {n} for the authors <b>bold</b>",
        confidential_comment=f"{CONFIDENTIAL} {n}",
        criterion_comments={"strength": f"Strength remark {n}"},
    )


def _submission(user, round, valid_csv, *, name):
    version = submit_task(
        user=user,
        round=round,
        answers={**ANSWERS, "task_name": name},
        upload=TaskUpload(name="t.csv", data=valid_csv),
    )
    _finish_runs(version)
    return version.submission


@pytest.fixture
def world(alice, bob, charlie, olga, judges, open_round, valid_csv, png, django_capture_on_commit_callbacks):
    """Alice's team (alice, bob) and charlie's each submitted a task, evaluated on a public and a private series;
    two judges reviewed alice's, one charlie's; the awards are confirmed."""
    public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        ours = _submission(alice, open_round, valid_csv, name="Proverbs & co")
        theirs = _submission(charlie, open_round, valid_csv, name="Charlie task")
    _review(ours, judges[0], olga, 1)
    _review(ours, judges[1], olga, 2)
    _review(theirs, judges[2], olga, 3)
    Award.objects.create(submission=ours, round=open_round, tier="second", decided_by=olga)
    Award.objects.create(submission=theirs, round=open_round, tier="none", decided_by=olga)
    return ours, theirs


def _release(round, olga, capture):
    with capture(execute=True):
        return feedback.release_feedback(round=round, by=olga)


def _parts(message) -> list[str]:
    return [message.subject, message.body, message.alternatives[0][0]]


def _assert_blind(texts: list[str]) -> None:
    for text in texts:
        assert CONFIDENTIAL not in text
        for name in JUDGES:
            assert name not in text


def test_the_preview_shows_comments_and_decision_without_confidential_notes_or_reviewer_names(
    client, olga, world, open_round
):
    ours, _ = world
    client.force_login(olga)
    html = client.get(reverse("feedback_preview", args=[open_round.pk, ours.pk])).content.decode()
    assert "Reviewer 1" in html and "Reviewer 2" in html
    assert "Comment 1 for the authors" in html and "Strength remark 2" in html
    assert "Second prize ($20,000)" in html and "Secret Lab" in html
    assert (
        "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    )  # escaped, in the HTML and the text
    _assert_blind([html])
    page = client.get(reverse("feedback_round", args=[open_round.pk])).content.decode()
    assert "alice@example.org" in page and "charlie@example.org" in page
    assert not FeedbackEmail.objects.exists() and not FeedbackRelease.objects.exists()


@pytest.mark.django_db
def test_release_sends_one_email_per_recipient_and_a_second_release_sends_none(
    world, olga, open_round, django_capture_on_commit_callbacks
):
    ours, _ = world
    outcome = _release(open_round, olga, django_capture_on_commit_callbacks)
    assert (outcome.created, outcome.queued) == (3, 3)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alice@example.org",
        "bob@example.org",
        "charlie@example.org",
    ]
    to_alice = next(m for m in mail.outbox if m.to == ["alice@example.org"])
    subject, text, html = _parts(to_alice)
    assert "Proverbs" in subject and "Second prize" in subject
    assert "Reviewer 1" in text and "Comment 2 for the authors <b>bold</b>" in text  # plain text: as written
    assert "Strength remark 1" in html and "&lt;b&gt;" in html
    assert 'src="cid:secret-lab-scaling@feedback"' in html
    for message in mail.outbox:
        _assert_blind(_parts(message))
    raw = to_alice.message().as_string()
    assert "multipart/related" in raw and "Content-ID: <secret-lab-scaling@feedback>" in raw
    to_charlie = next(m for m in mail.outbox if m.to == ["charlie@example.org"])
    assert "Not accepted" in to_charlie.subject and "Comment 3" in to_charlie.body
    assert "Comment 1" not in to_charlie.body

    sent = FeedbackEmail.objects.filter(status="sent")
    assert sent.count() == 3 and all(e.provider_id.startswith("<") and e.sent_at for e in sent)
    assert SeriesRelease.objects.filter(round=open_round, series__name="Secret Lab").exists()

    again = _release(open_round, olga, django_capture_on_commit_callbacks)
    assert (again.created, again.queued, again.already) == (0, 0, 3)
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_after_a_crash_half_way_a_new_release_sends_each_email_exactly_once(
    world, olga, alice, bob, open_round, django_capture_on_commit_callbacks
):
    ours, theirs = world
    # The crash: the release committed its rows, alice's e-mail went out, bob's task never ran, and the
    # worker died while sending to charlie (claimed: it may have gone out, so it is never sent again by itself).
    with django_capture_on_commit_callbacks(execute=False):
        feedback.release_feedback(round=open_round, by=olga)
    assert feedback.send_feedback_email(email_id=FeedbackEmail.objects.get(to="alice@example.org").pk)
    assert feedback.claim_feedback_email(email_id=FeedbackEmail.objects.get(to="charlie@example.org").pk)
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]

    outcome = _release(open_round, olga, django_capture_on_commit_callbacks)
    assert (outcome.created, outcome.queued, outcome.already) == (0, 1, 2)
    assert [m.to for m in mail.outbox] == [["alice@example.org"], ["bob@example.org"]]
    # A stale delivery of the task of an e-mail already sent sends nothing.
    assert not feedback.send_feedback_email(email_id=FeedbackEmail.objects.get(to="bob@example.org").pk)
    _release(open_round, olga, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2
    assert FeedbackEmail.objects.filter(to="charlie@example.org", status="sending").exists()


@pytest.mark.django_db
def test_a_failed_email_is_logged_shown_and_retried_from_the_log(
    client, world, olga, open_round, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send

    def flaky(message, *args, **kwargs):
        if message.to == ["bob@example.org"]:
            raise ConnectionRefusedError("SMTP server refused")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky)
    with caplog.at_level(logging.WARNING):
        _release(open_round, olga, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 2
    failed = FeedbackEmail.objects.get(to="bob@example.org")
    assert failed.status == "failed" and "SMTP server refused" in failed.error
    assert any(r.getMessage() == "feedback e-mail not sent" for r in caplog.records)

    client.force_login(olga)
    log = client.get(reverse("feedback_log", args=[open_round.pk])).content.decode()
    assert "SMTP server refused" in log and reverse("feedback_retry", args=[open_round.pk, failed.pk]) in log

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("feedback_retry", args=[open_round.pk, failed.pk]))
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "sent" and failed.attempts == 2 and failed.error == ""
    assert [m.to for m in mail.outbox].count(["bob@example.org"]) == 1
    # Retrying what was sent changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("feedback_retry", args=[open_round.pk, failed.pk]))
    assert len(mail.outbox) == 3


@pytest.mark.django_db
def test_the_version_page_shows_feedback_and_private_plots_only_after_release(
    client, world, alice, charlie, olga, open_round, django_capture_on_commit_callbacks
):
    ours, _ = world
    client.force_login(alice)
    before = client.get(reverse("submission_detail", args=[ours.pk])).content.decode()
    assert 'id="feedback"' not in before and "Comment 1 for the authors" not in before
    assert "Secret Lab" not in before

    _release(open_round, olga, django_capture_on_commit_callbacks)
    after = client.get(reverse("submission_detail", args=[ours.pk])).content.decode()
    assert 'id="feedback"' in after and "Second prize ($20,000)" in after
    assert "Reviewer 2" in after and "Comment 2 for the authors" in after and "Strength remark 1" in after
    assert "Secret Lab" in after
    _assert_blind([after])
    client.force_login(charlie)  # another team sees its own feedback, not alice's
    theirs = client.get(reverse("submission_detail", args=[world[1].pk])).content.decode()
    assert "Comment 3" in theirs and "Comment 1" not in theirs


@pytest.mark.django_db
def test_the_version_page_with_feedback_makes_a_constant_number_of_queries(
    client, world, alice, olga, judges, open_round, django_capture_on_commit_callbacks
):
    ours, _ = world
    _release(open_round, olga, django_capture_on_commit_callbacks)
    client.force_login(alice)
    url = reverse("submission_detail", args=[ours.pk])
    client.get(url)  # the evidence is cached after the first view

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    more = [UserFactory(username=f"extra-judge-{n}") for n in range(3)]
    for n, judge in enumerate(more, start=10):
        grant_role(user=judge, role=Role.REVIEWER)
        _review(ours, judge, olga, n)
    assert count() == few


@pytest.mark.django_db
def test_release_is_refused_until_every_award_is_confirmed(world, olga, open_round):
    Award.objects.filter(submission=world[1]).delete()
    with pytest.raises(Exception, match=f"#{world[1].pk}"):
        feedback.release_feedback(round=open_round, by=olga)
    assert not FeedbackRelease.objects.exists()


@pytest.mark.django_db
def test_a_task_submitted_after_the_release_shows_its_decision_when_a_new_release_tells_its_team(
    client, world, olga, open_round, valid_csv, django_capture_on_commit_callbacks
):
    """The site says what the e-mail says, from the same moment: an award confirmed after the release waits for
    *Release again*, which sends its e-mail (and only its e-mail) and shows it on the version page."""
    from tests.factories import ContestantFactory

    _release(open_round, olga, django_capture_on_commit_callbacks)
    sent_before = len(mail.outbox)
    dana = ContestantFactory(username="dana", email="dana@example.org")
    with django_capture_on_commit_callbacks(execute=False):
        late = _submission(dana, open_round, valid_csv, name="Late task")
    client.force_login(dana)
    url = reverse("submission_detail", args=[late.pk])
    page = client.get(url).content.decode()
    assert "Not accepted" not in page and "Decision" not in page  # nobody has decided anything yet
    # The team learns why the round's feedback, out already, says nothing of its task.
    assert "was released on" in page and "before a decision on this task" in page

    client.force_login(olga)
    client.post(
        reverse("round_tally_decide", args=[open_round.pk, late.pk]),
        {"tier": "accepted", "reason": "Late, but sound"},
    )
    assert Award.objects.get(submission=late).released_at is None
    console = client.get(reverse("feedback_round", args=[open_round.pk])).content.decode()
    assert 'id="not-yet-released"' in console and f"#{late.pk}" in console
    client.force_login(dana)
    waiting = client.get(url).content.decode()  # confirmed, but not told yet
    assert "before a decision on this task" in waiting and "Accepted" not in waiting

    outcome = _release(open_round, olga, django_capture_on_commit_callbacks)
    assert outcome.created == 1 and [m.to for m in mail.outbox[sent_before:]] == [["dana@example.org"]]
    told = client.get(url).content.decode()
    assert "Decision: <strong>Accepted" in told and "before a decision on this task" not in told
    client.force_login(olga)
    assert (
        'id="not-yet-released"'
        not in client.get(reverse("feedback_round", args=[open_round.pk])).content.decode()
    )


@pytest.mark.django_db
def test_a_task_withdrawn_after_the_release_is_not_promised_a_decision(
    client, world, olga, open_round, valid_csv, django_capture_on_commit_callbacks
):
    from submissions.services import withdraw_submission
    from tests.factories import ContestantFactory

    _release(open_round, olga, django_capture_on_commit_callbacks)
    dana = ContestantFactory(username="dana")
    with django_capture_on_commit_callbacks(execute=False):
        late = _submission(dana, open_round, valid_csv, name="Late task")
    withdraw_submission(user=dana, submission=late, reason="not ready")
    client.force_login(dana)
    page = client.get(reverse("submission_detail", args=[late.pk])).content.decode()
    assert 'id="feedback"' not in page and "before a decision on this task" not in page


@pytest.mark.django_db
def test_an_award_once_released_is_final_and_the_tally_says_so(
    client, world, alice, olga, open_round, django_capture_on_commit_callbacks
):
    ours, _ = world
    _release(open_round, olga, django_capture_on_commit_callbacks)
    award = Award.objects.get(submission=ours, round=open_round)
    assert award.released_at is not None and award.released_at >= award.decided_at
    client.force_login(olga)
    tally_url = reverse("round_tally", args=[open_round.pk])
    assert "Final: released to the team" in client.get(tally_url).content.decode()

    answer = client.post(
        reverse("round_tally_decide", args=[open_round.pk, ours.pk]),
        {"tier": "third", "reason": "changed our mind"},
        follow=True,
    )
    page = answer.content.decode()
    assert f"Submission {ours.pk}: Its award (second) was released to its team on" in page
    assert "a released award is final" in page
    assert Award.objects.get(pk=award.pk).tier == "second"
    client.force_login(alice)  # the team still reads what its e-mail said
    version_page = client.get(reverse("submission_detail", args=[ours.pk])).content.decode()
    assert "Second prize ($20,000)" in version_page


@pytest.mark.django_db
def test_organizers_edit_the_wording_with_placeholders_escaped_in_html(
    client, world, olga, open_round, django_capture_on_commit_callbacks
):
    ours, _ = world
    client.force_login(olga)
    url = reverse("feedback_round", args=[open_round.pk])
    bad = client.post(url, {"subject": "x", "text": "{% if %}", "html": "<p>{{ task_name }}</p>"})
    assert bad.status_code == 400 and "Template error" in bad.content.decode()
    assert client.post(url, {"subject": "x", "text": "{% debug %}", "html": "y"}).status_code == 400
    wording = {
        "subject": "Your {{ task_name }}: {{ tier }}",
        "text": "{{ task_name }} / {% for r in reviews %}{{ r.reviewer }}: {{ r.comment }}{% endfor %}",
        "html": "<p>{{ task_name }} {% for r in reviews %}{{ r.comment }}{% endfor %}</p>",
    }
    assert client.post(url, wording).status_code == 302
    _release(open_round, olga, django_capture_on_commit_callbacks)
    message = next(m for m in mail.outbox if m.to == ["alice@example.org"])
    assert message.subject == "Your Proverbs & co: Second prize ($20,000)"
    assert "Reviewer 1: Comment 1 for the authors <b>bold</b>" in message.body
    assert "Proverbs &amp; co" in message.alternatives[0][0] and "Proverbs & co /" in message.body
    assert "&lt;b&gt;bold&lt;/b&gt;" in message.alternatives[0][0]
    _assert_blind(_parts(message))


@pytest.mark.django_db
def test_the_command_dry_run_prints_who_would_get_what_and_sends_nothing(
    world, olga, open_round, django_capture_on_commit_callbacks
):
    out = StringIO()
    call_command("release_feedback", "--round", "Round 1", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert "alice@example.org\tProverbs & co\twould send" in lines
    assert "charlie@example.org\tCharlie task\twould send" in lines
    assert lines[-1] == "would queue 3, already handled 0"
    assert mail.outbox == [] and not FeedbackEmail.objects.exists() and not FeedbackRelease.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("release_feedback", "--round", "Round 1", stdout=StringIO())
    assert len(mail.outbox) == 3
    out = StringIO()
    call_command("release_feedback", "--round", "Round 1", "--dry-run", stdout=out)
    assert "alice@example.org\tProverbs & co\talready sent" in out.getvalue().splitlines()


@pytest.mark.slow
def test_a_real_worker_sends_each_feedback_email_once_across_two_releases(
    celery_worker_process, monkeypatch, alice, bob, olga, judges, open_round, valid_csv
):
    monkeypatch.setattr("evaluation.services._send", lambda run_id, queue: None)  # runs are played here
    public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    with transaction.atomic():
        ours = _submission(alice, open_round, valid_csv, name="Proverbs & co")
        _review(ours, judges[0], olga, 1)
        Award.objects.create(submission=ours, round=open_round, tier="third", decided_by=olga)
    with transaction.atomic():
        feedback.release_feedback(round=open_round, by=olga)
    with transaction.atomic():
        feedback.release_feedback(round=open_round, by=olga)  # before or while the worker sends: no repeat

    wait_for(
        lambda: FeedbackEmail.objects.filter(status="sent").count() == 2, seconds=120, what="the e-mails"
    )

    def feedback_mails() -> list[str]:
        files = celery_worker_process.mail_dir.glob("*.log")
        return [text for text in (p.read_text() for p in files) if "The reviews of your task" in text]

    sent = feedback_mails()
    assert len(sent) == 2
    assert sorted(e.to for e in FeedbackEmail.objects.all()) == ["alice@example.org", "bob@example.org"]
    assert all("Comment 1 for the authors" in text and CONFIDENTIAL not in text for text in sent)
    assert all("Content-ID: <secret-lab-scaling@feedback>" in text for text in sent)  # Debian's chromium


@pytest.fixture
def final_round(db, open_round):
    """The second, final round: its tally decides round 1's submissions again (they may be upgraded)."""
    import datetime as dt

    from tests.factories import RoundFactory

    return RoundFactory(name="Round 2 (final)", deadline=open_round.deadline + dt.timedelta(days=60))


@pytest.mark.django_db
def test_the_final_release_tells_round_one_authors_the_final_decision(
    client, world, alice, bob, olga, open_round, final_round, django_capture_on_commit_callbacks
):
    ours, theirs = world
    _release(open_round, olga, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    # The final tally upgrades alice's task; charlie's stays out.
    with pytest.raises(Exception, match=f"#{ours.pk}"):  # every task it decides needs its award first
        feedback.release_feedback(round=final_round, by=olga)
    Award.objects.create(submission=ours, round=final_round, tier="grand", decided_by=olga)
    Award.objects.create(submission=theirs, round=final_round, tier="none", decided_by=olga)

    _release(final_round, olga, django_capture_on_commit_callbacks)

    to_alice = [m for m in mail.outbox if m.to == [alice.email]]
    assert len(to_alice) == 1 and "Round 2 (final)" in to_alice[0].subject
    assert "Grand prize" in to_alice[0].subject or "Grand Prize" in to_alice[0].subject
    assert {tuple(m.to) for m in mail.outbox} == {(alice.email,), (bob.email,), (theirs.created_by.email,)}
    client.force_login(bob)
    page = client.get(reverse("submission_detail", args=[ours.pk])).content.decode()
    assert "final round (Round 2 (final))" in page and "Grand" in page and "Second prize" not in page

    _release(final_round, olga, django_capture_on_commit_callbacks)  # again: nobody is written to twice
    assert len([m for m in mail.outbox if m.to == [alice.email]]) == 1


@pytest.mark.django_db
def test_a_submission_its_team_did_not_keep_neither_blocks_the_release_nor_gets_feedback(
    world, alice, charlie, olga, open_round, valid_csv, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from submissions.models import KeepRequest

    ours, theirs = world
    with django_capture_on_commit_callbacks(execute=False):
        dropped = _submission(charlie, open_round, valid_csv, name="Charlie's second task")
    request = KeepRequest.objects.create(
        round=open_round, team=theirs.team, requested_by=olga, chosen_by=charlie, chosen_at=timezone.now()
    )
    request.kept.add(theirs)

    _release(open_round, olga, django_capture_on_commit_callbacks)

    assert "Charlie's second task" not in [m.subject for m in mail.outbox]
    assert not FeedbackEmail.objects.filter(submission=dropped).exists()
    assert FeedbackEmail.objects.filter(submission=theirs).exists()
