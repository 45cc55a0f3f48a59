"""Reproductions (the rubric's Reproducibility): a task file re-created from the description by an organizer or an
assigned reviewer, validated like a submission, evaluated on the same models, compared with the original per
series in one line, and never shown to the authors nor mixed into the version's own runs."""

import re

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from evaluation.models import EvaluationRun, Reproduction
from evaluation.reproductions import (
    LESSER,
    NO_INVERSE_SCALING,
    SIMILAR_OR_STRONGER,
    SeriesComparison,
    compare_trends,
)
from evaluation.services import create_reproduction
from evaluation.trends import VERDICT_INVERSE, VERDICT_NONE, VERDICT_STANDARD, Trend
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, UserFactory, make_task_csv
from tests.runs_support import finish_run
from tests.test_suggestions import RISING, SIZES, evaluate

pytestmark = pytest.mark.django_db

STEEP = [0.5, 0.9, 1.3, 1.7]
FLAT = [0.6, 0.6, 0.6, 0.6]
REPRODUCTION_ROWS = list(range(2, 312))  # the 310 examples of the reproduction's file


def trend(slope: float, low: float, high: float, verdict: str = VERDICT_INVERSE) -> Trend:
    return Trend(
        slope=slope,
        ci_low=low,
        ci_high=high,
        direction="inverse" if low > 0 else "unclear",
        monotonic=True,
        u_shaped=False,
        n_models=4,
        n_examples=300,
        verdict=verdict,
    )


# --- The rule, without Django ---------------------------------------------------------------------


def test_a_reproduction_without_inverse_scaling_says_so_whatever_its_slope():
    original = trend(0.10, 0.08, 0.12)
    assert compare_trends(original=original, reproduction=trend(0.2, -0.1, 0.5, VERDICT_NONE)) == (
        NO_INVERSE_SCALING
    )
    assert compare_trends(original=original, reproduction=trend(-0.1, -0.12, -0.08, VERDICT_STANDARD)) == (
        NO_INVERSE_SCALING
    )


def test_a_steeper_reproduction_or_one_whose_interval_overlaps_is_similar_or_stronger():
    original = trend(0.10, 0.08, 0.12)
    assert compare_trends(original=original, reproduction=trend(0.15, 0.13, 0.17)) == SIMILAR_OR_STRONGER
    assert compare_trends(original=original, reproduction=trend(0.10, 0.09, 0.11)) == SIMILAR_OR_STRONGER
    # Shallower, but the intervals overlap (0.07 to 0.085 against 0.08 to 0.12): the difference may be noise.
    assert compare_trends(original=original, reproduction=trend(0.075, 0.07, 0.085)) == SIMILAR_OR_STRONGER


def test_a_shallower_reproduction_whose_interval_lies_below_is_lesser():
    original = trend(0.10, 0.08, 0.12)
    assert compare_trends(original=original, reproduction=trend(0.05, 0.03, 0.07)) == LESSER


def test_the_line_names_the_series_the_outcome_and_both_slopes_with_their_intervals():
    line = SeriesComparison(
        series="Open Models", original=trend(0.10, 0.08, 0.12), reproduction=trend(0.05, 0.03, 0.07)
    ).line
    assert line.startswith("Open Models: lesser — reproduction slope +0.050 (95% CI +0.030 to +0.070)")
    assert line.endswith("original slope +0.10 (95% CI +0.08 to +0.12), inverse scaling")


# --- Through the site, with the worker played -------------------------------------------------------


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def series(db):
    from evaluation.models import LanguageModel, ModelSeries

    series = ModelSeries.objects.create(name="Open Models", visibility="public", order=1)
    for i, params in enumerate(SIZES):
        LanguageModel.objects.create(
            series=series, name=f"open-{i}", parameter_count=params, location="/nowhere", order=i
        )
    return series


@pytest.fixture
def version(alice, open_round, series, django_capture_on_commit_callbacks):
    """Alice's task, evaluated (played) on the four models of Open Models with a clear inverse trend."""
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice,
            round=open_round,
            answers=ANSWERS,
            upload=TaskUpload(name="t.csv", data=make_task_csv(300)),
        )
    EvaluationRun.objects.filter(version=version).delete()
    evaluate(version, series, RISING)
    return version


