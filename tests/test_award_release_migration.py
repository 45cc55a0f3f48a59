"""Upgrading keeps what teams were told: the awards of a round released before ``Award.released_at`` existed are
released with their round (reviews/migrations/0006), so their version pages keep showing the feedback."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("reviews", "0005_feedback_release")]
AFTER = [("reviews", "0006_award_released_at")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_awards_of_a_released_round_are_released_at_its_release_after_the_upgrade():
    old = _migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Team = old.get_model("accounts", "Team")
        Round = old.get_model("submissions", "Round")
        Submission = old.get_model("submissions", "Submission")
        Award = old.get_model("reviews", "Award")
        FeedbackRelease = old.get_model("reviews", "FeedbackRelease")
        olga = User.objects.create(username="olga-migration")
        now = timezone.now()
        released, open_ = (
            Round.objects.create(name=name, deadline=now.date()) for name in ("Released round", "Open round")
        )
        awards = {}
        for round in (released, open_):
            team = Team.objects.create(name=f"Team of {round.name}")
            submission = Submission.objects.create(round=round, team=team, created_by=olga)
            awards[round.name] = Award.objects.create(
                submission=submission, round=round, tier="third", decided_by=olga
            ).pk
        release = FeedbackRelease.objects.create(round=released, released_by=olga)
    finally:
        new = _migrate(AFTER)
    Award = new.get_model("reviews", "Award")
    assert Award.objects.get(pk=awards["Released round"]).released_at == release.released_at
    assert Award.objects.get(pk=awards["Open round"]).released_at is None
