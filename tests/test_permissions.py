"""Who may open which page: anonymous, the owner, a teammate, another team, a reviewer not assigned, the assigned
reviewer, an organizer."""

import re
from dataclasses import dataclass
from types import ModuleType

import pytest
from django.urls import reverse

from evaluation.models import EvaluationRun, ModelSeries
from evaluation.services import claim_run, fail_run
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, UserFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


@pytest.fixture
def rhea(olga, submission):
    """A reviewer assigned to alice's submission (rita is a reviewer assigned to nothing)."""
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer

    user = UserFactory(username="rhea")
    grant_role(user=user, role=Role.REVIEWER)
    assign_reviewer(submission=submission, reviewer=user, by=olga)
    return user


@pytest.fixture
def people(alice, bob, charlie, rita, rhea, olga):
    return {
        "anonymous": None,
        "alice": alice,
        "bob": bob,
        "charlie": charlie,
        "rita": rita,
        "rhea": rhea,
        "olga": olga,
    }


@pytest.fixture
def series(db):
    """A public series and a private one that is not released to the round, each with two models that
    succeeded and one that failed."""
    return public_and_private_series((1_000_000, 10_000_000, 100_000_000))


def _finish(run: EvaluationRun, *, fail: bool) -> None:
    if fail:
        token = claim_run(run_id=run.pk, worker="test")
        fail_run(run_id=run.pk, token=token, reason="The model's context is too short")
        return
    rows = list(range(2, 302))
    values = [0.5 + run.model.parameter_count / 1e9 + (row % 7) / 100 for row in rows]
    finish_run(run, rows=rows, values=values)


@pytest.fixture
def submission(alice, open_round, valid_csv, series, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
    for run in version.runs.select_related("model"):
        _finish(run, fail=run.model.name.endswith("-2"))
    return version.submission


@pytest.fixture
def png_export(monkeypatch):
    """The PNG endpoint's permissions are under test here, not kaleido: any figure becomes a tiny image."""
    monkeypatch.setattr("evaluation.plots.figure_png", lambda fig, **size: b"\x89PNG\r\n\x1a\nfake")


@dataclass
class World:
    submission: object
    round: object
    public: ModelSeries
    private: ModelSeries
    conflict: object  # one rhea declared

    def submitted_review(self) -> int:
        """The id of rhea's review of the submission, submitted (each call submits it again if unlocked)."""
        from reviews.models import Assignment, Review
        from reviews.services import current_rubric

        assignment = Assignment.objects.get(submission=self.submission, reviewer__username="rhea")
        review, _ = Review.objects.get_or_create(
            assignment=assignment,
            defaults={"version": self.submission.current_version, "rubric": current_rubric()},
        )
        Review.objects.filter(pk=review.pk).update(status=Review.Status.SUBMITTED)
        return review.pk

    def keep_choice(self) -> str:
        """The team's page to choose what it keeps, once olga asked it to."""
        from submissions.models import KeepRequest

        KeepRequest.objects.get_or_create(
            round=self.round,
            team=self.submission.team,
            defaults={"requested_by": self.submission.created_by},
        )
        return reverse("keep_choice", args=[self.round.pk])

    def invitation(self) -> str:
        from accounts.models import Invitation
        from accounts.services import invitation_token

        invitation = Invitation.objects.create(
            email="new@example.org", role="reviewer", invited_by=self.submission.created_by
        )
        return reverse("invitation_accept", args=[invitation_token(invitation)])

    def failed_feedback_email(self) -> int:
        """The id of a feedback e-mail to alice that failed (the one a retry is for)."""
        from reviews.models import FeedbackEmail

        alice = self.submission.created_by
        email, _ = FeedbackEmail.objects.get_or_create(
            round=self.round,
            submission=self.submission,
            recipient=alice,
            defaults={"to": alice.email, "status": FeedbackEmail.Status.FAILED},
        )
        FeedbackEmail.objects.filter(pk=email.pk).update(status=FeedbackEmail.Status.FAILED)
        return email.pk

    def run(self, series: ModelSeries) -> int:
        """The id of the series' failed run (the one a retry is for)."""
        return EvaluationRun.objects.get(
            version__submission=self.submission, model__series=series, status="failed"
        ).pk


MISSING = 999_999

GET, POST = "get", "post"
SEES_IT = dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, rhea=200, olga=200)
SEES_NOTHING = dict(anonymous="login", alice=404, bob=404, charlie=404, rita=404, rhea=404, olga=404)
ONLY_RHEA = {**SEES_NOTHING, "rhea": 200}
# Only organizers and assigned reviewers see a private series that is not released for the round.
SEES_PRIVATE = dict(anonymous="login", alice=404, bob=404, charlie=404, rita=404, rhea=200, olga=200)
# Who may see a run but not retry it is sent back to the version page with the reason (a 302 as well).
RETRY = dict(anonymous="login", alice=302, bob=302, charlie=404, rita=404, rhea=302, olga=302)
RETRY_PRIVATE = dict(anonymous="login", alice=404, bob=404, charlie=404, rita=404, rhea=302, olga=302)
# Pages only organizers use: everyone else is told so (403), anonymous visitors are sent to log in.
ORGANIZER_ONLY = dict(anonymous="login", alice=403, bob=403, charlie=403, rita=403, rhea=403, olga=200)
ADMIN = dict(anonymous="admin-login", alice="admin-login", bob="admin-login", charlie="admin-login")
ADMIN |= dict(rita="admin-login", rhea="admin-login", olga=200)