@pytest.fixture
def rhea(olga, version):
    """A reviewer assigned to alice's submission."""
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer

    user = UserFactory(username="rhea")
    grant_role(user=user, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=user, by=olga)
    return user


def reproduce(version, user, *, means=None) -> Reproduction:
    """A reproduction of ``version`` attached by ``user``; its runs finished (played) with ``means``."""
    with transaction.atomic():
        reproduction = create_reproduction(
            user=user,
            submission=version.submission,
            upload=TaskUpload(name="rhea-remake.csv", data=make_task_csv(310)),
            note="Made from the description alone.",
        )
    if means is not None:
        runs = reproduction.runs.select_related("model").order_by("model__parameter_count")
        for run, mean in zip(runs, means, strict=True):
            finish_run(
                run,
                rows=REPRODUCTION_ROWS,
                values=[mean + (row % 7) / 100 for row in REPRODUCTION_ROWS],
                correct=[True] * len(REPRODUCTION_ROWS),
            )
    return reproduction


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.mark.parametrize(
    ("means", "outcome"),
    [(RISING, SIMILAR_OR_STRONGER), (FLAT, NO_INVERSE_SCALING), ([0.5, 0.55, 0.6, 0.65], LESSER)],
)
def test_the_review_page_compares_the_reproduction_beside_reproducibility(
    client, version, rhea, olga, means, outcome
):
    original_runs = set(version.runs.values_list("pk", flat=True))
    reproduction = reproduce(version, olga, means=means)
    assert reproduction.runs.count() == 4 and set(version.runs.values_list("pk", flat=True)) == original_runs
    client.force_login(rhea)
    page = _text(client.get(reverse("review_page", args=[version.submission.pk])))
    beside = page[page.index('class="small border-start border-3 ps-2 mb-2 reproduction-evidence"') :]
    beside = beside[: beside.index("</div> </div>")]
    assert "Reproduction 1" in beside
    assert f'data-outcome="{outcome}">Open Models: {outcome} — reproduction slope ' in beside
    assert "original slope +0.1" in page
    assert "olga" not in page  # a reviewer never learns who made it
    assert f'id="reproduction-{reproduction.pk}"' in page  # its section, with both charts
    assert f"reproduction-{reproduction.pk}-figures-" in page


def test_the_organizer_sees_the_reproduction_and_its_maker_on_the_submission_page(
    client, version, rhea, olga
):
    reproduce(version, rhea, means=RISING)
    client.force_login(olga)
    page = _text(client.get(reverse("submission_detail", args=[version.submission.pk])))
    assert "Reproduction 1" in page and "by rhea" in page
    assert f"Open Models: {SIMILAR_OR_STRONGER}" in page


def test_the_reviewer_attaches_one_through_the_review_page_form(client, version, rhea, settings):
    client.force_login(rhea)
    review = _text(client.get(reverse("review_page", args=[version.submission.pk])))
    assert f'action="{reverse("reproductions", args=[version.submission.pk])}"' in review
    upload = SimpleUploadedFile("remake.csv", make_task_csv(310), content_type="text/csv")
    response = client.post(
        reverse("reproductions", args=[version.submission.pk]),
        {"task_file": upload, "note": "Written from the description."},
    )
    reproduction = Reproduction.objects.get()
    assert response.status_code == 302
    assert (
        response.url
        == reverse("review_page", args=[version.submission.pk]) + f"#reproduction-{reproduction.pk}"
    )
    assert (reproduction.number, reproduction.created_by, reproduction.example_count) == (1, rhea, 310)
    assert reproduction.note == "Written from the description."
    # Queued on the models the version was evaluated on; none of them is one of the version's runs.
    assert set(reproduction.runs.values_list("model__name", flat=True)) == {f"open-{i}" for i in range(4)}
    assert not EvaluationRun.objects.filter(reproduction=reproduction, version__isnull=False).exists()
    page = _text(client.get(reverse("review_page", args=[version.submission.pk])))
    assert "being evaluated" in page and "waiting in the queue" in page
    status = client.get(reverse("reproduction_status", args=[version.submission.pk, reproduction.pk])).json()
    assert len(status["runs"]) == 4 and status["finished"] is False


