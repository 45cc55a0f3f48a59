"""Who may open which page, generated from the URL configuration: every URL of the platform, for every kind of
person (anonymous, the author, a teammate, another team, a reviewer assigned nothing, the assigned reviewer, a
reviewer assigned and then conflicted, an organizer), with the ids of objects that do not exist and of objects
that belong to another team, and the private series before they are released.

A new URL is tested as soon as it has a line in POLICY and its parameters' names are in PARAMETERS; the tests
below fail with the name to add when either is missing."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from types import ModuleType

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from evaluation.models import EvaluationRun, ModelSeries
from evaluation.services import claim_run, fail_run
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, UserFactory, make_task_csv
from tests.runs_support import finish_run, public_and_private_series

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _reviewer(username: str):
    from accounts.models import Role
    from accounts.services import grant_role

    user = UserFactory(username=username)
    grant_role(user=user, role=Role.REVIEWER)
    return user


@pytest.fixture
def rhea(olga, submission):
    """A reviewer assigned to alice's submission (rita is a reviewer assigned to nothing)."""
    from reviews.services import assign_reviewer

    user = _reviewer("rhea")
    assign_reviewer(submission=submission, reviewer=user, by=olga)
    return user


@pytest.fixture
def cora(olga, submission):
    """A reviewer assigned to alice's submission, then found in conflict with alice's team by an organizer: she
    must see of it exactly what rita sees (nothing)."""
    from reviews.services import assign_reviewer, set_conflict

    user = _reviewer("cora")
    assign_reviewer(submission=submission, reviewer=user, by=olga)
    set_conflict(reviewer=user, team=submission.team, reason="Same lab as the authors", by=olga)
    return user


@pytest.fixture
def people(alice, bob, charlie, rita, rhea, cora, olga):
    return {
        "anonymous": None,
        "alice": alice,
        "bob": bob,
        "charlie": charlie,
        "rita": rita,
        "rhea": rhea,
        "cora": cora,
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


def _submitted(user, round, data, capture):
    with capture(execute=False):  # no worker: the test plays it
        version = submit_task(
            user=user, round=round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=data)
        )
    for run in version.runs.select_related("model"):
        _finish(run, fail=run.model.name.endswith("-2"))
    return version.submission


@pytest.fixture
def submission(alice, open_round, valid_csv, series, django_capture_on_commit_callbacks):
    return _submitted(alice, open_round, valid_csv, django_capture_on_commit_callbacks)


@pytest.fixture
def png_export(monkeypatch):
    """The PNG endpoint's permissions are under test here, not kaleido: any figure becomes a tiny image."""
    monkeypatch.setattr("evaluation.plots.figure_png", lambda fig, **size: b"\x89PNG\r\n\x1a\nfake")


@dataclass
class World:
    submission: object  # alice's (bob's too)
    other: object  # charlie's, evaluated the same way
    round: object
    public: ModelSeries
    private: ModelSeries
    conflict: object  # one rhea declared (with charlie: nothing to do with alice's submission)
    other_conflict: object  # one ross declared: another reviewer's
    organizer: object

    def submitted_review(self, reviewer: str = "rhea", submission=None) -> int:
        """The id of the reviewer's review of the submission, submitted (each call submits it again if
        unlocked)."""
        from reviews.models import Assignment, Review
        from reviews.services import current_rubric

        submission = submission or self.submission
        assignment = Assignment.objects.get(submission=submission, reviewer__username=reviewer)
        review, _ = Review.objects.get_or_create(
            assignment=assignment,
            defaults={"version": submission.current_version, "rubric": current_rubric()},
        )
        Review.objects.filter(pk=review.pk).update(status=Review.Status.SUBMITTED)
        return review.pk

    def ask_to_keep(self) -> None:
        """olga asks alice's team to choose what it keeps (the page to choose exists only then)."""
        from submissions.models import KeepRequest

        KeepRequest.objects.get_or_create(
            round=self.round,
            team=self.submission.team,
            defaults={"requested_by": self.submission.created_by},
        )

    def invitation_token(self) -> str:
        from accounts.models import Invitation
        from accounts.services import invitation_token

        invitation = Invitation.objects.create(
            email="new@example.org", role="reviewer", invited_by=self.organizer
        )
        return invitation_token(invitation)

    def failed_feedback_email(self, submission=None) -> int:
        """The id of a feedback e-mail to the submission's author that failed (the one a retry is for)."""
        from reviews.models import FeedbackEmail

        submission = submission or self.submission
        author = submission.created_by
        email, _ = FeedbackEmail.objects.get_or_create(
            round=self.round,
            submission=submission,
            recipient=author,
            defaults={"to": author.email, "status": FeedbackEmail.Status.FAILED},
        )
        FeedbackEmail.objects.filter(pk=email.pk).update(status=FeedbackEmail.Status.FAILED)
        return email.pk

    def run(self, series: ModelSeries, submission=None) -> int:
        """The id of the series' failed run of the submission (the one a retry is for)."""
        return EvaluationRun.objects.get(
            version__submission=submission or self.submission, model__series=series, status="failed"
        ).pk


