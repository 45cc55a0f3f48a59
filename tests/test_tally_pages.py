"""The organizer's prize tally from the database: the page (constant queries), ranks and the rule, confirming and
overriding awards with the audit, round 1's awards as floors, and `manage.py prize_tally`."""

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import freshness
from contest.rubric import ACCEPTED, CRITERIA_KEYS, GRAND, NONE
from reviews.models import Award, Review, TallyDecision
from reviews.services import assign_reviewer, current_rubric, decide_award, set_ranks, set_tally_rule
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, ContestantFactory, RoundFactory, UserFactory, make_task_csv

pytestmark = pytest.mark.django_db

ALL_GRAND = dict.fromkeys(CRITERIA_KEYS, GRAND)
ALL_ACCEPTED = dict.fromkeys(CRITERIA_KEYS, ACCEPTED)
ONE_GRAND = {**ALL_ACCEPTED, "strength": GRAND}
CSV = make_task_csv(300)


@pytest.fixture
def rounds(db):
    today = dt.date.today()
    return (
        RoundFactory(name="Round 1", deadline=today + dt.timedelta(days=1)),
        RoundFactory(name="Round 2", deadline=today + dt.timedelta(days=60)),
    )


@pytest.fixture
def reviewers(db):
    from accounts.models import Role
    from accounts.services import grant_role

    people = [UserFactory(username=f"rev{n}") for n in range(3)]
    for person in people:
        grant_role(user=person, role=Role.REVIEWER)
    return people


def _submission(round, reviews, *, olga, reviewers, name="Task"):
    """A submission of a new team with submitted reviews (criterion → level each) by the first reviewers."""

    author = ContestantFactory()
    version = submit_task(
        user=author,
        round=round,
        answers={**ANSWERS, "task_name": name},
        upload=TaskUpload(name="t.csv", data=CSV),
    )
    for reviewer, levels in zip(reviewers, reviews, strict=False):
        assignment = assign_reviewer(submission=version.submission, reviewer=reviewer, by=olga)
        Review.objects.create(
            assignment=assignment,
            version=version,
            rubric=current_rubric(),
            status=Review.Status.SUBMITTED,
            levels=levels,
        )
    return version.submission


@pytest.fixture
def make(olga, reviewers, django_capture_on_commit_callbacks):
    def build(round, *reviews, name="Task"):
        with django_capture_on_commit_callbacks(execute=False):  # no evaluation: not under test
            return _submission(round, reviews, olga=olga, reviewers=reviewers, name=name)

    return build


def test_the_page_shows_levels_combined_eligibility_and_proposal(client, olga, rounds, make):
    s = make(rounds[0], ALL_GRAND, ALL_GRAND, ALL_ACCEPTED, name="Proverbs")
    draft = make(rounds[0], ALL_GRAND, name="Unjudged")
    Review.objects.filter(assignment__submission=draft).update(status=Review.Status.DRAFT)
    client.force_login(olga)
    response = client.get(reverse("round_tally", args=[rounds[0].pk]))
    page = response.content.decode()
    t = response.context["t"]
    line = t.tally.line_of(s.pk)
    assert line.levels == ALL_GRAND and line.eligible == "grand" and line.award == "second"
    assert t.tally.line_of(draft.pk).eligible == "none"  # a draft does not count
    assert "Proverbs" in page and "rev0" in page and "rev2" in page and "no submitted review" in page
    assert 'class="rule-in-force">median' in page and "lower middle one" in page
    assert "second 1 of 2, third 5 of 5" in page


