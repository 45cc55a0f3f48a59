from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, Team
from accounts.selectors import has_role, team_of
from reviews.models import Assignment, Award, DiscussionPost, Review, TallyDecision
from reviews.selectors import round_tally
from submissions.models import Round, Submission

pytestmark = pytest.mark.django_db


def test_the_demo_has_every_role_two_teams_two_future_rounds_and_real_tasks():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    users = {u.username: u for u in get_user_model().objects.all()}
    assert has_role(users["organizer"], Role.ORGANIZER)
    assert has_role(users["reviewer1"], Role.REVIEWER) and has_role(users["reviewer2"], Role.REVIEWER)
    contestants = [users[n] for n in ("alice", "bob", "carol")]
    assert all(has_role(u, Role.CONTESTANT) for u in contestants)
    assert team_of(users["alice"]) == team_of(users["bob"]) != team_of(users["carol"])
    assert Team.objects.count() == 2
    rounds = list(Round.objects.order_by("deadline"))
    assert [r.name for r in rounds] == ["Round 1", "Round 2"]
    assert all(r.deadline > timezone.now().date() for r in rounds)
    assert [r.is_open() for r in rounds] == [True, False]
    metrics = set(Submission.objects.values_list("current_version__metric", flat=True))
    assert metrics == {"classification", "sequence_prob", "logodds"}
    assert "password for all: inverse-scaling" in out.getvalue()
    assert Assignment.objects.filter(reviewer__username="reviewer1").count() == 3
    # reviewer3 shows the other states of a reviewer's dashboard: a draft and one not started.
    third = Assignment.objects.filter(reviewer__username="reviewer3").select_related("review")
    assert sorted(getattr(getattr(a, "review", None), "status", "not started") for a in third) == [
        "draft",
        "not started",
    ]
    # Running it again duplicates nothing.
    call_command("seed_demo", stdout=StringIO())
    assert Submission.objects.count() == 3 and get_user_model().objects.count() == 7
    assert Assignment.objects.count() == 8
    assert Review.objects.count() == 7 and Award.objects.count() == 3 and DiscussionPost.objects.count() == 1
    assert TallyDecision.objects.count() == 3


def test_round_one_is_reviewed_by_both_reviewers_and_its_tally_shows_a_decision():
    call_command("seed_demo", stdout=StringIO())
    round1 = Round.objects.get(name="Round 1")
    for submission in Submission.objects.filter(round=round1):
        reviewers = Review.objects.filter(
            assignment__submission=submission, status=Review.Status.SUBMITTED
        ).values_list("assignment__reviewer__username", flat=True)
        assert sorted(reviewers) == ["reviewer1", "reviewer2"], submission
    tally = round_tally(round=round1)
    proposed = {row.submission.current_version.task_name: row.line.award for row in tally.rows}
    assert proposed == {
        "Proverb ending": "none",
        "LAMBADA (standard scaling reference)": "none",
        "Logic under flattery": "second",
    }
    confirmed = [
        (row.submission.current_version.task_name, row.award.tier) for row in tally.rows if row.award
    ]
    assert sorted(confirmed) == [
        ("LAMBADA (standard scaling reference)", "none"),
        ("Logic under flattery", "second"),
        ("Proverb ending", "none"),
    ]
    assert {a.decided_by.username for a in Award.objects.all()} == {"organizer"}


def test_round_one_feedback_is_released_to_its_teams_with_the_private_series():
    from django.test import Client

    from reviews.feedback import is_released
    from reviews.models import FeedbackEmail

    call_command("seed_demo", stdout=StringIO())
    round1 = Round.objects.get(name="Round 1")
    assert is_released(round=round1)
    members = sum(s.team.memberships.count() for s in Submission.objects.filter(round=round1))
    assert FeedbackEmail.objects.filter(round=round1).count() == members  # one per team member and task
    proverb = Submission.objects.get(current_version__task_name="Proverb ending")
    client = Client()
    client.force_login(get_user_model().objects.get(username="alice"))
    page = client.get(proverb.get_absolute_url()).content.decode()
    assert 'id="feedback"' in page and "Decision: <strong>" in page


def test_the_demo_completes_the_reviews_of_a_database_seeded_before():
    """A demo database from before every review was submitted (reviewer1's second review a draft) is completed."""
    call_command("seed_demo", stdout=StringIO())
    Award.objects.all().delete()
    TallyDecision.objects.all().delete()
    Review.objects.filter(assignment__submission__current_version__task_name="Logic under flattery").delete()
    Review.objects.filter(assignment__reviewer__username="reviewer1").exclude(
        assignment__submission__current_version__task_name="Proverb ending"
    ).update(status=Review.Status.DRAFT, submitted_at=None)
    call_command("seed_demo", stdout=StringIO())
    assert Review.objects.filter(status=Review.Status.SUBMITTED).count() == 6
    assert Award.objects.get(submission__current_version__task_name="Logic under flattery").tier == "second"


def test_reviewer1_attached_a_reproduction_that_the_authors_never_see():
    from django.test import Client

    from evaluation.models import Reproduction

    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())  # a second seeding attaches no second one
    proverb = Submission.objects.get(current_version__task_name="Proverb ending")
    reproduction = Reproduction.objects.get(version__submission=proverb)
    assert reproduction.created_by.username == "reviewer1"
    assert (
        reproduction.runs.count() == proverb.current_version.runs.count()
    )  # its models (none without the demo series)
    client = Client()
    client.force_login(get_user_model().objects.get(username="reviewer1"))
    review_page = client.get(reverse("review_page", args=[proverb.pk])).content.decode()
    assert "Reproduction 1" in review_page and "endings swapped" in review_page
    client.force_login(get_user_model().objects.get(username="alice"))
    assert "Reproduction" not in client.get(proverb.get_absolute_url()).content.decode()