@pytest.fixture
def world(
    submission,
    open_round,
    series,
    png_export,
    rhea,
    cora,
    olga,
    charlie,
    bob,
    valid_csv,
    django_capture_on_commit_callbacks,
):
    from reviews.services import assign_reviewer, declare_conflict

    other = _submitted(charlie, open_round, valid_csv, django_capture_on_commit_callbacks)
    ross = _reviewer("ross")  # charlie's reviewer: no column of his own, his objects are another's
    assign_reviewer(submission=other, reviewer=ross, by=olga)
    return World(
        submission=submission,
        other=other,
        round=open_round,
        public=series[0],
        private=series[1],
        conflict=declare_conflict(reviewer=rhea, person=charlie),
        other_conflict=declare_conflict(reviewer=ross, person=bob),
        organizer=olga,
    )


MISSING = 999_999
GET, POST = "get", "post"

# What each person gets: a status, "login" (a redirect to the login page) or "admin-login" (to the admin's).
# cora, assigned to alice's submission and then conflicted, is answered exactly as rita, who is assigned nothing.
EVERYONE = dict(anonymous=200, alice=200, bob=200, charlie=200, rita=200, rhea=200, cora=200, olga=200)
LOGGED_IN = {**EVERYONE, "anonymous": "login"}
SEES_IT = dict(anonymous="login", alice=200, bob=200, charlie=404, rita=404, rhea=200, cora=404, olga=200)
SEES_NOTHING = dict(
    anonymous="login", alice=404, bob=404, charlie=404, rita=404, rhea=404, cora=404, olga=404
)
ONLY_RHEA = {**SEES_NOTHING, "rhea": 200}
ONLY_THE_TEAM = {**SEES_NOTHING, "alice": 200, "bob": 200}
# Only organizers and assigned reviewers see a private series that is not released for the round.
SEES_PRIVATE = {**SEES_IT, "alice": 404, "bob": 404}
# Who may see a submission but not change it this way is sent back to it with the reason (a 302).
SENT_BACK = {**SEES_IT, "alice": 302, "bob": 302, "rhea": 302, "olga": 302}
# Who may see a run but not retry it is sent back to the version page with the reason (a 302 as well).
RETRY = SENT_BACK
# The team edits its own task; an organizer or a reviewer may read it and is sent back to it.
TEAM_EDITS = {**SEES_IT, "rhea": 302, "olga": 302}
# Pages only organizers use: everyone else is told so (403), anonymous visitors are sent to log in.
ORGANIZER_ONLY = dict(
    anonymous="login", alice=403, bob=403, charlie=403, rita=403, rhea=403, cora=403, olga=200
)
ORGANIZER_SENT_BACK = {**ORGANIZER_ONLY, "olga": 302}
ORGANIZER_FORM_REFUSED = {**ORGANIZER_ONLY, "olga": 400}  # an empty form: shown again with its errors
ONLY_ORGANIZER_DISCUSSES = {**SEES_NOTHING, "olga": 302}
REVIEWERS_ONLY = dict(
    anonymous="login", alice=403, bob=403, charlie=403, rita=200, rhea=200, cora=200, olga=403
)
ADMIN = {**dict.fromkeys(EVERYONE, "admin-login"), "olga": 200}