def test_the_tally_page_costs_the_same_queries_for_more_submissions(client, olga, rounds, make):
    make(rounds[0], ALL_GRAND, ONE_GRAND)
    make(rounds[1], ALL_ACCEPTED)
    client.force_login(olga)
    url = reverse("round_tally", args=[rounds[1].pk])
    client.get(url)
    freshness.changed()  # both measured views compute the tally: a cached one costs fewer queries still
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    for n in range(4):
        s = make(rounds[n % 2], ALL_GRAND, ONE_GRAND, ALL_ACCEPTED)
        set_ranks(round=rounds[1], ranks={s.pk: n + 1}, by=olga)
        decide_award(round=rounds[1], submission_id=s.pk, tier="accepted", reason="what-if", by=olga)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    audit = reverse("round_tally_audit", args=[rounds[1].pk])
    with CaptureQueriesContext(connection) as log:
        page = client.get(audit)
    assert len(page.context["decisions"]) == 8
    decide_award(round=rounds[1], submission_id=s.pk, tier="third", reason="again", by=olga)
    with CaptureQueriesContext(connection) as longer:
        client.get(audit)
    assert len(longer) == len(log)


def test_the_rule_is_chosen_said_and_recorded(client, olga, rounds, make):
    s = make(rounds[0], ALL_ACCEPTED, ALL_ACCEPTED, dict.fromkeys(CRITERIA_KEYS, NONE))
    client.force_login(olga)
    url = reverse("round_tally", args=[rounds[0].pk])
    assert client.get(url).context["t"].tally.line_of(s.pk).award == "third"
    client.post(reverse("round_tally_rule", args=[rounds[0].pk]), {"rule": "minimum"})
    response = client.get(url)
    assert response.context["t"].tally.rule == "minimum"
    assert response.context["t"].tally.line_of(s.pk).award == "none"
    assert 'class="rule-in-force">minimum' in response.content.decode()
    decision = TallyDecision.objects.get(action="rule")
    assert decision.decided_by == olga and decision.what == "combined level: minimum"
    with pytest.raises(ValidationError):
        set_tally_rule(round=rounds[0], rule="mean", by=olga)


def test_ranks_break_ties_and_are_recorded(client, olga, rounds, make):
    a, b, c = (make(rounds[0], ONE_GRAND) for _ in range(3))
    client.force_login(olga)
    url = reverse("round_tally", args=[rounds[0].pk])
    proposed = client.get(url).context["t"].tally
    assert [proposed.line_of(s.pk).award for s in (a, b, c)] == ["second", "second", "third"]  # by id
    client.post(
        reverse("round_tally_ranks", args=[rounds[0].pk]),
        {f"rank_{c.pk}": "1", f"rank_{a.pk}": "2", f"rank_{b.pk}": ""},
    )
    proposed = client.get(url).context["t"].tally
    assert [proposed.line_of(s.pk).award for s in (a, b, c)] == ["second", "third", "second"]
    assert set(TallyDecision.objects.filter(action="ranked").values_list("submission_id", "what")) == {
        (c.pk, "rank 1"),
        (a.pk, "rank 2"),
    }
    response = client.post(
        reverse("round_tally_ranks", args=[rounds[0].pk]), {f"rank_{a.pk}": "first"}, follow=True
    )
    assert "A rank is a whole number" in response.content.decode()


def test_confirming_and_overriding_are_logged_with_who_when_and_why(client, olga, rounds, make):
    s = make(rounds[0], ALL_ACCEPTED)
    other = make(rounds[0], ALL_ACCEPTED)
    client.force_login(olga)
    decide = reverse("round_tally_decide", args=[rounds[0].pk, s.pk])
    client.post(decide, {"tier": "third"})
    award = Award.objects.get(submission=s, round=rounds[0])
    assert (award.tier, award.overridden_from, award.decided_by) == ("third", "", olga)
    response = client.post(decide, {"tier": "accepted", "reason": ""}, follow=True)
    assert "needs a reason" in response.content.decode()
    assert Award.objects.get(pk=award.pk).tier == "third"
    client.post(decide, {"tier": "accepted", "reason": "Labels fail the spot-check"})
    award.refresh_from_db()
    assert (award.tier, award.overridden_from, award.reason) == (
        "accepted",
        "third",
        "Labels fail the spot-check",
    )
    client.post(reverse("round_tally_decide", args=[rounds[0].pk, other.pk]), {"tier": "third"})
    log = list(
        TallyDecision.objects.order_by("pk").values_list("action", "what", "reason", "decided_by__username")
    )
    assert log == [
        ("confirmed", "third", "", "olga"),
        ("overridden", "accepted (proposed: third)", "Labels fail the spot-check", "olga"),
        ("confirmed", "third", "", "olga"),
    ]
    assert all(d.decided_at for d in TallyDecision.objects.all())
    page = client.get(reverse("round_tally_audit", args=[rounds[0].pk])).content.decode()
    assert (
        "Award overridden" in page
        and "Labels fail the spot-check" in page
        and "accepted (proposed: third)" in page
    )
    tally_page = client.get(reverse("round_tally", args=[rounds[0].pk])).content.decode()
    assert "overrides third: Labels fail the spot-check" in tally_page