def test_a_refused_file_shows_its_row_and_column_errors_and_keeps_the_note(client, version, rhea):
    client.force_login(rhea)
    bad = make_task_csv(310).decode().replace("[' Yes', ' No']", "[' Yes', ' Yes']", 3).encode()
    response = client.post(
        reverse("reproductions", args=[version.submission.pk]),
        {
            "task_file": SimpleUploadedFile("remake.csv", bad, content_type="text/csv"),
            "note": "My <careful> remake",
        },
    )
    page = _text(response)
    assert response.status_code == 200
    assert (
        "row 2, column classes: the class &quot; Yes&quot; appears more than once — the same problem in 3 rows: 2–4"
        in page
    )
    assert "Nothing was saved" in page
    assert "My &lt;careful&gt; remake</textarea>" in page
    assert not Reproduction.objects.exists()
    # A file for another metric is refused with the version's metric named.
    response = client.post(
        reverse("reproductions", args=[version.submission.pk]),
        {
            "task_file": SimpleUploadedFile("remake.csv", make_task_csv(310, metric="sequence_prob")),
            "note": "again",
        },
    )
    assert "classes" in _text(response) and not Reproduction.objects.exists()


def test_a_file_below_the_rounds_minimum_is_refused(client, version, rhea):
    client.force_login(rhea)
    response = client.post(
        reverse("reproductions", args=[version.submission.pk]),
        {"task_file": SimpleUploadedFile("small.csv", make_task_csv(20)), "note": ""},
    )
    assert "examples" in _text(response) and not Reproduction.objects.exists()


def test_the_authors_others_and_conflicted_reviewers_get_404_for_every_reproduction_url(
    client, version, rhea, olga, alice, bob, charlie, rita
):
    from reviews.services import set_conflict

    reproduction = reproduce(version, olga, means=RISING)
    pk = version.submission.pk
    urls = [
        reverse("reproductions", args=[pk]),
        reverse("reproduction_status", args=[pk, reproduction.pk]),
        reverse("reproduction_fragment", args=[pk, reproduction.pk]),
        reverse("reproduction_download", args=[pk, reproduction.pk]),
    ]
    conflicted = UserFactory(username="cora")
    from accounts.models import Role
    from accounts.services import grant_role
    from reviews.services import assign_reviewer

    grant_role(user=conflicted, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=conflicted, by=olga)
    set_conflict(reviewer=conflicted, by=olga, team=version.submission.team, reason="same lab")
    for user in (alice, bob, charlie, rita, conflicted):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user.username, url)
        assert client.post(urls[0], {"note": "x"}).status_code == 404, user.username
    for user in (rhea, olga):
        client.force_login(user)
        assert [client.get(url).status_code for url in urls] == [200] * 4
    # The team's own pages say nothing of it.
    client.force_login(alice)
    for name in ("submission_detail", "evaluation_status", "results_csv"):
        args = [pk] if name == "submission_detail" else [pk, 1]
        body = client.get(reverse(name, args=args)).content.decode()
        assert "eproduction" not in body
        assert str(reproduction.runs.first().pk) not in re.findall(r'"id": (\d+)', body)


def test_reproduction_runs_never_count_as_the_versions_own(client, version, olga):
    from evaluation.evidence import cached_trends
    from evaluation.selectors import runs_of, with_evaluation_progress
    from submissions.models import Submission

    reproduce(version, olga, means=FLAT)
    assert len(runs_of(version=version)) == 4
    counted = with_evaluation_progress(Submission.objects.all(), public_series_only=False).get()
    assert (counted.run_count, counted.runs_succeeded) == (4, 4)
    assert [run["model"] for run in client_json(client, olga, version)["runs"]] == [
        f"open-{i}" for i in range(4)
    ]
    rows = client.get(reverse("results_csv", args=[version.submission.pk, 1])).content.decode().splitlines()
    assert len(rows) == 1 + 4 * 300
    assert list(cached_trends(versions=[version])[version.pk]) == [version.runs.first().model.series_id]


