"""The organizer's console without the admin: invitations, roles, the people page, rounds with what blocks their
decisions, a limit of submissions per team and the team's choice of what it keeps."""

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Invitation, Role, Team
from accounts.selectors import roles_of
from accounts.services import change_role, invitation_token, invite, revoke_role
from evaluation.models import EvaluationRun
from evaluation.services import claim_run, fail_run, release_series
from reviews.models import Assignment, Review
from reviews.services import current_rubric
from submissions.models import ANYWHERE_ON_EARTH, KeepRequest, Round
from submissions.services import TaskUpload, ask_team_to_choose, submit_task
from tests.factories import ANSWERS, ContestantFactory, UserFactory
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db


def _fresh(user):
    """The user as a request would load it (a fixture's object keeps the team it had when it was made)."""
    return type(user).objects.get(pk=user.pk)


def _roles(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _submit(user, round, csv, name="Even or odd"):
    return submit_task(
        user=user,
        round=round,
        answers={**ANSWERS, "task_name": name},
        upload=TaskUpload(name="t.csv", data=csv),
    ).submission


@pytest.fixture
def no_worker(django_capture_on_commit_callbacks):
    """Runs stay queued: the tests play the worker."""
    with django_capture_on_commit_callbacks(execute=False):
        yield


# Invitations ----------------------------------------------------------------------------------------------------


def _accept_url(invitation) -> str:
    return reverse("invitation_accept", args=[invitation_token(invitation)])


def test_an_invitation_e_mails_a_signed_link_that_gives_the_role_once(client, olga):
    invitation = invite(email="rev@example.org", role=Role.REVIEWER, by=olga)
    (message,) = mail.outbox
    assert message.to == ["rev@example.org"] and "reviewer" in message.subject
    link = re.search(r"http://\S+/invitations/\S+/", message.body).group(0)
    assert link in message.alternatives[0][0]
    accept = urlsplit(link).path

    newcomer = UserFactory(username="newcomer", email="Rev@Example.org")
    client.force_login(newcomer)
    page = client.get(accept)
    assert page.status_code == 200 and "Accept as newcomer" in page.content.decode()
    assert Role.REVIEWER not in _roles(newcomer)  # opening the link is not accepting it
    assert client.post(accept).status_code == 302
    assert _roles(newcomer) == {"reviewer"}
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer and invitation.accepted_at

    assert client.post(accept).status_code == 302  # again: nothing more happens
    assert newcomer.groups.count() == 1
    other = UserFactory(username="other", email="rev@example.org")
    client.force_login(other)
    refused = client.post(accept)
    assert refused.status_code == 400 and "already been accepted" in refused.content.decode()
    assert _roles(other) == set()


def test_an_expired_invitation_is_refused_and_says_so(client, olga, monkeypatch):
    invitation = invite(email="late@example.org", role=Role.ORGANIZER, by=olga)
    monkeypatch.setattr("accounts.services.INVITATION_VALID_FOR", dt.timedelta(seconds=-1))
    late = UserFactory(username="late", email="late@example.org")
    client.force_login(late)
    response = client.post(_accept_url(invitation))
    assert response.status_code == 400 and "This invitation expired" in response.content.decode()
    assert _roles(late) == set() and not late.is_staff


def test_an_invitation_opened_by_another_account_is_refused(client, olga, charlie):
    invitation = invite(email="someone@example.org", role=Role.ORGANIZER, by=olga)
    client.force_login(charlie)
    response = client.post(_accept_url(invitation))
    assert response.status_code == 400
    assert "sent to someone@example.org, which is not an address of your account" in response.content.decode()
    assert Role.ORGANIZER not in _roles(charlie)
    assert Invitation.objects.get().accepted_by is None


def test_an_anonymous_visitor_is_asked_to_sign_in_or_up_and_come_back(client, olga):
    invitation = invite(email="x@example.org", role=Role.REVIEWER, by=olga)
    html = client.get(_accept_url(invitation)).content.decode()
    assert "Sign in" in html and "Create an account" in html and "next=" in html


def test_a_contestant_without_submissions_who_becomes_a_reviewer_leaves_the_contest(client, olga, charlie):
    invitation = invite(email="charlie@example.org", role=Role.REVIEWER, by=olga)
    team = charlie.membership.team
    client.force_login(charlie)
    client.post(_accept_url(invitation))
    charlie.refresh_from_db()
    assert _roles(charlie) == {"reviewer"}
    assert not hasattr(charlie, "membership") and not Team.objects.filter(pk=team.pk).exists()


def test_a_contestant_whose_team_submitted_cannot_become_a_reviewer(
    client, olga, alice, open_round, valid_csv, no_worker
):
    _submit(alice, open_round, valid_csv)
    invitation = invite(email="alice@example.org", role=Role.REVIEWER, by=olga)
    client.force_login(alice)
    response = client.post(_accept_url(invitation))
    assert response.status_code == 400 and "has submitted tasks" in response.content.decode()
    with pytest.raises(ValidationError, match="reviewers may not compete"):
        change_role(user=alice, role=Role.REVIEWER, by=olga)
    assert _roles(alice) == {"contestant"} and alice.membership.team.submissions.count() == 1


def test_only_organizers_invite_and_only_to_reviewer_or_organizer(client, olga, rita):
    with pytest.raises(PermissionDenied):
        invite(email="x@example.org", role=Role.REVIEWER, by=rita)
    with pytest.raises(ValidationError):
        invite(email="x@example.org", role=Role.CONTESTANT, by=olga)
    client.force_login(olga)
    response = client.post(reverse("people_invite"), {"email": "new@example.org", "role": "organizer"})
    assert response.status_code == 302 and Invitation.objects.get().role == "organizer"
    assert "new@example.org" in client.get(reverse("people")).content.decode()  # pending


# Roles ----------------------------------------------------------------------------------------------------------


def test_the_last_organizer_cannot_lose_the_role(client, olga):
    client.force_login(olga)
    response = client.post(
        reverse("people_role", args=[olga.pk]), {"role": "organizer", "action": "revoke"}, follow=True
    )
    assert "olga is the last organizer" in response.content.decode()
    assert "organizer" in _roles(olga)


def test_an_organizer_grants_and_revokes_roles(client, olga, rita):
    client.force_login(olga)
    client.post(reverse("people_role", args=[rita.pk]), {"role": "organizer", "action": "grant"})
    rita.refresh_from_db()
    assert _roles(rita) == {"reviewer", "organizer"} and rita.is_staff
    response = client.post(
        reverse("people_role", args=[olga.pk]), {"role": "organizer", "action": "revoke"}, follow=True
    )
    assert "olga is no longer organizer" in response.content.decode()
    olga.refresh_from_db()
    assert _roles(olga) == set() and not olga.is_staff
    revoke_role(user=rita, role=Role.REVIEWER, by=rita)
    assert _roles(rita) == {"organizer"}
    with pytest.raises(ValidationError, match="last organizer"):
        revoke_role(user=rita, role=Role.ORGANIZER, by=rita)


def test_who_is_not_an_organizer_changes_no_role(alice, rita):
    with pytest.raises(PermissionDenied):
        change_role(user=alice, role=Role.ORGANIZER, by=rita)
    assert roles_of(alice) == {"contestant"}


def test_the_people_page_searches_and_filters_by_role(client, olga, alice, charlie, rita):
    client.force_login(olga)
    html = client.get(reverse("people") + "?q=ALI").content.decode()
    assert 'data-person="alice"' in html and 'data-person="charlie"' not in html
    html = client.get(
        reverse("people") + "?q=Team+charlie"
    ).content.decode()  # a team's name finds its members
    assert 'data-person="charlie"' in html and 'data-person="alice"' not in html
    html = client.get(reverse("people") + "?role=reviewer").content.decode()
    assert 'data-person="rita"' in html and 'data-person="alice"' not in html and "Revoke reviewer" in html


# Rounds ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def evaluated(alice, charlie, open_round, valid_csv, no_worker):
    """Two submissions evaluated on a public and a private series; the middle model of each series failed on
    alice's task. Alice's task has one submitted review of two assigned."""
    public, private = public_and_private_series((1_000_000, 10_000_000, 100_000_000))
    mine = _submit(alice, open_round, valid_csv, "Alice's task")
    theirs = _submit(charlie, open_round, valid_csv, "Charlie's task")
    for run in EvaluationRun.objects.select_related("model", "version__submission"):
        if run.model.name.endswith("-1") and run.version.submission == mine:
            fail_run(run_id=run.pk, token=claim_run(run_id=run.pk, worker="t"), reason="Out of memory")
        else:
            finish_run(run, rows=list(range(2, 302)), values=[1.0] * 300)
    for name, submitted in (("r1", True), ("r2", False)):
        assignment = Assignment.objects.create(submission=mine, reviewer=UserFactory(username=name))
        Review.objects.create(
            assignment=assignment,
            version=mine.current_version,
            rubric=current_rubric(),
            status="submitted" if submitted else "draft",
        )
    return {"mine": mine, "theirs": theirs, "private": private, "round": open_round}


def test_the_round_page_shows_runs_coverage_and_what_blocks_decisions(client, olga, evaluated):
    client.force_login(olga)
    html = client.get(reverse("round_console", args=[evaluated["round"].pk])).content.decode()
    for blocker in (
        "Submissions are open until",
        "2 runs failed",
        "2 submissions have fewer than 3 submitted reviews",
        "Private series Secret Lab not released",
        "Review deadline not set",
        "Feedback date not set",
    ):
        assert blocker in html
    row = html.split(f'data-submission="{evaluated["mine"].pk}"')[1].split("</tr>")[0]
    assert "4 succeeded" in row and "2 failed" in row and "1 / 2" in row
    assert html.count("data-failed-run=") == 2 and "Out of memory" in html and "Retry" in html


def test_retrying_a_failed_run_from_the_round_page_comes_back_to_it(client, olga, evaluated, no_worker):
    run = EvaluationRun.objects.filter(status="failed").first()
    console = reverse("round_console", args=[evaluated["round"].pk])
    client.force_login(olga)
    response = client.post(reverse("run_retry", args=[run.pk]), {"next": console})
    assert response.status_code == 302 and response.url == console
    run.refresh_from_db()
    assert run.status == "queued"
    html = client.get(console).content.decode()
    assert "1 run failed" in html and "1 run still queued or running" in html
    elsewhere = client.post(
        reverse("run_retry", args=[EvaluationRun.objects.filter(status="failed").get().pk]),
        {"next": "https://evil.example/"},
    )
    assert elsewhere.url.startswith("/submissions/")  # never sent off the site


def test_a_round_whose_dates_are_set_and_series_released_is_blocked_only_by_what_remains(
    client, olga, evaluated, closed_round
):
    round = evaluated["round"]
    round.deadline = dt.date.today() - dt.timedelta(days=2)
    round.review_deadline = round.feedback_date = dt.date.today()
    round.save()
    release_series(series=evaluated["private"], round=round, user=olga)
    client.force_login(olga)
    html = client.get(reverse("round_console", args=[round.pk])).content.decode()
    assert "not released" not in html and "not set" not in html and "are open until" not in html
    assert "2 runs failed" in html


def test_the_round_page_makes_as_many_queries_for_many_submissions_as_for_one(
    client, olga, open_round, valid_csv, no_worker
):
    public_and_private_series((1_000_000, 10_000_000))
    console = reverse("round_console", args=[open_round.pk])
    client.force_login(olga)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(console).status_code == 200
        return len(captured)

    def add_submission(i: int) -> None:
        contestant = ContestantFactory(username=f"c{i}")
        submission = _submit(contestant, open_round, valid_csv, f"Task {i}")
        run = submission.current_version.runs.first()
        fail_run(run_id=run.pk, token=claim_run(run_id=run.pk, worker="t"), reason="boom")
        Assignment.objects.create(submission=submission, reviewer=UserFactory(username=f"rev{i}"))
        ask_team_to_choose(
            round=open_round, team=contestant.membership.team, keep_at_most=1, note="", by=olga
        )

    add_submission(0)
    one = queries()
    for i in range(1, 4):
        add_submission(i)
    assert queries() == one
    html = client.get(console).content.decode()
    assert html.count("data-submission=") == 4 and html.count("data-failed-run=") == 4


def test_an_organizer_creates_and_edits_a_round_with_days_anywhere_on_earth(client, olga):
    client.force_login(olga)
    response = client.post(
        reverse("rounds"),
        {
            "round-name": "Round 3",
            "round-opens": "2023-01-02",
            "round-deadline": "2023-02-27",
            "round-review_deadline": "2023-03-10",
            "round-feedback_date": "",
            "round-max_submissions_per_team": "2",
        },
    )
    round = Round.objects.get(name="Round 3")
    assert response.url == reverse("round_console", args=[round.pk])
    assert round.opens_at == dt.datetime(2023, 1, 2, tzinfo=ANYWHERE_ON_EARTH)
    assert round.review_deadline == dt.date(2023, 3, 10) and round.max_submissions_per_team == 2
    assert round.feedback_date is None
    refused = client.post(
        reverse("round_console", args=[round.pk]),
        {
            "round-name": "Round 3",
            "round-opens": "2023-01-02",
            "round-deadline": "2023-02-27",
            "round-review_deadline": "2023-02-01",
        },
    )
    assert refused.status_code == 400
    assert "This comes on or after the submission deadline." in refused.content.decode()
    round.refresh_from_db()
    assert round.review_deadline == dt.date(2023, 3, 10)
    assert "Round 3" in client.get(reverse("rounds")).content.decode()


# A limit per team, and the team's choice of what it keeps ----------------------------------------------------------


def test_a_team_at_the_rounds_limit_cannot_start_another_submission(
    client, alice, bob, open_round, valid_csv, no_worker
):
    open_round.max_submissions_per_team = 1
    open_round.save()
    first = _submit(alice, open_round, valid_csv)
    message = "Round 1 accepts at most 1 submission per team, and Team alice has 1 already."
    with pytest.raises(PermissionDenied, match=message):
        _submit(_fresh(bob), open_round, valid_csv, "Another")
    client.force_login(bob)
    page = client.get(reverse("submission_create", args=[open_round.pk]))
    assert page.status_code == 403 and message in page.content.decode()
    edited = submit_task(  # editing the one it has is still allowed
        user=_fresh(bob),
        round=open_round,
        answers={**ANSWERS, "task_name": "Renamed"},
        upload=None,
        submission=first,
    )
    assert edited.number == 2


def test_a_team_asked_to_choose_marks_what_it_keeps(
    client, olga, alice, bob, charlie, open_round, valid_csv, no_worker
):
    first = _submit(alice, open_round, valid_csv, "First")
    second = _submit(_fresh(bob), open_round, valid_csv, "Second")
    _submit(charlie, open_round, valid_csv, "Charlie's")
    client.force_login(olga)
    team = alice.membership.team
    response = client.post(
        reverse("round_keep_request", args=[open_round.pk]),
        {"keep-team": team.pk, "keep-keep_at_most": 1, "keep-note": "Two tasks on the same idea."},
    )
    assert response.status_code == 302
    console = reverse("round_console", args=[open_round.pk])
    assert "1 team not yet chosen what to keep: Team alice" in client.get(console).content.decode()

    client.force_login(bob)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "ask your team to choose" in dashboard and "Two tasks on the same idea." in dashboard
    keep = reverse("keep_choice", args=[open_round.pk])
    too_many = client.post(keep, {"kept": [first.pk, second.pk]})
    assert too_many.status_code == 400 and "Keep at most 1; you chose 2." in too_many.content.decode()
    assert client.post(keep, {"kept": [second.pk]}).status_code == 302
    request = KeepRequest.objects.get()
    assert list(request.kept.all()) == [second] and request.chosen_by == bob
    assert "Your team keeps 1 submission" in client.get(reverse("dashboard")).content.decode()

    client.force_login(charlie)  # another team is not asked, and cannot answer for alice's
    assert client.get(keep).status_code == 404
    from submissions.services import choose_submissions_to_keep

    with pytest.raises(PermissionDenied):
        choose_submissions_to_keep(request=request, user=charlie, submission_ids=[first.pk])

    client.force_login(olga)
    assert "not yet chosen" not in client.get(console).content.decode()


def test_a_team_must_keep_one_of_its_own_submissions(alice, charlie, olga, open_round, valid_csv, no_worker):
    from submissions.services import choose_submissions_to_keep

    _submit(alice, open_round, valid_csv)
    theirs = _submit(charlie, open_round, valid_csv)
    request = ask_team_to_choose(
        round=open_round, team=alice.membership.team, keep_at_most=1, note="", by=olga
    )
    for chosen in ([], [theirs.pk]):
        with pytest.raises(ValidationError, match="Choose at least one"):
            choose_submissions_to_keep(request=request, user=alice, submission_ids=chosen)
    assert not request.is_answered