def test_round_1_refuses_grand_and_caps_confirmations(olga, rounds, make):
    subs = [make(rounds[0], ALL_GRAND) for _ in range(3)]
    with pytest.raises(ValidationError, match="only second and third"):
        decide_award(round=rounds[0], submission_id=subs[0].pk, tier="grand", reason="x", by=olga)
    decide_award(round=rounds[0], submission_id=subs[0].pk, tier="second", reason="", by=olga)
    decide_award(round=rounds[0], submission_id=subs[1].pk, tier="second", reason="", by=olga)
    with pytest.raises(ValidationError, match="All 2 second prizes"):
        decide_award(round=rounds[0], submission_id=subs[2].pk, tier="second", reason="why not", by=olga)
    # Slots may stay unawarded: the third one is confirmed with no prize.
    decide_award(round=rounds[0], submission_id=subs[2].pk, tier="accepted", reason="Not this round", by=olga)
    stranger = UserFactory(username="stranger")
    with pytest.raises(PermissionDenied):
        decide_award(round=rounds[0], submission_id=subs[2].pk, tier="third", reason="", by=stranger)


def test_the_final_tally_keeps_round_1_awards_as_floors_and_upgrades_them(client, olga, rounds, make):
    early = make(rounds[0], ALL_GRAND)
    kept = make(rounds[0], ALL_ACCEPTED)
    decide_award(round=rounds[0], submission_id=early.pk, tier="second", reason="", by=olga)
    decide_award(round=rounds[0], submission_id=kept.pk, tier="third", reason="", by=olga)
    late = make(rounds[1], ONE_GRAND)
    Review.objects.filter(assignment__submission=kept).update(levels=dict.fromkeys(CRITERIA_KEYS, NONE))
    client.force_login(olga)
    t = client.get(reverse("round_tally", args=[rounds[1].pk])).context["t"].tally
    assert (t.line_of(early.pk).award, t.line_of(early.pk).round1_award) == ("grand", "second")
    assert (t.line_of(kept.pk).award, t.line_of(kept.pk).round1_award) == ("third", "third")
    assert t.line_of(late.pk).award == "second"
    assert t.unawarded == {"grand": 0, "second": 4, "third": 9}
    with pytest.raises(ValidationError, match="floor"):
        decide_award(round=rounds[1], submission_id=kept.pk, tier="accepted", reason="worse now", by=olga)
    decide_award(round=rounds[1], submission_id=early.pk, tier="grand", reason="", by=olga)
    with pytest.raises(ValidationError, match="All 1 grand prize "):
        decide_award(round=rounds[1], submission_id=late.pk, tier="grand", reason="also great", by=olga)


def test_a_third_round_has_no_tally(client, olga, rounds):
    third = RoundFactory(name="Round 3", deadline=dt.date.today() + dt.timedelta(days=90))
    client.force_login(olga)
    assert client.get(reverse("round_tally", args=[third.pk])).status_code == 404