def client_json(client, user, version) -> dict:
    client.force_login(user)
    return client.get(reverse("evaluation_status", args=[version.submission.pk, 1])).json()


def test_a_withdrawn_submission_takes_no_reproduction(version, olga, alice):
    from django.core.exceptions import PermissionDenied

    from submissions.services import withdraw_submission

    withdraw_submission(user=alice, submission=version.submission)
    version.submission.refresh_from_db()
    with pytest.raises(PermissionDenied):
        reproduce(version, olga)


# --- Through the real Redis broker and a real Celery worker ----------------------------------------------------


@pytest.mark.slow
def test_a_reproduction_uploaded_by_a_reviewer_is_evaluated_by_the_worker_and_compared(
    celery_worker_process, client, alice, olga, open_round, tiny_series
):
    import io

    import pandas as pd

    from accounts.models import Role
    from accounts.services import grant_role
    from evaluation.evidence import reproduction_evidence
    from reviews.services import assign_reviewer
    from tests.conftest import DEMO_TASKS
    from tests.runs_support import wait_for

    data = (DEMO_TASKS / "1-proverb-ending.csv").read_bytes()
    with transaction.atomic():
        version = submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="p.csv", data=data)
        )
    wait_for(lambda: all(r.is_finished for r in version.runs.all()), seconds=600, what="the version's runs")
    rhea = UserFactory(username="rhea")
    grant_role(user=rhea, role=Role.REVIEWER)
    assign_reviewer(submission=version.submission, reviewer=rhea, by=olga)
    # A reviewer's remake: 400 examples of the same kind, written apart from the authors' file.
    remake = io.StringIO()
    pd.read_csv(io.BytesIO(data)).iloc[::2].head(400).to_csv(remake, index=False)

    client.force_login(rhea)
    response = client.post(
        reverse("reproductions", args=[version.submission.pk]),
        {
            "task_file": SimpleUploadedFile(
                "remake.csv", remake.getvalue().encode(), content_type="text/csv"
            ),
            "note": "Proverbs with a twisted ending, written from the description.",
        },
    )
    assert response.status_code == 302
    reproduction = Reproduction.objects.get()
    runs = EvaluationRun.objects.filter(reproduction=reproduction)
    assert runs.count() == 3
    wait_for(lambda: all(r.is_finished for r in runs.all()), seconds=600, what="the reproduction's runs")
    assert set(runs.values_list("status", flat=True)) == {"succeeded"}
    assert all(run.examples.count() == 400 for run in runs)
    assert version.runs.count() == 3  # the version's own runs are untouched
    assert not EvaluationRun.objects.filter(version=version, reproduction__isnull=False).exists()

    shown = reproduction_evidence(user=rhea, reproduction=reproduction)
    (comparison,) = shown.comparisons
    assert comparison.outcome == compare_trends(
        original=comparison.original, reproduction=comparison.reproduction
    )
    page = _text(client.get(reverse("review_page", args=[version.submission.pk])))
    assert f'data-outcome="{comparison.outcome}">{comparison.line}' in page.replace("&quot;", '"')
    assert f"Tiny GPT-2: {comparison.outcome} — reproduction slope " in page
    # The team's one results e-mail came of the version's runs; the reproduction's runs sent none.
    from evaluation.models import ResultsEmail

    wait_for(
        lambda: ResultsEmail.objects.filter(version=version, sent_at__isnull=False).exists(), seconds=120
    )
    sent = [
        message
        for f in celery_worker_process.mail_dir.glob("*.log")
        for message in f.read_text().split("-" * 79)
        if message.strip()
    ]
    assert sum("Every model has finished evaluating" in message for message in sent) == 1
    assert not any("eproduction" in message for message in sent)


def test_the_sweeper_gives_up_on_a_silent_reproduction_run_without_an_email(version, olga, settings):
    import datetime as dt

    from evaluation.models import ResultsEmail
    from evaluation.services import claim_run, requeue_stale_runs

    run = reproduce(version, olga).runs.first()
    claim_run(run_id=run.pk, worker="test")
    EvaluationRun.objects.filter(pk=run.pk).update(attempts=settings.EVALUATION_MAX_ATTEMPTS)
    run.refresh_from_db()
    later = run.heartbeat_at + dt.timedelta(seconds=settings.EVALUATION_HEARTBEAT_TIMEOUT + 1)
    assert requeue_stale_runs(now=later) == (0, 1)
    run.refresh_from_db()
    assert run.status == "failed" and "stopped responding" in run.failure_reason
    assert not ResultsEmail.objects.exists()


