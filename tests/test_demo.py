from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Role, Team
from accounts.selectors import has_role, team_of
from reviews.models import Assignment, Review
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
    # Running it again duplicates nothing.
    call_command("seed_demo", stdout=StringIO())
    assert Submission.objects.count() == 3 and get_user_model().objects.count() == 6
    assert Assignment.objects.count() == 6
    statuses = sorted(Review.objects.values_list("assignment__reviewer__username", "status"))
    assert statuses == [("reviewer1", "draft"), ("reviewer1", "submitted"), ("reviewer2", "submitted")]
