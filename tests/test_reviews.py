"""A reviewer's review: the rubric beside the evidence, drafts that survive a reload, submitting locks, organizers
unlock with a reason, rubric versions, and the version a review was made on."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from accounts.services import grant_role
from contest import rubric
from reviews.models import Review, ReviewUnlock, Rubric
from reviews.services import (
    IncompleteReview,
    ReviewAnswers,
    ReviewLocked,
    add_rubric_version,
    assign_reviewer,
    save_review,
    unlock_review,
)
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, UserFactory, make_task_csv

pytestmark = pytest.mark.django_db

EVERY_LEVEL = {f"level_{key}": "accepted" for key in rubric.CRITERIA_KEYS}


def _submit(user, round, *, name="Even or odd", authors="Alice Example", rows=300):
    return submit_task(
        user=user,
        round=round,
        answers={**ANSWERS, "task_name": name, "authors": authors},
        upload=TaskUpload(name="alice-secret-task.csv", data=make_task_csv(rows)),
    )


@pytest.fixture
def submission(alice, open_round, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the evaluation is not under test
        return _submit(alice, open_round).submission


@pytest.fixture
def assignment(submission, rita, olga):
    return assign_reviewer(submission=submission, reviewer=rita, by=olga)


def _review_url(submission) -> str:
    return reverse("review_page", args=[submission.pk])


def test_the_review_page_shows_the_evidence_and_the_whole_rubric_blind(client, rita, assignment):
    client.force_login(rita)
    page = client.get(_review_url(assignment.submission)).content.decode()
    for criterion in rubric.CRITERIA_2022:
        assert criterion["name"] in page
        for level in rubric.LEVELS:
            assert criterion["levels"][level].replace("’", "&#x27;")[:40] in page.replace("’", "&#x27;")
    assert "Shows a clear, strictly monotonic inverse scaling trend." in page
    assert "Comment for the authors" in page and "Confidential comment for the organizers" in page
    assert "Suggested tier" in page and "Grand prize" in page
    assert "Description of the intended task" in page and "First examples" in page  # the evidence beside it
    for secret in ("Alice Example", "Team alice", "alice-secret-task.csv"):
        assert secret not in page


def test_a_draft_survives_a_reload(client, rita, assignment):
    client.force_login(rita)
    url = _review_url(assignment.submission)
    client.post(url, {"save": "1", "level_strength": "grand", "comment_novelty": "Seen in 2021 work."})
    page = client.get(url)
    form = page.context["form"]
    assert form.initial["level_strength"] == "grand"
    assert form.initial["comment_novelty"] == "Seen in 2021 work."
    assert 'value="grand" checked' in page.content.decode()
    assert Review.objects.get().status == Review.Status.DRAFT


def test_the_autosave_endpoint_keeps_what_was_typed(client, rita, assignment):
    client.force_login(rita)
    saved = client.post(
        reverse("review_autosave", args=[assignment.submission.pk]),
        {"comment_for_authors": "Clear write-up.", "level_coverage": "none"},
    )
    assert saved.status_code == 200 and saved.json()["status"] == "draft"
    review = Review.objects.get()
    assert review.comment_for_authors == "Clear write-up." and review.levels == {"coverage": "none"}
    too_long = client.post(
        reverse("review_autosave", args=[assignment.submission.pk]), {"comment_for_authors": "x" * 20_001}
    )
    assert too_long.status_code == 400 and "comment_for_authors" in too_long.json()["errors"]
    assert Review.objects.get().comment_for_authors == "Clear write-up."


def test_submitting_an_incomplete_review_keeps_the_draft_and_says_what_is_missing(client, rita, assignment):
    client.force_login(rita)
    response = client.post(
        _review_url(assignment.submission),
        {"submit": "1", "level_strength": "grand", "comment_for_authors": "Hi"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "Choose a level for Inverse Scaling Generality." in errors["level_generality"]
    assert "Suggest a tier." in errors["suggested_tier"]
    assert "level_strength" not in errors
    review = Review.objects.get()
    assert review.status == Review.Status.DRAFT
    assert review.levels == {"strength": "grand"} and review.comment_for_authors == "Hi"


def test_a_submitted_review_is_locked_server_side(client, rita, assignment):
    client.force_login(rita)
    url = _review_url(assignment.submission)
    client.post(url, {"submit": "1", **EVERY_LEVEL, "suggested_tier": "third"})
    review = Review.objects.get()
    assert review.status == Review.Status.SUBMITTED and review.submitted_at
    assert review.version == assignment.submission.current_version
    assert review.rubric.version == 1

    changed = {**EVERY_LEVEL, "level_strength": "none", "suggested_tier": "none"}
    client.post(url, {"save": "1", **changed})
    assert (
        client.post(reverse("review_autosave", args=[assignment.submission.pk]), changed).status_code == 409
    )
    with pytest.raises(ReviewLocked):
        save_review(assignment=assignment, user=rita, answers=ReviewAnswers(levels={"strength": "none"}))
    review.refresh_from_db()
    assert review.levels["strength"] == "accepted" and review.suggested_tier == "third"
    assert "disabled" in client.get(url).content.decode()


def test_only_an_organizer_unlocks_and_the_unlock_is_recorded(client, rita, olga, alice, assignment):
    save_review(
        assignment=assignment,
        user=rita,
        answers=ReviewAnswers(levels=dict.fromkeys(rubric.CRITERIA_KEYS, "grand"), suggested_tier="grand"),
        submit=True,
    )
    review = Review.objects.get()
    for someone in (rita, alice):
        with pytest.raises(PermissionDenied):
            unlock_review(review=review, by=someone, reason="please")
    with pytest.raises(ValidationError, match="Say why"):
        unlock_review(review=review, by=olga, reason="  ")
    client.force_login(olga)
    client.post(reverse("review_unlock", args=[review.pk]), {"reason": "Scored the wrong version."})
    review.refresh_from_db()
    assert review.status == Review.Status.DRAFT
    unlock = ReviewUnlock.objects.get()
    assert (unlock.unlocked_by, unlock.reason) == (olga, "Scored the wrong version.")
    save_review(assignment=assignment, user=rita, answers=ReviewAnswers(levels={"strength": "none"}))
    assert Review.objects.get().levels == {"strength": "none"}


def test_only_the_assigned_reviewer_writes_the_review(alice, olga, assignment):
    other = UserFactory(username="ravi")
    grant_role(user=other, role=Role.REVIEWER)
    for someone in (other, alice, olga):
        with pytest.raises(PermissionDenied):
            save_review(assignment=assignment, user=someone, answers=ReviewAnswers())
    assert not Review.objects.exists()


def test_a_new_rubric_wording_applies_to_new_reviews_and_old_ones_keep_theirs(client, rita, olga, assignment):
    save_review(assignment=assignment, user=rita, answers=ReviewAnswers(levels={"novelty": "grand"}))
    reworded = [dict(c) for c in rubric.CRITERIA_2022]
    reworded[0] = {**reworded[0], "question": "How steep is the trend, judged on the public series only?"}
    with pytest.raises(ValidationError, match="keys must be"):
        add_rubric_version(criteria=reworded[::-1], note="shuffled", by=olga)
    with pytest.raises(PermissionDenied):
        add_rubric_version(criteria=reworded, note="mine", by=rita)
    second = add_rubric_version(criteria=reworded, note="Sharper strength question", by=olga)
    assert second.version == 2 and Rubric.objects.count() == 2

    client.force_login(rita)
    old = client.get(_review_url(assignment.submission)).content.decode()
    assert "How straight and steep is the inverse scaling trend on public models?" in old
    assert "version 1" in old

    other = UserFactory(username="ravi")
    grant_role(user=other, role=Role.REVIEWER)
    assign_reviewer(submission=assignment.submission, reviewer=other, by=olga)
    client.force_login(other)
    client.post(_review_url(assignment.submission), {"save": "1"})
    assert Review.objects.get(assignment__reviewer=other).rubric == second
    assert (
        "judged on the public series only" in client.get(_review_url(assignment.submission)).content.decode()
    )


def test_a_review_says_which_version_it_judged_and_what_changed_since(
    client, rita, alice, assignment, open_round
):
    save_review(assignment=assignment, user=rita, answers=ReviewAnswers(levels={"novelty": "grand"}))
    submit_task(
        user=alice,
        round=open_round,
        answers={**ANSWERS, "importance": "A sharper argument."},
        upload=None,
        submission=assignment.submission,
    )
    client.force_login(rita)
    page = client.get(_review_url(assignment.submission)).content.decode()
    assert "You reviewed version 1; the current one is version 2." in page
    assert "version 2: answers: importance" in page
    client.post(_review_url(assignment.submission), {"save": "1", "level_novelty": "grand"})
    assert Review.objects.get().version.number == 2
    assert "You reviewed version" not in client.get(_review_url(assignment.submission)).content.decode()


def test_the_dashboard_shows_each_status_and_the_progress_in_constant_queries(
    client, rita, olga, alice, open_round, django_capture_on_commit_callbacks
):
    def assign_more(n: int) -> None:
        for i in range(n):
            with django_capture_on_commit_callbacks(execute=False):
                version = _submit(alice, open_round, name=f"Task {Review.objects.count()}-{i}-{n}")
            assignment = assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
            if i == 0:
                save_review(
                    assignment=assignment, user=rita, answers=ReviewAnswers(levels={"strength": "none"})
                )
            if i == 1:
                full = dict.fromkeys(rubric.CRITERIA_KEYS, "accepted")
                save_review(
                    assignment=assignment,
                    user=rita,
                    answers=ReviewAnswers(levels=full, suggested_tier="third"),
                    submit=True,
                )

    client.force_login(rita)
    client.get(reverse("dashboard"))  # what is cached until its own tables change (the rounds) is cached
    assign_more(3)
    with CaptureQueriesContext(connection) as few:
        page = client.get(reverse("dashboard")).content.decode()
    assert "1 of 3</strong> reviews submitted · 1 draft" in page
    for badge in (">Not started</span>", ">Draft</span>", ">Submitted</span>"):
        assert page.count(badge) == 1
    assign_more(6)
    with CaptureQueriesContext(connection) as many:
        page = client.get(reverse("dashboard")).content.decode()
    assert "2 of 9</strong> reviews submitted · 2 drafts" in page
    assert len(many) == len(few)


def test_the_review_page_costs_the_same_whatever_the_number_of_submissions(
    client, rita, olga, alice, open_round, assignment, django_capture_on_commit_callbacks
):
    client.force_login(rita)
    save_review(assignment=assignment, user=rita, answers=ReviewAnswers(levels={"strength": "none"}))
    client.get(_review_url(assignment.submission))  # caches warm up (rubric, evidence)
    with CaptureQueriesContext(connection) as few:
        client.get(_review_url(assignment.submission))
    for i in range(5):
        with django_capture_on_commit_callbacks(execute=False):
            version = _submit(alice, open_round, name=f"Another {i}")
        assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    with CaptureQueriesContext(connection) as many:
        client.get(_review_url(assignment.submission))
    assert len(many) == len(few)


def test_contestants_and_other_reviewers_never_reach_the_review_form(
    client, alice, charlie, olga, assignment
):
    other = UserFactory(username="ravi")
    grant_role(user=other, role=Role.REVIEWER)
    for someone in (alice, charlie, other, olga):
        client.force_login(someone)
        assert client.get(_review_url(assignment.submission)).status_code == 404
        assert client.post(reverse("review_autosave", args=[assignment.submission.pk])).status_code == 404
    assert not Review.objects.exists()


def test_submit_needs_every_criterion_of_the_review_s_own_rubric(rita, assignment):
    with pytest.raises(IncompleteReview) as refused:
        save_review(
            assignment=assignment,
            user=rita,
            answers=ReviewAnswers(levels={"strength": "grand", "bogus": "grand"}, suggested_tier="wrong"),
            submit=True,
        )
    assert set(refused.value.message_dict) == {f"level_{k}" for k in rubric.CRITERIA_KEYS[1:]} | {
        "suggested_tier"
    }
    assert Review.objects.get().levels == {"strength": "grand"}  # unknown keys and values are not stored


def _submitted(assignment, reviewer, *, tier="third", comment="", confidential=""):
    return save_review(
        assignment=assignment,
        user=reviewer,
        answers=ReviewAnswers(
            levels=dict.fromkeys(rubric.CRITERIA_KEYS, "accepted"),
            suggested_tier=tier,
            comment_for_authors=comment,
            confidential_comment=confidential,
        ),
        submit=True,
    )


def test_after_submitting_a_reviewer_reads_the_other_reviews_and_discusses(
    client, rita, olga, alice, assignment
):
    ravi = UserFactory(username="ravi")
    grant_role(user=ravi, role=Role.REVIEWER)
    second = assign_reviewer(submission=assignment.submission, reviewer=ravi, by=olga)
    _submitted(
        second, ravi, tier="second", comment="Strong on the private series.", confidential="Seen before?"
    )
    url = _review_url(assignment.submission)
    post_url = reverse("discussion_post", args=[assignment.submission.pk])

    client.force_login(rita)
    before = client.get(url).content.decode()
    assert "Strong on the private series." not in before and "The other reviews" not in before
    assert client.post(post_url, {"body": "Too early"}).status_code == 404  # not before her own is submitted

    _submitted(assignment, rita)
    after = client.get(url).content.decode()
    assert "Strong on the private series." in after and "Reviewer 2" in after
    assert "ravi" not in after and "Seen before?" not in after  # no names, no confidential comments
    client.post(post_url, {"body": "Why second rather than third?"})
    client.force_login(ravi)
    client.post(post_url, {"body": "Two grand criteria."})
    client.force_login(olga)
    client.post(post_url, {"body": "Please settle by Friday."})
    client.force_login(rita)
    page = client.get(url).content.decode()
    thread = page.split('id="discussion"', 1)[1]
    assert thread.index("Why second rather than third?") < thread.index("Two grand criteria.")
    assert "You ·" in thread and "Reviewer 2 ·" in thread and "Organizer ·" in thread
    assert "olga" not in thread and "ravi" not in thread

    client.force_login(olga)
    organizer_page = client.get(
        reverse("submission_detail", args=[assignment.submission.pk])
    ).content.decode()
    assert (
        "Seen before?" in organizer_page
        and "ravi" in organizer_page
        and "rita (Reviewer 1)" in organizer_page
    )
    assert "Unlock for changes" in organizer_page

    client.force_login(alice)
    own_page = client.get(reverse("submission_detail", args=[assignment.submission.pk])).content.decode()
    for hidden in ("Why second rather than third?", "Strong on the private series.", "rita", "ravi"):
        assert hidden not in own_page
    assert client.post(post_url, {"body": "Let me in"}).status_code == 404


def test_an_organizer_adds_a_rubric_version_in_the_admin_and_never_edits_one(client, olga):
    import json

    client.force_login(olga)
    add = reverse("admin:reviews_rubric_add")
    form = client.get(add)
    assert form.status_code == 200 and "Inverse Scaling Strength" in form.content.decode()
    reworded = [dict(c) for c in rubric.CRITERIA_2022]
    reworded[3] = {**reworded[3], "name": "Novelty"}
    bad = client.post(add, {"criteria": json.dumps(reworded[:5]), "note": "five"})
    assert "keys must be" in bad.content.decode() and not Rubric.objects.filter(version=2).exists()
    client.post(add, {"criteria": json.dumps(reworded), "note": "Shorter name"})
    added = Rubric.objects.get(version=2)
    assert (added.criteria[3]["name"], added.created_by) == ("Novelty", olga)
    change = client.get(reverse("admin:reviews_rubric_change", args=[added.pk]))
    assert 'name="criteria"' not in change.content.decode()  # shown, not editable


def test_the_spot_check_hides_the_answers_until_every_example_is_labelled(client, rita, olga, assignment):
    url = reverse("spot_check", args=[assignment.submission.pk])
    client.force_login(rita)
    page = client.get(url).content.decode()
    checks = list(assignment.spot_checks.order_by("row"))
    assert len(checks) == 20 and len({c.row for c in checks}) == 20
    assert "the file&#x27;s answer" not in page and "the file's answer" not in page
    assert "0 of 20 labelled" in page
    client.get(url)
    assert assignment.spot_checks.count() == 20  # drawn once: a reload shows the same examples

    wrong = {c.row for c in checks[:3]}
    labels = {f"row_{c.row}": str(1 - c.answer if c.row in wrong else c.answer) for c in checks}
    first_half = dict(list(labels.items())[:10])
    client.post(url, first_half)
    page = client.get(url).content.decode()
    assert "10 of 20 labelled" in page and "agrees" not in page

    client.post(url, labels)
    page = client.get(url).content.decode()
    assert "<strong>17 of 20</strong>" in page and "(85%)" in page
    assert page.count(">disagrees<") == 3 and "the file's answer</span>" in page
    client.post(url, {f"row_{c.row}": str(c.answer) for c in checks})  # too late to change
    assert sum(c.agrees for c in assignment.spot_checks.all()) == 17

    client.force_login(olga)
    organizer_page = client.get(
        reverse("submission_detail", args=[assignment.submission.pk])
    ).content.decode()
    assert "rita's label spot-check: agrees on 17 of 20 (85%)" in organizer_page
    for row in sorted(wrong):
        assert f">row {row}</a>" in organizer_page


def test_each_reviewer_gets_a_sample_seeded_by_reviewer_and_version(rita, olga, assignment):
    from reviews.services import spot_check_sample

    ravi = UserFactory(username="ravi")
    grant_role(user=ravi, role=Role.REVIEWER)
    other = assign_reviewer(submission=assignment.submission, reviewer=ravi, by=olga)
    mine = {c.row for c in spot_check_sample(assignment=assignment)}
    theirs = {c.row for c in spot_check_sample(assignment=other)}
    assert len(mine) == len(theirs) == 20 and mine != theirs
    assignment.spot_checks.all().delete()
    assert {c.row for c in spot_check_sample(assignment=assignment)} == mine  # the seed, not chance


def test_a_completion_task_is_spot_checked_as_right_or_wrong(client, rita, olga, alice, open_round, settings):
    settings.SPOT_CHECK_SIZE = 5
    version = submit_task(
        user=alice,
        round=open_round,
        answers=ANSWERS | {"metric": "sequence_prob"},
        upload=TaskUpload(name="t.csv", data=make_task_csv(300, metric="sequence_prob")),
    )
    assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    url = reverse("spot_check", args=[version.submission.pk])
    client.force_login(rita)
    page = client.get(url).content.decode()
    assert "The completion is right" in page and "saying whether each completion is the right one" in page
    rows = sorted(version.submission.assignments.get().spot_checks.values_list("row", flat=True))
    client.post(url, {f"row_{r}": "1" if i else "0" for i, r in enumerate(rows)})
    assert "<strong>4 of 5</strong>" in client.get(url).content.decode()


def test_the_dashboard_filters_by_status_and_round_and_sorts(client, rita, olga, alice, open_round, settings):
    from tests.factories import RoundFactory

    later = RoundFactory(
        name="Round 9", deadline=open_round.deadline.replace(year=open_round.deadline.year + 1)
    )
    names = {}
    for round, name in ((open_round, "Zebra task"), (open_round, "Apple task"), (later, "Mango task")):
        version = _submit(alice, round, name=name)
        names[name] = assign_reviewer(submission=version.submission, reviewer=rita, by=olga)
    save_review(assignment=names["Mango task"], user=rita, answers=ReviewAnswers(levels={"strength": "none"}))
    client.force_login(rita)

    def tasks(**query) -> list[str]:
        page = client.get(reverse("dashboard"), query).content.decode()
        return [name for name in sorted(names, key=page.find) if name in page]

    assert tasks(sort="task") == ["Apple task", "Mango task", "Zebra task"]
    assert tasks(status="draft") == ["Mango task"]
    assert tasks(round=str(open_round.pk), sort="task") == ["Apple task", "Zebra task"]
    assert tasks(sort="status")[-1] == "Mango task"
    assert tasks(sort="nonsense")[-1] == "Mango task"  # an unknown sort falls back to the round's order
    assert (
        "No assignment matches" in client.get(reverse("dashboard"), {"status": "submitted"}).content.decode()
    )


def test_a_conflict_found_after_the_assignment_closes_the_submission_to_the_reviewer(
    client, rita, olga, assignment
):
    from reviews.services import set_conflict

    client.force_login(rita)
    assert client.get(_review_url(assignment.submission)).status_code == 200
    set_conflict(reviewer=rita, team=assignment.submission.team, person=None, reason="Same lab", by=olga)
    for url in (
        _review_url(assignment.submission),
        reverse("submission_detail", args=[assignment.submission.pk]),
        reverse("spot_check", args=[assignment.submission.pk]),
    ):
        assert client.get(url).status_code == 404
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Conflict of interest" in dashboard and _review_url(assignment.submission) not in dashboard


def test_the_dashboard_shows_each_rounds_review_deadline_anywhere_on_earth(
    client, rita, assignment, open_round
):
    import datetime as dt

    client.force_login(rita)
    assert "No review deadline set yet." in client.get(reverse("dashboard")).content.decode()
    open_round.review_deadline = open_round.deadline + dt.timedelta(days=20)
    open_round.save()
    page = client.get(reverse("dashboard")).content.decode()
    assert "Reviews due" in page
    assert (
        f"{open_round.review_deadline:%B} {open_round.review_deadline.day}, {open_round.review_deadline.year} Anywhere on Earth"
        in page
    )
    assert "left</span>" in page.split('id="review-deadlines"')[1]


def test_a_reviewer_whose_role_is_revoked_no_longer_opens_an_assigned_submission(
    client, rita, olga, assignment
):
    from accounts.services import revoke_role

    client.force_login(rita)
    assert client.get(_review_url(assignment.submission)).status_code == 200
    revoke_role(user=rita, role=Role.REVIEWER, by=olga)
    for url in (
        _review_url(assignment.submission),
        reverse("submission_detail", args=[assignment.submission.pk]),
    ):
        assert client.get(url).status_code == 404