def test_the_command_prints_the_pages_tally_from_the_database(olga, rounds, make, capsys, tmp_path):
    a = make(rounds[0], ALL_GRAND, ONE_GRAND)
    b = make(rounds[0], ONE_GRAND)
    decide_award(round=rounds[0], submission_id=a.pk, tier="second", reason="", by=olga)
    c = make(rounds[1], ALL_GRAND)
    call_command("prize_tally", "--round", "2", "--format", "json")
    data = json.loads(capsys.readouterr().out)
    assert data["round"] == 2 and data["rule"] == "median"
    by_id = {line["submission"]: line for line in data["submissions"]}
    assert (
        by_id[a.pk]["round1_award"] == "second" and by_id[a.pk]["award"] == "second"
    )  # ONE_GRAND is the median
    assert by_id[c.pk]["award"] == "grand" and by_id[b.pk]["award"] == "second"
    assert data["unawarded"] == {"grand": 0, "second": 3, "third": 10}
    assert data["total_usd"] == 140_000
    ranks = tmp_path / "ranks.csv"
    ranks.write_text(f"submission,rank\n{b.pk},1\n")
    call_command("prize_tally", "--round", "1", "--rule", "minimum", "--ranks", str(ranks), "--format", "csv")
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("submission,round,strength") and len(rows) == 3
    call_command("prize_tally", "--round", "1")
    assert "Round 1 tally, combined level: median" in capsys.readouterr().out


def test_the_command_reads_a_scores_file_and_refuses_a_bad_one(capsys, tmp_path, db):
    scores = tmp_path / "scores.csv"
    lines = ["submission,round,reviewer,criterion,level"]
    lines += [f"1,1,r1,{key},grand" for key in CRITERIA_KEYS]
    lines += [f"2,2,r1,{key},grand" for key in CRITERIA_KEYS]
    scores.write_text("\n".join(lines) + "\n")
    call_command("prize_tally", "--round", "2", "--scores", str(scores), "--format", "json")
    data = json.loads(capsys.readouterr().out)
    assert [(s["submission"], s["award"], s["round1_award"]) for s in data["submissions"]] == [
        (1, "grand", "second"),
        (2, "second", None),
    ]
    scores.write_text(
        "submission,round,reviewer,criterion,level\n1,1,r1,strength,superb\nx,1,r1,novelty,none\n"
    )
    with pytest.raises(SystemExit) as exit:
        call_command("prize_tally", "--round", "1", "--scores", str(scores))
    assert exit.value.code == 1
    assert capsys.readouterr().out.splitlines() == [
        "row 2, column level: 'superb' is not a level: none, accepted, grand",
        "row 3, column submission: 'x' is not a submission id (a positive whole number)",
    ]
    with pytest.raises(SystemExit):
        call_command("prize_tally", "--round", "1", "--scores", str(tmp_path / "missing.csv"))
    assert capsys.readouterr().out.startswith("file: cannot read")


def test_withdrawn_and_not_kept_submissions_compete_for_nothing(olga, rounds, make):
    from django.utils import timezone

    from reviews.selectors import round_tally
    from submissions.models import KeepRequest, Submission

    kept = make(rounds[0], ALL_ACCEPTED, name="Kept")
    dropped = make(rounds[0], ALL_ACCEPTED, name="Dropped")
    withdrawn = make(rounds[0], ALL_ACCEPTED, name="Withdrawn")
    Submission.objects.filter(pk=dropped.pk).update(team=kept.team)
    Submission.objects.filter(pk=withdrawn.pk).update(withdrawn_at=timezone.now())
    request = KeepRequest.objects.create(
        round=rounds[0], team=kept.team, keep_at_most=1, requested_by=olga, chosen_at=timezone.now()
    )
    request.kept.add(kept)
    listed = {row.submission.pk for row in round_tally(round=rounds[0]).rows}
    assert listed == {kept.pk}


def test_the_tally_page_shows_a_hundred_rows_at_a_time(client, olga, rounds, make, monkeypatch):
    from reviews import views

    monkeypatch.setattr(views, "TALLY_ROWS_PER_PAGE", 1)
    first, second = make(rounds[0], ALL_ACCEPTED, name="First"), make(rounds[0], ALL_GRAND, name="Second")
    client.force_login(olga)
    url = reverse("round_tally", args=[rounds[0].pk])
    pages = [client.get(url, {"page": n}).content.decode() for n in (1, 2)]
    assert all("Page" in page and "of 2" in page for page in pages)
    assert sum(f'data-submission="{first.pk}"' in page for page in pages) == 1
    assert sum(f'data-submission="{second.pk}"' in page for page in pages) == 1