def test_the_runs_of_a_withdrawn_submissions_reproduction_are_not_started(version, olga, alice, settings):
    import datetime as dt

    from evaluation.selectors import queue_places
    from evaluation.services import claim_run, resend_queued_runs
    from submissions.services import withdraw_submission

    run = reproduce(version, olga).runs.first()
    withdraw_submission(user=alice, submission=version.submission)
    assert claim_run(run_id=run.pk, worker="test") is None
    run.refresh_from_db()
    assert run.status == "queued"
    later = run.sent_at + dt.timedelta(seconds=settings.EVALUATION_QUEUED_RESEND_SECONDS + 1)
    assert resend_queued_runs(now=later) == 0  # nor sent again and again
    assert queue_places([run]) == {}  # and waits behind nobody


def test_a_reproductions_queued_run_has_its_place_in_the_queue(version, olga):
    from evaluation.selectors import queue_places

    first = reproduce(version, olga).runs.order_by("pk").first()
    places = queue_places([first])
    assert places[first.pk].position == 1


def test_the_review_page_costs_the_same_whatever_the_number_of_reproductions(client, version, rhea, olga):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("review_page", args=[version.submission.pk])
    reproduce(version, olga, means=RISING)
    client.force_login(rhea)
    client.get(url)  # caches warm up (rubric, evidence)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for means in (FLAT, STEEP):
        reproduce(version, rhea, means=means)
    client.get(url)
    with CaptureQueriesContext(connection) as many:
        page = _text(client.get(url))
    assert page.count('class="reproduction-line"') == 3
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries][len(few) :]


def test_an_organizer_retries_a_failed_reproduction_run_and_the_team_never_finds_it(
    client, version, rhea, olga, alice, charlie
):
    from evaluation.services import claim_run, fail_run

    run = reproduce(version, rhea).runs.first()
    fail_run(
        run_id=run.pk,
        token=claim_run(run_id=run.pk, worker="test"),
        reason="The model's context is too short",
    )
    url = reverse("run_retry", args=[run.pk])
    for user in (alice, charlie):
        client.force_login(user)
        assert client.post(url).status_code == 404
    client.force_login(rhea)
    response = client.post(url)
    assert (
        response.url
        == reverse("review_page", args=[version.submission.pk]) + f"#reproduction-{run.reproduction_id}"
    )
    run.refresh_from_db()
    assert run.status == "failed"  # only organizers retry
    client.force_login(olga)
    page = _text(client.get(reverse("submission_detail", args=[version.submission.pk])))
    assert f'action="{url}"' in page
    response = client.post(url)
    assert response.url == (
        reverse("submission_detail", args=[version.submission.pk]) + f"#reproduction-{run.reproduction_id}"
    )
    run.refresh_from_db()
    assert run.status == "queued" and run.failure_reason == ""


def test_the_worker_computes_a_reproductions_charts_so_the_first_view_computes_nothing(
    client, version, rhea, olga, monkeypatch
):
    from evaluation import evidence

    reproduction = reproduce(version, olga, means=RISING)
    evidence.precompute_evidence(version_id=version.pk)  # what the worker does once a run has succeeded
    evidence.precompute_reproduction_evidence(reproduction_id=reproduction.pk)

    def computed_on_view(*args, **kwargs):
        raise AssertionError("a trend was computed while the page was viewed")

    monkeypatch.setattr(evidence, "scaling_trend", computed_on_view)
    monkeypatch.setattr(evidence, "split_halves", computed_on_view)
    client.force_login(rhea)
    page = _text(client.get(reverse("review_page", args=[version.submission.pk])))
    assert f'data-outcome="{SIMILAR_OR_STRONGER}">Open Models: {SIMILAR_OR_STRONGER}' in page