# The expected outcome of every URL of the platform, by URL name: (method, who gets what) for the objects of
# alice's submission. One line each; the variants with missing ids and another team's ids are derived below.
POLICY = {
    "home": (GET, EVERYONE),
    "contest": (GET, EVERYONE),
    "contest_example": (GET, EVERYONE),
    "contest_text_edit": (GET, ORGANIZER_ONLY),
    "benchmark_zip": (GET, ORGANIZER_ONLY),
    "round_overview": (GET, ORGANIZER_ONLY),
    "round_overview_csv": (GET, ORGANIZER_ONLY),
    "round_overview_json": (GET, ORGANIZER_ONLY),
    "dashboard": (GET, LOGGED_IN),
    "team": (GET, LOGGED_IN),
    "submission_create": (GET, {**LOGGED_IN, "rita": 403, "rhea": 403, "cora": 403, "olga": 403}),
    "submission_detail": (GET, SEES_IT),
    "version_detail": (GET, SEES_IT),
    "version_download": (GET, SEES_IT),
    "submission_edit": (GET, TEAM_EDITS),
    # The confirmation page: the team sees it; an organizer or assigned reviewer is sent back with the reason.
    "submission_withdraw": (GET, TEAM_EDITS),
    # The submission is not withdrawn: whoever sees it is sent back with the reason (it changes nothing).
    "submission_reinstate": (POST, SENT_BACK),
    "version_example": (GET, SEES_IT),
    "evaluation_status": (GET, SEES_IT),
    "evidence_fragment": (GET, SEES_IT),
    "verdicts_help": (GET, LOGGED_IN),
    "examples_drill_down": (GET, SEES_IT),
    "results_csv": (GET, SEES_IT),
    "results_json": (GET, SEES_IT),
    "figure_png": (GET, SEES_IT),
    "run_retry": (POST, RETRY),
    # Reviewers alone declare their conflicts of interest; a reviewer withdraws only one they declared.
    "reviewer_conflicts": (GET, REVIEWERS_ONLY),
    "conflict_withdraw": (POST, {**REVIEWERS_ONLY, "rita": 404, "rhea": 302, "cora": 404}),
    # Only the assigned reviewer reaches the review form; organizers read reviews on the submission's page.
    "review_page": (GET, ONLY_RHEA),
    "spot_check": (GET, ONLY_RHEA),
    "review_autosave": (POST, ONLY_RHEA),
    # Organizers, and reviewers whose own review is submitted (rhea's is not, here), post to the discussion.
    "discussion_post": (POST, ONLY_ORGANIZER_DISCUSSES),
    "review_unlock": (POST, ONLY_ORGANIZER_DISCUSSES),
    # The prize tally of a round: organizers alone; its forms send them back to the page.
    "round_tally": (GET, ORGANIZER_ONLY),
    "round_tally_audit": (GET, ORGANIZER_ONLY),
    "round_tally_rule": (POST, ORGANIZER_SENT_BACK),
    "round_tally_ranks": (POST, ORGANIZER_SENT_BACK),
    "round_tally_decide": (POST, ORGANIZER_SENT_BACK),
    # The organizer console: people and roles, rounds. An empty POST is a form with nothing filled in: shown
    # again with its errors (400), or, for a role change with no role chosen, sent back with the reason.
    "people": (GET, ORGANIZER_ONLY),
    "people_invite": (POST, ORGANIZER_FORM_REFUSED),
    "people_role": (POST, ORGANIZER_SENT_BACK),
    "rounds": (GET, ORGANIZER_ONLY),
    "round_console": (GET, ORGANIZER_ONLY),
    "round_keep_request": (POST, ORGANIZER_FORM_REFUSED),
    # Only the team that was asked chooses what it keeps; nobody else learns it was asked.
    "keep_choice": (GET, ONLY_THE_TEAM),
    # An invitation's link opens for anyone who holds it (sign in, then accept).
    "invitation_accept": (GET, EVERYONE),
    # Feedback release: organizers alone. The round's award is not confirmed, so releasing sends them back.
    "feedback_round": (GET, ORGANIZER_ONLY),
    "feedback_preview": (GET, ORGANIZER_ONLY),
    "feedback_release": (GET, ORGANIZER_SENT_BACK),
    "feedback_log": (GET, ORGANIZER_ONLY),
    "feedback_retry": (POST, ORGANIZER_SENT_BACK),
    "feedback_retry_failed": (POST, ORGANIZER_SENT_BACK),
}