def _png(w, series, kind="scaling", *, pk=None):
    return reverse("figure_png", args=[pk or w.submission.pk, 1, series.pk, kind])


# Every endpoint, for every kind of person: (method, url, expected status). "login" means a redirect to the
# login page; "admin-login" to the admin's. Objects a person may not see answer 404, like ids that do not exist.
MATRIX = {
    "home": (GET, lambda w: reverse("home"), dict.fromkeys(SEES_IT, 200)),
    "contest": (GET, lambda w: reverse("contest"), dict.fromkeys(SEES_IT, 200)),
    "contest_example": (
        GET,
        lambda w: reverse("contest_example", args=["logodds"]),
        dict.fromkeys(SEES_IT, 200),
    ),
    "contest_example of a missing metric": (
        GET,
        lambda w: reverse("contest_example", args=["nonsense"]),
        dict.fromkeys(SEES_IT, 404),
    ),
    "contest_text_edit": (GET, lambda w: reverse("contest_text_edit", args=["faq"]), ORGANIZER_ONLY),
    "contest_text_edit (saving)": (
        POST,
        lambda w: reverse("contest_text_edit", args=["faq"]),
        {**ORGANIZER_ONLY, "olga": 200},  # an empty POST is a form with nothing chosen: shown again
    ),
    "contest_text_edit of a missing section": (
        GET,
        lambda w: reverse("contest_text_edit", args=["nonsense"]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "benchmark_zip": (GET, lambda w: reverse("benchmark_zip"), ORGANIZER_ONLY),
    "round_overview": (GET, lambda w: reverse("round_overview", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_overview_csv": (GET, lambda w: reverse("round_overview_csv", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_overview_json": (GET, lambda w: reverse("round_overview_json", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_overview of a missing round": (
        GET,
        lambda w: reverse("round_overview", args=[MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "dashboard": (GET, lambda w: reverse("dashboard"), {**dict.fromkeys(SEES_IT, 200), "anonymous": "login"}),
    "team": (GET, lambda w: reverse("team"), {**dict.fromkeys(SEES_IT, 200), "anonymous": "login"}),
    "submission_create": (
        GET,
        lambda w: reverse("submission_create", args=[w.round.pk]),
        dict(anonymous="login", alice=200, bob=200, charlie=200, rita=403, rhea=403, olga=403),
    ),
    "submission_create of a missing round": (
        GET,
        lambda w: reverse("submission_create", args=[MISSING]),
        SEES_NOTHING,
    ),
    "submission_detail": (GET, lambda w: reverse("submission_detail", args=[w.submission.pk]), SEES_IT),
    "version_detail": (GET, lambda w: reverse("version_detail", args=[w.submission.pk, 1]), SEES_IT),
    "version_download": (GET, lambda w: reverse("version_download", args=[w.submission.pk, 1]), SEES_IT),
    # An organizer or a reviewer may read a submission but not edit a team's task: they are sent back to it.
    "submission_edit": (
        GET,
        lambda w: reverse("submission_edit", args=[w.submission.pk]),
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, rhea=302, olga=302),
    ),
    # The confirmation page: the team sees it; an organizer or assigned reviewer is sent back with the reason.
    "submission_withdraw": (
        GET,
        lambda w: reverse("submission_withdraw", args=[w.submission.pk]),
        dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, rhea=302, olga=302),
    ),
    # The submission is not withdrawn: whoever sees it is sent back with the reason (it changes nothing).
    "submission_reinstate": (
        POST,
        lambda w: reverse("submission_reinstate", args=[w.submission.pk]),
        dict(anonymous="login", alice=302, bob=302, charlie=404, rita=404, rhea=302, olga=302),
    ),
    "version_example": (GET, lambda w: reverse("version_example", args=[w.submission.pk, 1, 2]), SEES_IT),
    "evaluation_status": (GET, lambda w: reverse("evaluation_status", args=[w.submission.pk, 1]), SEES_IT),
    "evidence_fragment": (GET, lambda w: reverse("evidence_fragment", args=[w.submission.pk, 1]), SEES_IT),
    "verdicts_help": (
        GET,
        lambda w: reverse("verdicts_help"),
        {**dict.fromkeys(SEES_IT, 200), "anonymous": "login"},
    ),
    "examples_drill_down": (
        GET,
        lambda w: reverse("examples_drill_down", args=[w.submission.pk, 1]),
        SEES_IT,
    ),
    # A hidden model is answered like a missing one: the page falls back to a model the viewer may see.
    "examples_drill_down of a private model": (
        GET,
        lambda w: (
            reverse("examples_drill_down", args=[w.submission.pk, 1])
            + f"?model={w.private.models.first().pk}&sort=nonsense&page=999"
        ),
        SEES_IT,
    ),
    "results_csv": (GET, lambda w: reverse("results_csv", args=[w.submission.pk, 1]), SEES_IT),
    "results_json": (GET, lambda w: reverse("results_json", args=[w.submission.pk, 1]), SEES_IT),
    "figure_png of a public series": (GET, lambda w: _png(w, w.public), SEES_IT),
    "figure_png of a public series' accuracy": (GET, lambda w: _png(w, w.public, "accuracy"), SEES_IT),
    "figure_png of a private series": (GET, lambda w: _png(w, w.private), SEES_PRIVATE),
    "figure_png of a missing kind": (GET, lambda w: _png(w, w.public, "nonsense"), SEES_NOTHING),
    "run_retry of a public series' run": (
        POST,
        lambda w: reverse("run_retry", args=[w.run(w.public)]),
        RETRY,
    ),
    "run_retry of a private series' run": (
        POST,
        lambda w: reverse("run_retry", args=[w.run(w.private)]),
        RETRY_PRIVATE,
    ),
    # Reviewers alone declare their conflicts of interest; a reviewer withdraws only one they declared.
    "reviewer_conflicts": (
        GET,
        lambda w: reverse("reviewer_conflicts"),
        dict(anonymous="login", alice=403, bob=403, charlie=403, rita=200, rhea=200, olga=403),
    ),
    "conflict_withdraw": (
        POST,
        lambda w: reverse("conflict_withdraw", args=[w.conflict.pk]),
        dict(anonymous="login", alice=403, bob=403, charlie=403, rita=404, rhea=302, olga=403),
    ),
    "conflict_withdraw (missing id)": (
        POST,
        lambda w: reverse("conflict_withdraw", args=[MISSING]),
        dict(anonymous="login", alice=403, bob=403, charlie=403, rita=404, rhea=404, olga=403),
    ),
    "admin change page of the submission": (
        GET,
        lambda w: reverse("admin:submissions_submission_change", args=[w.submission.pk]),
        ADMIN,
    ),
    "admin change page of a run": (
        GET,
        lambda w: reverse("admin:evaluation_evaluationrun_change", args=[w.run(w.private)]),
        ADMIN,
    ),
    # Only the assigned reviewer reaches the review form; organizers read reviews on the submission's page.
    "review_page": (GET, lambda w: reverse("review_page", args=[w.submission.pk]), ONLY_RHEA),
    "spot_check": (GET, lambda w: reverse("spot_check", args=[w.submission.pk]), ONLY_RHEA),
    "review_autosave": (POST, lambda w: reverse("review_autosave", args=[w.submission.pk]), ONLY_RHEA),
    # Organizers, and reviewers whose own review is submitted (rhea's is not, here), post to the discussion.
    "discussion_post": (
        POST,
        lambda w: reverse("discussion_post", args=[w.submission.pk]),
        {**SEES_NOTHING, "olga": 302},
    ),
    "review_unlock": (
        POST,
        lambda w: reverse("review_unlock", args=[w.submitted_review()]),
        {**SEES_NOTHING, "olga": 302},
    ),
    # The prize tally of a round: organizers alone; its forms send them back to the page.
    "round_tally": (GET, lambda w: reverse("round_tally", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_tally (missing id)": (
        GET,
        lambda w: reverse("round_tally", args=[MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "round_tally_audit": (GET, lambda w: reverse("round_tally_audit", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_tally_rule": (
        POST,
        lambda w: reverse("round_tally_rule", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "round_tally_ranks": (
        POST,
        lambda w: reverse("round_tally_ranks", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "round_tally_decide": (
        POST,
        lambda w: reverse("round_tally_decide", args=[w.round.pk, w.submission.pk]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    # The organizer console: people and roles, rounds. An empty POST is a form with nothing filled in: shown
    # again with its errors (400), or, for a role change with no role chosen, sent back with the reason.
    "people": (GET, lambda w: reverse("people") + "?q=al&role=contestant", ORGANIZER_ONLY),
    "people_invite": (POST, lambda w: reverse("people_invite"), {**ORGANIZER_ONLY, "olga": 400}),
    "people_role": (
        POST,
        lambda w: reverse("people_role", args=[w.submission.created_by_id]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "people_role (missing id)": (
        POST,
        lambda w: reverse("people_role", args=[MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "rounds": (GET, lambda w: reverse("rounds"), ORGANIZER_ONLY),
    "rounds (creating)": (POST, lambda w: reverse("rounds"), {**ORGANIZER_ONLY, "olga": 400}),
    "round_console": (GET, lambda w: reverse("round_console", args=[w.round.pk]), ORGANIZER_ONLY),
    "round_console (saving)": (
        POST,
        lambda w: reverse("round_console", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 400},
    ),
    "round_console (missing id)": (
        GET,
        lambda w: reverse("round_console", args=[MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "round_keep_request": (
        POST,
        lambda w: reverse("round_keep_request", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 400},
    ),
    # Only the team that was asked chooses what it keeps; nobody else learns it was asked.
    "keep_choice": (GET, lambda w: w.keep_choice(), {**SEES_NOTHING, "alice": 200, "bob": 200}),
    "keep_choice (missing id)": (GET, lambda w: reverse("keep_choice", args=[MISSING]), SEES_NOTHING),
    # An invitation's link opens for anyone who holds it (sign in, then accept); a forged one is refused.
    "invitation_accept": (GET, lambda w: w.invitation(), dict.fromkeys(SEES_IT, 200)),
    "invitation_accept (forged)": (
        GET,
        lambda w: reverse("invitation_accept", args=["forged:token"]),
        dict.fromkeys(SEES_IT, 400),
    ),
    # Feedback release: organizers alone. The round's award is not confirmed, so releasing sends them back.
    "feedback_round": (GET, lambda w: reverse("feedback_round", args=[w.round.pk]), ORGANIZER_ONLY),
    "feedback_round (saving)": (
        POST,
        lambda w: reverse("feedback_round", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 400},  # an empty wording is refused and shown again
    ),
    "feedback_round (missing id)": (
        GET,
        lambda w: reverse("feedback_round", args=[MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "feedback_preview": (
        GET,
        lambda w: reverse("feedback_preview", args=[w.round.pk, w.submission.pk]),
        ORGANIZER_ONLY,
    ),
    "feedback_preview (missing id)": (
        GET,
        lambda w: reverse("feedback_preview", args=[w.round.pk, MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
    "feedback_release": (
        GET,
        lambda w: reverse("feedback_release", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "feedback_release (releasing)": (
        POST,
        lambda w: reverse("feedback_release", args=[w.round.pk]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "feedback_log": (GET, lambda w: reverse("feedback_log", args=[w.round.pk]), ORGANIZER_ONLY),
    "feedback_retry": (
        POST,
        lambda w: reverse("feedback_retry", args=[w.round.pk, w.failed_feedback_email()]),
        {**ORGANIZER_ONLY, "olga": 302},
    ),
    "feedback_retry (missing id)": (
        POST,
        lambda w: reverse("feedback_retry", args=[w.round.pk, MISSING]),
        {**ORGANIZER_ONLY, "olga": 404},
    ),
}
# The same object endpoints with ids that do not exist: 404 for everyone who is logged in.
MISSING_IDS = {
    "submission_detail": lambda w: reverse("submission_detail", args=[MISSING]),
    "version_detail": lambda w: reverse("version_detail", args=[MISSING, 1]),
    "version_download": lambda w: reverse("version_download", args=[MISSING, 1]),
    "version_download of a missing version": lambda w: reverse("version_download", args=[w.submission.pk, 9]),
    "submission_edit": lambda w: reverse("submission_edit", args=[MISSING]),
    "submission_withdraw": lambda w: reverse("submission_withdraw", args=[MISSING]),
    "version_example": lambda w: reverse("version_example", args=[MISSING, 1, 2]),
    "version_example of a missing row": lambda w: reverse("version_example", args=[w.submission.pk, 1, 9999]),
    "evaluation_status": lambda w: reverse("evaluation_status", args=[MISSING, 1]),
    "evaluation_status of a missing version": lambda w: reverse(
        "evaluation_status", args=[w.submission.pk, 9]
    ),
    "evidence_fragment": lambda w: reverse("evidence_fragment", args=[MISSING, 1]),
    "examples_drill_down": lambda w: reverse("examples_drill_down", args=[MISSING, 1]),
    "examples_drill_down of a missing version": lambda w: reverse(
        "examples_drill_down", args=[w.submission.pk, 9]
    ),
    "results_csv": lambda w: reverse("results_csv", args=[MISSING, 1]),
    "results_json": lambda w: reverse("results_json", args=[w.submission.pk, 9]),
    "figure_png": lambda w: _png(w, w.public, pk=MISSING),
    "figure_png of a missing series": lambda w: reverse(
        "figure_png", args=[w.submission.pk, 1, MISSING, "scaling"]
    ),
}
MATRIX |= {f"{name} (missing id)": (GET, url, SEES_NOTHING) for name, url in MISSING_IDS.items()}
MATRIX["submission_reinstate (missing id)"] = (
    POST,
    lambda w: reverse("submission_reinstate", args=[MISSING]),
    SEES_NOTHING,
)
MATRIX["run_retry (missing id)"] = (POST, lambda w: reverse("run_retry", args=[MISSING]), SEES_NOTHING)
MATRIX["review_page (missing id)"] = (GET, lambda w: reverse("review_page", args=[MISSING]), SEES_NOTHING)
MATRIX["review_unlock (missing id)"] = (
    POST,
    lambda w: reverse("review_unlock", args=[MISSING]),
    SEES_NOTHING,
)


# --- Reproductions (issue #13) ----------------------------------------------------------------------------
# Organizers and the assigned reviewer alone see or attach a reproduction; the team, another team and a reviewer
# not assigned are answered as for a page that does not exist.
def _reproduction(w) -> int:
    """The id of a reproduction of the submission that olga attached (attached on first use)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from evaluation.models import Reproduction
    from evaluation.services import create_reproduction

    found = Reproduction.objects.filter(version__submission=w.submission).first()
    if found is None:
        with transaction.atomic():
            found = create_reproduction(
                user=get_user_model().objects.get(username="olga"),
                submission=w.submission,
                upload=TaskUpload(name="remake.csv", data=make_task_csv(310)),
            )
    return found.pk


SEES_REPRODUCTIONS = {**SEES_NOTHING, "rhea": 200, "olga": 200}
MATRIX |= {
    "reproductions": (GET, lambda w: reverse("reproductions", args=[w.submission.pk]), SEES_REPRODUCTIONS),
    # An empty POST is a form without its file: shown again with the reason.
    "reproductions (attaching)": (
        POST,
        lambda w: reverse("reproductions", args=[w.submission.pk]),
        SEES_REPRODUCTIONS,
    ),
    "reproduction_status": (
        GET,
        lambda w: reverse("reproduction_status", args=[w.submission.pk, _reproduction(w)]),
        SEES_REPRODUCTIONS,
    ),
    "reproduction_fragment": (
        GET,
        lambda w: reverse("reproduction_fragment", args=[w.submission.pk, _reproduction(w)]),
        SEES_REPRODUCTIONS,
    ),
    "reproduction_download": (
        GET,
        lambda w: reverse("reproduction_download", args=[w.submission.pk, _reproduction(w)]),
        SEES_REPRODUCTIONS,
    ),
    "reproductions (missing id)": (GET, lambda w: reverse("reproductions", args=[MISSING]), SEES_NOTHING),
    "reproduction_status (missing id)": (
        GET,
        lambda w: reverse("reproduction_status", args=[w.submission.pk, MISSING]),
        SEES_NOTHING,
    ),
    "reproduction_fragment (missing id)": (
        GET,
        lambda w: reverse("reproduction_fragment", args=[w.submission.pk, MISSING]),
        SEES_NOTHING,
    ),
    "reproduction_download (missing id)": (
        GET,
        lambda w: reverse("reproduction_download", args=[w.submission.pk, MISSING]),
        SEES_NOTHING,
    ),
}
# --- end of reproductions ---------------------------------------------------------------------------------


@pytest.fixture
def world(submission, open_round, series, png_export, rhea, charlie):
    from reviews.services import declare_conflict

    return World(
        submission=submission,
        round=open_round,
        public=series[0],
        private=series[1],
        conflict=declare_conflict(reviewer=rhea, person=charlie),
    )


def _outcome(response):
    if response.status_code == 302 and response.url.startswith(LOGIN):
        return "login"
    if response.status_code == 302 and response.url.startswith("/admin/login/"):
        return "admin-login"
    return response.status_code


@pytest.mark.parametrize("view", list(MATRIX))
def test_view_permissions(client, people, world, view):
    method, url, expected = MATRIX[view]
    got = {}
    for who, user in people.items():
        client.logout()
        if user:
            client.force_login(user)
        got[who] = _outcome(getattr(client, method)(url(world)))
    assert got == expected


THIRD_PARTY = ("allauth.", "django.")  # they check their own users


def test_every_endpoint_of_the_platform_is_in_the_matrix():
    """A new URL of the platform must be added to the matrix above."""
    from django.urls import get_resolver

    covered = {key.split(" ")[0] for key in MATRIX}
    ours = {
        p.name
        for included in get_resolver().url_patterns
        if isinstance(getattr(included, "urlconf_module", None), ModuleType)  # the admin's is a list
        and not included.urlconf_module.__name__.startswith(THIRD_PARTY)
        for p in included.url_patterns
    }
    assert ours and ours <= covered, sorted(ours - covered)


def _page(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


def test_a_hidden_run_answers_like_a_missing_one(client, alice, charlie, world):
    """Neither another team nor the submitting team (for an unreleased private series) learns a run exists."""
    missing = reverse("run_retry", args=[MISSING])
    for user, run in ((charlie, world.run(world.public)), (alice, world.run(world.private))):
        client.force_login(user)
        hidden = client.post(reverse("run_retry", args=[run]))
        assert hidden.status_code == 404
        assert _page(hidden) == _page(client.post(missing))
    assert EvaluationRun.objects.filter(status="queued").count() == 0


def test_the_team_is_told_only_organizers_retry_and_the_run_stays_failed(client, alice, world):
    run = world.run(world.public)
    client.force_login(alice)
    response = client.post(reverse("run_retry", args=[run]), follow=True)
    assert response.redirect_chain[0][0] == reverse("version_detail", args=[world.submission.pk, 1])
    assert "Only organizers can retry an evaluation." in response.content.decode()
    assert EvaluationRun.objects.get(pk=run).status == "failed"


def test_an_organizer_retries_a_run_of_a_private_series(
    client, olga, world, django_capture_on_commit_callbacks
):
    run = world.run(world.private)
    client.force_login(olga)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("run_retry", args=[run]))
    assert response.status_code == 302
    assert EvaluationRun.objects.get(pk=run).status == "queued" and len(callbacks) == 1


def test_another_team_cannot_post_a_new_version(client, charlie, submission):
    client.force_login(charlie)
    response = client.post(
        reverse("submission_edit", args=[submission.pk]), {**ANSWERS, "task_name": "Hijacked"}
    )
    assert response.status_code == 404
    assert submission.versions.count() == 1


def test_the_dashboard_lists_only_the_teams_submissions(client, alice, bob, charlie, open_round, valid_csv):
    submit_task(
        user=charlie,
        round=open_round,
        answers={**ANSWERS, "task_name": "Charlie's task"},
        upload=TaskUpload(name="c.csv", data=valid_csv),
    )
    submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
    )
    client.force_login(bob)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Even or odd" in html
    assert "Charlie&#x27;s task" not in html and "Charlie's task" not in html


def test_the_organizer_dashboard_lists_every_team(client, alice, charlie, olga, open_round, valid_csv):
    for user in (alice, charlie):
        submit_task(
            user=user, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
        )
    client.force_login(olga)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Team alice" in html and "Team charlie" in html


@pytest.mark.parametrize("view", ["dashboard_contestant", "dashboard_organizer"])
def test_dashboards_make_a_constant_number_of_queries(
    client, olga, open_round, django_assert_max_num_queries, view
):
    data = make_task_csv(300)
    users = [ContestantFactory(username=f"c{i}") for i in range(6)]
    viewer = olga if view == "dashboard_organizer" else users[0]
    client.force_login(viewer)

    def count_queries():
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("dashboard")).status_code == 200
        return len(ctx.captured_queries)

    submit_task(user=users[0], round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=data))
    few = count_queries()
    for user in users:
        for _ in range(2):
            submit_task(
                user=user, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=data)
            )
    assert count_queries() == few


def test_a_missing_or_foreign_page_explains_itself_in_the_site_layout(client, charlie):
    client.force_login(charlie)
    response = client.get("/submissions/999999/")
    assert response.status_code == 404
    assert "belongs to another team" in response.content.decode()


def test_dashboards_never_load_the_long_answers_or_the_preview(
    client, alice, rita, olga, open_round, valid_csv
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from reviews.services import assign_reviewer

    version = submit_task(
        user=alice,
        round=open_round,
        answers={**ANSWERS, "description": "A long description. " * 900},
        upload=TaskUpload(name="a.csv", data=valid_csv),
    )
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    for viewer in (alice, rita, olga):
        client.force_login(viewer)
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(reverse("dashboard")).content.decode()
        assert "Even or odd" in html
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        for column in ("description", "importance", "preview"):
            assert f'"submissions_submissionversion"."{column}"' not in sql, (viewer, column)
