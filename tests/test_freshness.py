"""Pages cached until the data changes (config/freshness.py): every way of writing changes the stamp, and the
overview, tally and dashboards show a change on the very next request, from the same cache that serves the views
in between."""

import datetime as dt
import io
import socket

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config import freshness
from evaluation.evidence import precompute_evidence
from evaluation.models import EvaluationRun, ExampleResult
from evaluation.services import claim_run, record_heartbeat, record_progress
from reviews.models import Review
from reviews.services import assign_reviewer, current_rubric, decide_award, set_ranks, set_tally_rule
from submissions.models import Round
from tests.factories import UserFactory
from tests.runs_support import finish_run, public_and_private_series
from tests.test_overview import ALL_GRAND, add_submission, review

pytestmark = pytest.mark.django_db


@pytest.fixture
def series(db):
    return public_and_private_series((1_000_000, 10_000_000, 100_000_000))


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_every_kind_of_write_changes_the_stamp_and_sessions_do_not(open_round):
    def after(write) -> bool:
        before = freshness.stamp()
        write()
        return freshness.stamp() != before

    assert after(lambda: Round.objects.filter(pk=open_round.pk).update(name="Renamed"))
    assert after(lambda: Round.objects.create(name="Another", deadline=dt.date(2030, 1, 1)))
    assert after(lambda: Round.objects.bulk_create([Round(name="Third", deadline=dt.date(2030, 1, 2))]))
    assert after(lambda: Round.objects.filter(name="Third").delete())
    assert after(lambda: connection.cursor().execute("UPDATE submissions_round SET name = 'Raw'"))
    assert not after(lambda: Round.objects.count())
    assert not after(
        lambda: Session.objects.create(session_key="k" * 32, session_data="", expire_date=timezone.now())
    )


@pytest.mark.django_db(transaction=True)
def test_a_transaction_changes_the_stamp_at_its_write_and_again_at_its_commit(monkeypatch):
    round = Round.objects.create(name="Committed", deadline=dt.date(2030, 1, 1))
    changes = []
    monkeypatch.setattr(freshness, "changed", lambda *tables: changes.append(connection.in_atomic_block))
    with transaction.atomic():
        Round.objects.filter(pk=round.pk).update(name="One")
        Round.objects.filter(pk=round.pk).update(name="Two")
        assert changes == [True, True]  # a page read during the transaction is not kept past it
    assert changes == [True, True, False]  # and once more at the commit, however many writes
    with pytest.raises(RuntimeError), transaction.atomic():
        Round.objects.filter(pk=round.pk).update(name="Three")
        raise RuntimeError("rolled back")
    assert changes == [True, True, False, True]  # nothing more: nothing was committed


def test_the_overview_shows_each_change_on_the_next_view_and_reads_the_cache_in_between(
    client, olga, open_round, series, reviewers, django_capture_on_commit_callbacks
):
    submission = add_submission(open_round, "Cached task", capture=django_capture_on_commit_callbacks)
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    assert "<td>not reviewed<" not in client.get(url).content.decode()
    with CaptureQueriesContext(connection) as cached_view:
        page = client.get(url).content.decode()
    assert "Cached task" in page
    assert not [q for q in cached_view.captured_queries if "evaluation_evaluationrun" in q["sql"]]

    review(submission, reviewers[0], olga, status=None)  # assigned: the status changes
    assert "<td>not reviewed<" in client.get(url).content.decode()
    submit_review(submission)
    assert "grand ×1" in client.get(url).content.decode()
    # A run set back by a plain UPDATE (as the sweeper does): the series no longer has its trend.
    EvaluationRun.objects.filter(version=submission.current_version).update(
        status=EvaluationRun.Status.QUEUED
    )
    assert 'secondary">evaluating<' in client.get(url).content.decode()


def submit_review(submission) -> None:
    """Its one reviewer submits a review: all grand, a grand prize suggested."""
    Review.objects.create(
        assignment=submission.assignments.get(),
        version=submission.current_version,
        rubric=current_rubric(),
        status=Review.Status.SUBMITTED,
        levels=ALL_GRAND,
        suggested_tier="grand",
    )