# Where a URL needs more than its objects to exist: what the world does first.
PREPARE: dict[str, Callable] = {
    "keep_choice": lambda w: w.ask_to_keep(),
}


# Another team's object: charlie is answered as alice was for hers, alice and bob as charlie was, rhea (who is
# not assigned to it) as rita was; everyone else as before.
THEIRS = {"alice": "charlie", "bob": "charlie", "charlie": "alice", "rhea": "rita"}
# A private series that is not released for the round: its authors are answered as another team.
PRIVATE = {"alice": "charlie", "bob": "charlie"}


@dataclass(frozen=True)
class Parameter:
    """How a path parameter is filled from the world: ``value`` for alice's objects; ``missing`` replaces it
    with what does not exist (None: no such variant); ``theirs`` with another's object, each person then
    answered as ``theirs_as`` says; ``private`` with the same of a private series not released."""

    value: Callable
    missing: object = MISSING
    theirs: Callable | None = None
    theirs_as: dict = field(default_factory=lambda: THEIRS)
    private: Callable | None = None


_SUBMISSION = Parameter(lambda w: w.submission.pk, theirs=lambda w: w.other.pk)
_ROUND = Parameter(lambda w: w.round.pk)

# Every path parameter of the platform, by name; a generic name ("pk") is qualified by the path segment before
# it ("submissions/pk"). A URL with a parameter not named here fails test_every_url_is_generated.
PARAMETERS = {
    "submissions/pk": _SUBMISSION,
    "submission_id": _SUBMISSION,
    "rounds/pk": _ROUND,
    "round_id": _ROUND,
    "number": Parameter(lambda w: 1),  # the version
    "row": Parameter(lambda w: 2),  # the task file's first example
    "series_id": Parameter(lambda w: w.public.pk, private=lambda w: w.private.pk),
    "kind": Parameter(lambda w: "scaling", missing="nonsense"),  # of chart
    "run_id": Parameter(
        lambda w: w.run(w.public),
        theirs=lambda w: w.run(w.public, w.other),
        private=lambda w: w.run(w.private),
    ),
    "review_id": Parameter(
        lambda w: w.submitted_review("rhea"), theirs=lambda w: w.submitted_review("ross", w.other)
    ),
    # Another reviewer's conflict: rhea is answered as rita (it is not hers).
    "conflicts/pk": Parameter(
        lambda w: w.conflict.pk, theirs=lambda w: w.other_conflict.pk, theirs_as={"rhea": "rita"}
    ),
    "user_id": Parameter(lambda w: w.submission.created_by_id),
    "email_id": Parameter(
        lambda w: w.failed_feedback_email(), theirs=lambda w: w.failed_feedback_email(w.other)
    ),
    "token": Parameter(lambda w: w.invitation_token(), missing=None),  # forged: in MATRIX below
    "metric": Parameter(lambda w: "logodds", missing="nonsense"),
    "key": Parameter(lambda w: "faq", missing="nonsense"),  # of the contest page's sections
}

# Where a derived expectation does not hold, the generated case's name and what holds instead. A role refused
# for who they are (403) is refused before the object is looked up, except here:
OVERRIDES = {
    "submission_create [round_id: missing]": SEES_NOTHING,  # the round is looked up first: 404 for everyone
    # Who may see the submission is sent to it, told it has no such version; nobody else learns it exists.
    "version_detail [number: missing]": SENT_BACK,
    # An organizer is sent back to the tally, told there is no such submission of the round.
    "round_tally_decide [submission_id: missing]": ORGANIZER_SENT_BACK,
}


RELEASED = "private, released"


def _released(prepare: Callable | None) -> Callable:
    def release(w) -> None:
        from evaluation.services import release_series

        release_series(series=w.private, round=w.round, user=w.organizer)
        if prepare:
            prepare(w)

    return release


def _missing(table: dict) -> dict:
    """An id that does not exist: 404 for everyone, except a redirect to log in and a refusal for who one is
    (403), which come before the object is looked up."""
    return {who: got if got in ("login", "admin-login", 403) else 404 for who, got in table.items()}


def _answered_as(table: dict, swap: dict) -> dict:
    return {who: table[swap.get(who, who)] for who in table}


# Hand-written cases beyond what is generated: forms posted, query strings, the admin's pages.
MATRIX = {
    "contest_text_edit (saving)": (
        POST,
        lambda w: reverse("contest_text_edit", args=["faq"]),
        {**ORGANIZER_ONLY, "olga": 200},  # an empty POST is a form with nothing chosen: shown again
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
    "figure_png of a public series' accuracy": (
        GET,
        lambda w: reverse("figure_png", args=[w.submission.pk, 1, w.public.pk, "accuracy"]),
        SEES_IT,
    ),
    "figure_png of a private series' accuracy": (
        GET,
        lambda w: reverse("figure_png", args=[w.submission.pk, 1, w.private.pk, "accuracy"]),
        SEES_PRIVATE,
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
    "people (searching)": (GET, lambda w: reverse("people") + "?q=al&role=contestant", ORGANIZER_ONLY),
    "rounds (creating)": (POST, lambda w: reverse("rounds"), ORGANIZER_FORM_REFUSED),
    "round_console (saving)": (
        POST,
        lambda w: reverse("round_console", args=[w.round.pk]),
        ORGANIZER_FORM_REFUSED,
    ),
    "invitation_accept (forged)": (
        GET,
        lambda w: reverse("invitation_accept", args=["forged:token"]),
        dict.fromkeys(EVERYONE, 400),
    ),
    "feedback_round (saving)": (
        POST,
        lambda w: reverse("feedback_round", args=[w.round.pk]),
        ORGANIZER_FORM_REFUSED,  # an empty wording is refused and shown again
    ),
    "feedback_release (releasing)": (
        POST,
        lambda w: reverse("feedback_release", args=[w.round.pk]),
        ORGANIZER_SENT_BACK,
    ),
}


# --- Reproductions (issue #13) ----------------------------------------------------------------------------
# Organizers and the assigned reviewer alone see or attach a reproduction; the team, another team, a reviewer not
# assigned and a conflicted one are answered as for a page that does not exist.
def _reproduction(w) -> int:
    """The id of a reproduction of the submission that olga attached (attached on first use)."""
    from django.db import transaction

    from evaluation.models import Reproduction
    from evaluation.services import create_reproduction

    found = Reproduction.objects.filter(version__submission=w.submission).first()
    if found is None:
        with transaction.atomic():
            found = create_reproduction(
                user=w.organizer,
                submission=w.submission,
                upload=TaskUpload(name="remake.csv", data=make_task_csv(310)),
            )
    return found.pk


SEES_REPRODUCTIONS = {**SEES_NOTHING, "rhea": 200, "olga": 200}
POLICY |= {
    "reproductions": (GET, SEES_REPRODUCTIONS),
    "reproduction_status": (GET, SEES_REPRODUCTIONS),
    "reproduction_fragment": (GET, SEES_REPRODUCTIONS),
    "reproduction_download": (GET, SEES_REPRODUCTIONS),
}
PARAMETERS["reproduction_id"] = Parameter(_reproduction)
# Alice's reproduction under another submission's address is nobody's: 404 for everyone, organizers included.
OVERRIDES |= {
    f"{name} [pk: another's]": SEES_NOTHING
    for name in ("reproduction_status", "reproduction_fragment", "reproduction_download")
}
# An empty POST is a form without its file: shown again with the reason.
MATRIX["reproductions (attaching)"] = (
    POST,
    lambda w: reverse("reproductions", args=[w.submission.pk]),
    SEES_REPRODUCTIONS,
)
# --- end of reproductions ---------------------------------------------------------------------------------


# The platform's URLs (the admin and allauth are third-party: they check their own users) --------------------

THIRD_PARTY = ("allauth.", "django.")


def platform_urls(patterns=None, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(name, route) of every named URL of the platform's own url modules."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            module = pattern.urlconf_module
            if isinstance(module, ModuleType) and not module.__name__.startswith(THIRD_PARTY):
                yield from platform_urls(pattern.url_patterns, route)  # the admin's is a list, not a module
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield pattern.name, route


_PARAMETER = re.compile(r"(?:([\w.-]+)/)?<(?:\w+:)?(\w+)>")


def parameters_of(route: str) -> list[tuple[str, str]]:
    """(parameter name, its key in PARAMETERS) of each path parameter of the route; the key is None when the
    name is unknown."""
    out = []
    for segment, name in _PARAMETER.findall(route):
        qualified = f"{segment}/{name}"
        key = qualified if qualified in PARAMETERS else name if name in PARAMETERS else None
        out.append((name, key))
    return out


@dataclass(frozen=True)
class Case:
    method: str
    url: Callable  # world -> the URL
    expected: dict
    prepare: Callable | None = None
    twin: Callable | None = None  # world -> the same URL with a missing id: a 404 must read exactly like it


def _url(name: str, params: list[tuple[str, str]], swapped: str | None = None, by: Callable | None = None):
    def build(w) -> str:
        kwargs = {}
        for parameter, key in params:
            kwargs[parameter] = by(w) if parameter == swapped else PARAMETERS[key].value(w)
        return reverse(name, kwargs=kwargs)

    return build


def generated_cases() -> dict[str, Case]:
    """Every URL with a policy and known parameters: as is, and with each parameter replaced by a missing id,
    by another team's object and by a private series' object where those exist."""
    cases = {}
    for name, route in platform_urls():
        params = parameters_of(route)
        if name not in POLICY or any(key is None for _, key in params):
            continue  # test_every_url_is_generated names it
        method, expected = POLICY[name]
        prepare = PREPARE.get(name)
        cases[name] = Case(method, _url(name, params), expected, prepare)
        for parameter, key in params:
            spec = PARAMETERS[key]
            missing = None
            if spec.missing is not None:
                missing = _url(name, params, parameter, lambda w, v=spec.missing: v)
                cases[f"{name} [{parameter}: missing]"] = Case(method, missing, _missing(expected), prepare)
            if spec.theirs is not None:
                cases[f"{name} [{parameter}: another's]"] = Case(
                    method,
                    _url(name, params, parameter, spec.theirs),
                    _answered_as(expected, spec.theirs_as),
                    prepare,
                    missing,
                )
            if spec.private is not None:
                cases[f"{name} [{parameter}: private, not released]"] = Case(
                    method,
                    _url(name, params, parameter, spec.private),
                    _answered_as(expected, PRIVATE),
                    prepare,
                    missing,
                )
                # Once released for the round, the team sees it as it sees a public series.
                cases[f"{name} [{parameter}: {RELEASED}]"] = Case(
                    method, _url(name, params, parameter, spec.private), expected, _released(prepare)
                )
    for case_name, expected in OVERRIDES.items():
        if case_name in cases:
            cases[case_name] = replace(cases[case_name], expected=expected)
    return cases


CASES = generated_cases() | {
    name: Case(method, url, expected) for name, (method, url, expected) in MATRIX.items()
}


def test_every_url_is_generated():
    """A new URL of the platform needs a line in POLICY and its parameters' names in PARAMETERS."""
    urls = list(platform_urls())
    assert len(urls) > 40
    no_policy = sorted(name for name, _ in urls if name not in POLICY)
    assert not no_policy, f"add a line to POLICY for each of {no_policy}"
    unknown = sorted(
        {
            f"{name}: {parameter!r} (in {route!r})"
            for name, route in urls
            for parameter, key in parameters_of(route)
            if key is None
        }
    )
    assert not unknown, f"add these parameter names (or 'segment/name') to PARAMETERS: {unknown}"
    stale = sorted(set(POLICY) - {name for name, _ in urls})
    assert not stale, f"POLICY names URLs that no longer exist: {stale}"
    stale = sorted(set(OVERRIDES) - set(CASES))
    assert not stale, f"OVERRIDES names cases that are not generated: {stale}"


def _outcome(response):
    if response.status_code == 302 and response.url.startswith(LOGIN):
        return "login"
    if response.status_code == 302 and response.url.startswith("/admin/login/"):
        return "admin-login"
    return response.status_code


def _page(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


@pytest.mark.parametrize("view", list(CASES))
def test_view_permissions(client, people, world, view):
    case = CASES[view]
    if case.prepare:
        case.prepare(world)
    url = case.url(world)
    got, told = {}, {}
    for who, user in people.items():
        client.logout()
        if user:
            client.force_login(user)
        response = getattr(client, case.method)(url)
        got[who] = _outcome(response)
        if case.twin and got[who] == 404:  # a hidden object reads exactly like one that does not exist
            missing = getattr(client, case.method)(case.twin(world))
            if missing.status_code != 404 or _page(missing) != _page(response):
                told[who] = url
    assert got == case.expected
    assert not told, f"a hidden object answers unlike a missing one: {told}"


def test_a_conflict_the_reviewer_declared_closes_the_submission_as_one_an_organizer_set(
    client, world, olga, alice
):
    """cora's conflict in the matrix was set by an organizer; one the assigned reviewer declares herself (with
    an author) closes every page of the submission just the same: she is answered as rita everywhere."""
    from reviews.services import assign_reviewer, declare_conflict

    dora = _reviewer("dora")
    assign_reviewer(submission=world.submission, reviewer=dora, by=olga)
    declare_conflict(reviewer=dora, person=alice, reason="My student")
    client.force_login(dora)
    got, expected = {}, {}
    for name, case in CASES.items():
        if case.expected["rita"] == case.expected["rhea"] or "admin" in name:
            continue  # the same for a reviewer assigned to it and one who is not: nothing to tell apart
        if case.prepare:
            case.prepare(world)
        got[name] = _outcome(getattr(client, case.method)(case.url(world)))
        expected[name] = case.expected["rita"]
    assert len(got) > 20 and got == expected


def _body(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode("utf-8", "replace")


PRIVATE_NAMES = ("Secret Lab", "secret-0", "secret-1", "secret-2")  # the private series and its models


def test_a_private_series_not_released_is_in_nothing_its_authors_receive(client, people, world):
    """Every page and file of the matrix that alice and bob open names neither the private series nor its models
    (the figures' own URLs answer 404, above); the assigned reviewer and the organizer get its results."""
    for who in ("alice", "bob"):
        client.force_login(people[who])
        for name, case in CASES.items():
            if case.method != GET or case.expected[who] != 200 or RELEASED in name:
                continue  # (a released series is the team's to see)
            if case.prepare:
                case.prepare(world)
            body = _body(client.get(case.url(world)))
            for secret in PRIVATE_NAMES:
                assert secret not in body, f"{who} reads {secret!r} in {name}"
    for who in ("rhea", "olga"):
        client.force_login(people[who])
        for view in ("results_json", "results_csv"):
            body = client.get(reverse(view, args=[world.submission.pk, 1])).content.decode()
            assert "Secret Lab" in body and "secret-0" in body, (who, view)


# Who wrote alice's submission, in every form it could take: the team's members, their names and addresses,
# the team, the authors' answer.
AUTHORS = re.compile(r"\b(alice|bob)\b|Alice Example|Team alice", re.IGNORECASE)  # their addresses too


def test_nothing_the_assigned_reviewer_opens_names_the_authors(client, people, world):
    """Every page, file and image of the matrix that rhea opens (a new URL included, once it has a policy) is
    blind: no author's username, name or address, nor their team's name, in the body or a header."""
    client.force_login(people["rhea"])
    opened = []
    for name, case in CASES.items():
        if case.method != GET or case.expected["rhea"] != 200 or case.expected["anonymous"] == 200:
            continue  # (public pages are everyone's: their examples may name anyone)
        if case.prepare:
            case.prepare(world)
        response = client.get(case.url(world))
        headers = " ".join(f"{key}: {value}" for key, value in response.headers.items())
        found = AUTHORS.search(headers + " " + _body(response))
        assert found is None, f"{name} names {found.group(0)!r} to the assigned reviewer"
        opened.append(name)
    assert len(opened) > 20
    client.force_login(people["bob"])  # the same pages name them to the team: the check above can fail
    assert AUTHORS.search(_body(client.get(reverse("submission_detail", args=[world.submission.pk]))))


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
    client.get(reverse("dashboard"))  # the session's first read copies it to the cache (accounts/sessions.py)

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