def test_a_trend_the_worker_computes_shows_in_the_overview_without_a_database_write(
    client, olga, open_round, series, django_capture_on_commit_callbacks
):
    submission = add_submission(
        open_round, "Late trend", computed=False, capture=django_capture_on_commit_callbacks
    )
    current_rubric()  # its first reading stores the rubric: the version page below then writes nothing
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    pending = 'secondary">not computed yet<'
    assert pending in client.get(url).content.decode()
    assert pending in client.get(url).content.decode()  # cached
    # The organizer opens the version page, whose view computes the evidence the worker has not: no row is
    # written, the trend is only cached, and the overview shows it.
    assert client.get(submission.get_absolute_url()).status_code == 200
    assert pending not in client.get(url).content.decode()


def test_the_worker_caching_a_trend_refreshes_the_overview(
    client, olga, open_round, series, django_capture_on_commit_callbacks
):
    submission = add_submission(
        open_round, "Worker", computed=False, capture=django_capture_on_commit_callbacks
    )
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    assert 'secondary">not computed yet<' in client.get(url).content.decode()
    precompute_evidence(version_id=submission.current_version_id)
    assert 'secondary">not computed yet<' not in client.get(url).content.decode()


def test_the_tally_shows_ranks_rules_and_awards_at_once_and_its_forms_carry_each_viewers_token(
    olga, open_round, series, reviewers, django_capture_on_commit_callbacks
):
    submission = add_submission(open_round, "Tallied", capture=django_capture_on_commit_callbacks)
    for reviewer in reviewers[:2]:
        review(submission, reviewer, olga, levels=ALL_GRAND, tier="grand")
    url = reverse("round_tally", args=[open_round.pk])
    first = Client(enforce_csrf_checks=True)
    first.force_login(olga)
    assert 'class="rule-in-force">median<' in first.get(url).content.decode()
    set_tally_rule(round=open_round, rule="minimum", by=olga)
    assert 'class="rule-in-force">minimum<' in first.get(url).content.decode()
    set_ranks(round=open_round, ranks={submission.pk: 3}, by=olga)
    assert f'name="rank_{submission.pk}" value="3"' in first.get(url).content.decode()
    decide_award(round=open_round, submission_id=submission.pk, tier="third", reason="a test", by=olga)
    assert '<td class="confirmed">third' in first.get(url).content.decode()

    # Another organizer reads the same cached page, with a token of their own that the site accepts.
    other = UserFactory(username="otto")
    from accounts.models import Role
    from accounts.services import grant_role

    grant_role(user=other, role=Role.ORGANIZER)
    second = Client(enforce_csrf_checks=True)
    second.force_login(other)
    page = second.get(url)
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert freshness.CSRF_PLACEHOLDER not in page.content.decode()
    answer = second.post(
        reverse("round_tally_rule", args=[open_round.pk]), {"rule": "median", "csrfmiddlewaretoken": token}
    )
    assert answer.status_code == 302
    assert 'class="rule-in-force">median<' in second.get(url).content.decode()


def test_the_reviewer_dashboard_shows_a_new_assignment_and_a_submitted_review_at_once(
    client, olga, open_round, series, reviewers, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    first = add_submission(open_round, "First task", capture=capture)
    second = add_submission(open_round, "Second task", capture=capture)
    assign_reviewer(submission=first, reviewer=reviewers[0], by=olga)
    client.force_login(reviewers[0])
    url = reverse("dashboard")
    page = client.get(url).content.decode()
    assert "First task" in page and "Second task" not in page
    assign_reviewer(submission=second, reviewer=reviewers[0], by=olga)
    assert "Second task" in client.get(url).content.decode()
    assert "<strong>0 of 2</strong>" in client.get(url).content.decode()
    submit_review(first)
    assert "<strong>1 of 2</strong>" in client.get(url).content.decode()


def test_the_contestant_dashboard_follows_the_clock_without_any_write(client, alice, monkeypatch):
    soon = timezone.now() + dt.timedelta(seconds=30)
    Round.objects.create(name="Opening soon", opens_at=soon, deadline=dt.date(2099, 1, 1))
    client.force_login(alice)
    url = reverse("dashboard")
    assert "Submit a new task to Opening soon" not in client.get(url).content.decode()
    assert "Submit a new task to Opening soon" not in client.get(url).content.decode()  # cached
    # Half a minute later, in the same minute or not: the round has opened.
    later = soon + dt.timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "Submit a new task to Opening soon" in client.get(url).content.decode()


def test_pages_are_served_when_the_cache_fails(client, olga, open_round, series, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("the cache server is down")

    client.force_login(olga)
    monkeypatch.setattr(cache, "get", broken)
    monkeypatch.setattr(cache, "set", broken)
    open_round.name = "Still served"
    open_round.save()  # a write while the cache is down: no error either
    for url in (
        reverse("round_overview", args=[open_round.pk]),
        reverse("round_tally", args=[open_round.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert "Still served" in response.content.decode()


def test_the_second_view_of_an_unchanged_overview_costs_a_fraction_of_the_first(
    client, olga, open_round, series, django_capture_on_commit_callbacks
):
    for n in range(3):
        add_submission(open_round, f"Task {n}", capture=django_capture_on_commit_callbacks)
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    with CaptureQueriesContext(connection) as second:
        client.get(url)
    # The session, the user and their roles, the round: nothing of the submissions, runs or reviews.
    assert len(second) < len(first)
    tables = " ".join(q["sql"] for q in second.captured_queries)
    assert "submissions_submission" not in tables and "reviews_review" not in tables


def test_refresh_pages_shows_a_change_made_outside_django(client, olga, open_round):
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    heading = '<h1 class="h3">Overview of {}</h1>'
    assert heading.format("Round 1") in client.get(url).content.decode()
    # A change the watched connections do not see (as if made in psql): the cached page stays as it was...
    watched = list(connection.execute_wrappers)
    connection.execute_wrappers.clear()
    try:
        Round.objects.filter(pk=open_round.pk).update(name="Renamed in psql")
    finally:
        connection.execute_wrappers.extend(watched)
    assert heading.format("Round 1") in client.get(url).content.decode()
    # ...until an operator runs the command.
    out = io.StringIO()
    call_command("refresh_pages", stdout=out)
    assert "computed afresh" in out.getvalue()
    assert heading.format("Renamed in psql") in client.get(url).content.decode()


def test_a_runs_heartbeat_and_progress_leave_the_stamp_and_its_status_changes_it(
    open_round, series, django_capture_on_commit_callbacks
):
    submission = add_submission(
        open_round, "Running", computed=False, capture=django_capture_on_commit_callbacks
    )
    run = submission.current_version.runs.first()
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.QUEUED)
    before = freshness.stamp()
    token = claim_run(run_id=run.pk, worker="test")  # status, worker, attempts… with the heartbeat
    assert freshness.stamp() != before
    before = freshness.stamp()
    assert record_heartbeat(run_id=run.pk, token=token)
    assert record_progress(run_id=run.pk, token=token, done=7, total=300)
    assert freshness.stamp() == before
    EvaluationRun.objects.filter(pk=run.pk).update(progress_done=8, status=EvaluationRun.Status.FAILED)
    assert freshness.stamp() != before


def test_the_version_page_is_not_kept_while_a_run_of_it_is_running(
    client, alice, open_round, series, django_capture_on_commit_callbacks
):
    submission = add_submission(open_round, "Progress", capture=django_capture_on_commit_callbacks)
    client.force_login(submission.team.memberships.first().user)
    run = (
        submission.current_version.runs.select_related("model__series")
        .filter(model__series__visibility="public")
        .first()
    )
    # Evaluated again (as after a retry): its earlier results gone, queued and claimed by a worker.
    ExampleResult.objects.filter(run=run).delete()
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.QUEUED)
    token = claim_run(run_id=run.pk, worker="test")
    url = submission.get_absolute_url()
    for done in (10, 120, 250):
        record_progress(run_id=run.pk, token=token, done=done, total=300)
        assert f'<span class="run-count">{done} / 300</span>' in client.get(url).content.decode()
    # The run finishes (as the worker ends it: put back and completed here by the test's own claim).
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.QUEUED)
    finish_run(run, rows=list(range(2, 302)), values=[0.5] * 300)
    assert "run-count" not in client.get(url).content.decode()  # computes the new chart: a change itself
    assert "run-count" not in client.get(url).content.decode()  # kept
    with CaptureQueriesContext(connection) as cached_view:
        assert "run-count" not in client.get(url).content.decode()
    assert not [q for q in cached_view.captured_queries if "evaluation_evaluationrun" in q["sql"]]


def test_a_computation_cached_by_its_tables_is_kept_through_changes_elsewhere():
    computed = []

    def compute(name):
        computed.append(name)
        return name

    def read():
        freshness.cached(("runs part",), lambda: compute("runs"), tables=("evaluation_evaluationrun",))
        freshness.cached(("reviews part",), lambda: compute("reviews"), tables=("reviews_review",))
        freshness.cached(("everything",), lambda: compute("all"))

    read()
    assert computed == ["runs", "reviews", "all"]
    read()
    assert computed == ["runs", "reviews", "all"]
    freshness.changed("reviews_review")
    read()
    assert computed[3:] == ["reviews", "all"]
    freshness.changed()  # anything may have changed (refresh_pages): every part again
    read()
    assert computed[5:] == ["runs", "reviews", "all"]


def test_a_review_does_not_make_the_overview_read_the_rounds_runs_again_and_a_run_does(
    client, olga, open_round, series, reviewers, django_capture_on_commit_callbacks
):
    submission = add_submission(open_round, "Parts", capture=django_capture_on_commit_callbacks)
    client.force_login(olga)
    url = reverse("round_overview", args=[open_round.pk])
    client.get(url)

    def runs_read() -> bool:
        with CaptureQueriesContext(connection) as view:
            client.get(url)
        return any("evaluation_evaluationrun" in q["sql"] for q in view.captured_queries)

    review(submission, reviewers[0], olga, levels=ALL_GRAND, tier="grand")
    assert not runs_read()
    assert "grand ×1" in client.get(url).content.decode()
    run = submission.current_version.runs.first()
    EvaluationRun.objects.filter(pk=run.pk).update(status=EvaluationRun.Status.QUEUED)
    assert runs_read()


def test_writes_and_pages_go_on_while_the_cache_server_does_not_answer(client, olga, open_round):
    # A server that takes connections and never answers: each cache call gives up after the settings' timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    hanging = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{silent.getsockname()[1]}/0",
        }
    }
    try:
        with override_settings(CACHES=hanging):
            open_round.name = "Saved while the cache hangs"
            open_round.save()
            client.force_login(olga)
            response = client.get(reverse("round_overview", args=[open_round.pk]))
        assert response.status_code == 200
        assert "Saved while the cache hangs" in response.content.decode()
    finally:
        silent.close()


def test_a_result_whose_data_changed_while_it_was_computed_is_not_stored():
    def compute():
        Round.objects.create(
            name="Written meanwhile", deadline=dt.date(2030, 1, 1)
        )  # another request's write
        return "stale at birth"

    before = freshness.stamp()
    assert freshness.cached(("racing",), compute) == "stale at birth"
    # Nothing under the stamp it was computed under (no one could read it: the stamp has changed)...
    assert cache.get(freshness._full_key(("racing",), [before])) is None
    # ...while a result computed without a change meanwhile is stored under its stamp.
    assert freshness.cached(("quiet",), lambda: "kept") == "kept"
    assert cache.get(freshness._full_key(("quiet",), [freshness.stamp()])) == "kept"


def test_a_request_reads_the_stamps_once_and_again_after_its_own_writes(
    client, alice, open_round, monkeypatch
):
    client.force_login(alice)
    url = reverse("dashboard")
    client.get(url)
    reads = []
    real_get_many = cache.get_many

    def counting_get_many(keys, *args, **kwargs):
        if any(key.startswith("freshness:") for key in keys):
            reads.append(keys)
        return real_get_many(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get_many", counting_get_many)
    assert client.get(url).status_code == 200
    assert len(reads) == 1  # the rounds' stamps and the body's, in one read

    # Within one request (as a view that writes, then renders): its own write shows at once.
    freshness.begin_request()
    try:
        before = freshness.stamp()
        assert freshness.stamp() == before
        assert freshness.cached(("rounds read",), lambda: Round.objects.count()) == 1
        Round.objects.create(name="Written by this request", deadline=dt.date(2030, 1, 1))
        assert freshness.stamp() != before
        assert freshness.cached(("rounds read",), lambda: Round.objects.count()) == 2
    finally:
        freshness.end_request()


def test_the_home_page_shows_a_round_change_at_once_and_each_viewer_their_own_buttons(
    alice, rita, open_round
):
    home = reverse("home")
    anonymous, contestant, reviewer = Client(), Client(), Client()
    contestant.force_login(alice)
    reviewer.force_login(rita)
    for _ in range(2):  # computed, then from the cache
        assert "Submit a task to Round 1" in contestant.get(home).content.decode()
        for other in (anonymous, reviewer):
            html = other.get(home).content.decode()
            assert "Round 1" in html and "Submit a task to Round 1" not in html
        assert "Sign up to submit" in anonymous.get(home).content.decode()
        assert "Sign up to submit" not in reviewer.get(home).content.decode()
    open_round.name = "Renamed round"
    open_round.save()
    assert "Submit a task to Renamed round" in contestant.get(home).content.decode()
    assert "Renamed round" in anonymous.get(home).content.decode()


def test_a_cached_body_is_sent_as_rendered_whatever_its_characters(client, alice, open_round):
    """The cached part of a page is kept and sent as UTF-8 bytes, spliced where the page's template puts it."""
    Round.objects.filter(pk=open_round.pk).update(name="Ronde — 東京 <!--cached body-->")
    client.force_login(alice)
    for _ in range(2):  # computed, then from the cache
        page = client.get(reverse("home"))
        html = page.content.decode()
        assert "Ronde — 東京 &lt;!--cached body--&gt;" in html
        assert "<!--cached body" not in html  # the marker replaced, the name escaped
        assert html.count("<main") == 1 and html.rstrip().endswith("</html>")
        assert page["Content-Type"] == "text/html; charset=utf-8"


def test_a_page_is_computed_again_when_the_time_left_it_shows_changes_not_each_minute(
    client, alice, open_round, monkeypatch
):
    client.force_login(alice)
    url = reverse("dashboard")
    now = timezone.now()
    closes_at = open_round.closes_at
    assert closes_at - now > dt.timedelta(days=2)  # the time left written in days and hours

    def view(at) -> tuple[str, int]:
        monkeypatch.setattr(timezone, "now", lambda: at)
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(url).content.decode()
        return html, len(ctx.captured_queries)

    start = closes_at - dt.timedelta(days=2, hours=3, minutes=30)
    first, computed = view(start)
    assert "2\xa0days, 3\xa0hours left" in first
    same_text, cached = view(start + dt.timedelta(minutes=20))  # another minute, the same text
    assert cached < computed and "2\xa0days, 3\xa0hours left" in same_text
    an_hour_less, _ = view(start + dt.timedelta(minutes=40))
    assert "2\xa0days, 2\xa0hours left" in an_hour_less
    # In the last day the text, and so the page, follows the minutes.
    last_day = closes_at - dt.timedelta(hours=5, minutes=10, seconds=30)
    assert "5\xa0hours, 10\xa0minutes left" in view(last_day)[0]
    assert "5\xa0hours, 9\xa0minutes left" in view(last_day + dt.timedelta(minutes=1))[0]
