"""Conflicts of interest: a reviewer is never assigned a submission of their own team, of a team or contestant
they declared or an organizer set, or of anyone sharing a listed institutional e-mail domain with them."""

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import Role
from accounts.services import grant_role
from reviews.models import Assignment, Conflict, InstitutionalDomain
from reviews.selectors import conflict_reason, conflicts_between
from reviews.services import (
    add_institutional_domain,
    assign_reviewer,
    declare_conflict,
    set_conflict,
    withdraw_declared_conflict,
)
from submissions.models import Submission
from tests.factories import ContestantFactory, UserFactory

pytestmark = pytest.mark.django_db


def make_submission(user, round) -> Submission:
    """A submission of the user's team; conflicts and assignments never look at its versions."""
    return Submission.objects.create(round=round, team=user.membership.team, created_by=user)


@pytest.fixture
def submission(alice, bob, open_round):
    return make_submission(alice, open_round)


def _email(user, address):
    user.email = address
    user.save(update_fields=["email"])


def test_a_team_member_is_conflicted(bob, submission):
    grant_role(user=bob, role=Role.REVIEWER)
    assert conflict_reason(reviewer=bob, submission=submission) == "bob is in the submitting team"


def test_a_declared_team_conflict_refuses_the_assignment(rita, olga, alice, submission):
    declare_conflict(reviewer=rita, team=alice.membership.team, reason="co-authors")
    with pytest.raises(
        ValidationError, match="the reviewer declared a conflict between rita and the submitting"
    ):
        assign_reviewer(submission=submission, reviewer=rita, by=olga)
    assert not Assignment.objects.exists()


def test_a_declared_person_conflict_covers_whichever_team_they_are_in(rita, olga, bob, charlie, submission):
    declare_conflict(reviewer=rita, person=bob)
    assert conflict_reason(reviewer=rita, submission=submission) == (
        "the reviewer declared a conflict between rita and bob, of the submitting team"
    )
    assert conflict_reason(reviewer=rita, submission=make_submission(charlie, submission.round)) is None


def test_an_organizer_sets_a_conflict_and_only_organizers_may(rita, olga, alice, charlie, submission):
    with pytest.raises(PermissionDenied):
        set_conflict(reviewer=rita, team=alice.membership.team, by=charlie)
    conflict = set_conflict(reviewer=rita, team=alice.membership.team, by=olga, reason="same lab")
    assert (conflict.source, conflict.created_by) == (Conflict.Source.ORGANIZER, olga)
    assert "an organizer set a conflict" in conflict_reason(reviewer=rita, submission=submission)
    with pytest.raises(PermissionDenied, match="Only the organizers"):
        withdraw_declared_conflict(reviewer=rita, conflict=conflict)


def test_a_conflict_is_declared_once_with_a_team_or_a_contestant(rita, alice, bob):
    declare_conflict(reviewer=rita, person=bob)
    with pytest.raises(ValidationError, match="already has a conflict with bob"):
        declare_conflict(reviewer=rita, person=bob)
    with pytest.raises(ValidationError, match="one team or with one contestant"):
        declare_conflict(reviewer=rita, person=bob, team=alice.membership.team)
    with pytest.raises(ValidationError, match="is not a contestant"):
        declare_conflict(reviewer=rita, person=UserFactory(username="someone"))


def test_a_shared_institutional_domain_is_a_conflict_once_listed(rita, olga, bob, submission):
    _email(rita, "rita@cs.uni-a.edu")  # a subdomain belongs to its institution
    _email(bob, "Bob@UNI-A.edu")
    assert conflict_reason(reviewer=rita, submission=submission) is None
    add_institutional_domain(domain="@Uni-A.edu ", by=olga)
    assert InstitutionalDomain.objects.get().domain == "uni-a.edu"
    assert conflict_reason(reviewer=rita, submission=submission) == (
        "rita and bob, of the submitting team, share the institution uni-a.edu"
    )
    with pytest.raises(ValidationError, match="share the institution uni-a.edu"):
        assign_reviewer(submission=submission, reviewer=rita, by=olga)


def test_a_second_address_of_an_account_counts(rita, olga, alice, submission):
    add_institutional_domain(domain="uni-a.edu", by=olga)
    EmailAddress.objects.create(user=alice, email="alice@uni-a.edu")
    _email(rita, "rita@uni-a.edu")
    assert "share the institution uni-a.edu" in conflict_reason(reviewer=rita, submission=submission)


@pytest.mark.parametrize("webmail", ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "proton.me"])
def test_a_public_webmail_domain_is_never_institutional(rita, olga, alice, submission, webmail):
    with pytest.raises(ValidationError, match=f"{webmail} is a public webmail domain"):
        add_institutional_domain(domain=webmail.upper(), by=olga)
    _email(rita, f"rita@{webmail}")
    _email(alice, f"alice@{webmail}")
    add_institutional_domain(domain="uni-a.edu", by=olga)
    assert conflict_reason(reviewer=rita, submission=submission) is None


@pytest.mark.parametrize("domain", ["icloud.com", "qq.com", "163.com", "mail.gmail.com"])
def test_more_webmail_domains_are_refused(olga, domain):
    with pytest.raises(ValidationError, match="public webmail"):
        add_institutional_domain(domain=domain, by=olga)


def test_only_organizers_list_domains_and_only_domains(rita, olga):
    with pytest.raises(PermissionDenied):
        add_institutional_domain(domain="uni-a.edu", by=rita)
    with pytest.raises(ValidationError, match="is not an e-mail domain"):
        add_institutional_domain(domain="not a domain", by=olga)


def test_conflicts_of_a_whole_round_take_a_constant_number_of_queries(
    olga, open_round, django_assert_num_queries
):
    add_institutional_domain(domain="uni-a.edu", by=olga)
    reviewers = [UserFactory(username=f"r{i}", email=f"r{i}@uni-a.edu") for i in range(3)]
    for r in reviewers:
        grant_role(user=r, role=Role.REVIEWER)
    declare_conflict(reviewer=reviewers[0], person=ContestantFactory(username="p0"))

    def count(n: int) -> int:
        for i in range(n):
            make_submission(ContestantFactory(username=f"c{n}-{i}", email=f"c{i}@uni-a.edu"), open_round)
        submissions = list(Submission.objects.all())
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            conflicts = conflicts_between(reviewers=reviewers, submissions=submissions)
        assert len(conflicts.reasons) == 3 * len(submissions)
        return len(ctx.captured_queries)

    assert count(2) == count(20) == 5


# Refused everywhere: the admin --------------------------------------------------------------------------------


def test_the_admin_offers_reviewers_only_and_names_round_and_task(client, olga, rita, alice, submission):
    client.force_login(olga)
    html = client.get(reverse("admin:reviews_assignment_add")).content.decode()
    assert f'<option value="{rita.pk}">rita (rita@example.org)</option>' in html
    assert f'value="{alice.pk}"' not in html
    assert f"Round 1 — Submission {submission.pk} (#{submission.pk})" in html


def test_the_admin_refuses_a_declared_conflict_with_the_reason(client, olga, rita, alice, submission):
    declare_conflict(reviewer=rita, team=alice.membership.team)
    client.force_login(olga)
    response = client.post(
        reverse("admin:reviews_assignment_add"), {"submission": submission.pk, "reviewer": rita.pk}
    )
    assert response.status_code == 200
    assert (
        "the reviewer declared a conflict between rita and the submitting team" in response.content.decode()
    )
    assert not Assignment.objects.exists()


def test_an_organizer_sets_a_conflict_in_the_admin(client, olga, rita, bob):
    client.force_login(olga)
    add = reverse("admin:reviews_conflict_add")
    response = client.post(add, {"reviewer": rita.pk, "person": bob.pk, "reason": "advisor"})
    assert response.status_code == 302, response.content.decode()[:3000]
    conflict = Conflict.objects.get()
    assert (conflict.person, conflict.source, conflict.created_by) == (bob, "organizer", olga)
    again = client.post(add, {"reviewer": rita.pk, "person": bob.pk}).content.decode()
    assert "rita already has a conflict with bob" in again
    neither = client.post(add, {"reviewer": rita.pk}).content.decode()
    assert "A conflict is with one team or with one contestant." in neither


def test_the_admin_refuses_a_webmail_domain_with_a_message(client, olga):
    client.force_login(olga)
    add = reverse("admin:reviews_institutionaldomain_add")
    refused = client.post(add, {"domain": "gmail.com"})
    assert refused.status_code == 200
    assert "gmail.com is a public webmail domain" in refused.content.decode()
    assert client.post(add, {"domain": "Uni-A.edu"}).status_code == 302
    assert InstitutionalDomain.objects.get().added_by == olga


# The reviewer's own page ------------------------------------------------------------------------------------


def test_a_reviewer_declares_a_team_and_a_contestant_by_name_or_address(client, rita, alice, bob, charlie):
    client.force_login(rita)
    page = reverse("reviewer_conflicts")
    assert client.post(page, {"name": "team ALICE", "reason": "we wrote a paper"}).status_code == 302
    assert client.post(page, {"name": charlie.email}).status_code == 302
    assert {(c.team, c.person, c.source) for c in Conflict.objects.all()} == {
        (alice.membership.team, None, "declared"),
        (None, charlie, "declared"),
    }
    html = client.get(page).content.decode()
    assert "Team alice" in html and "we wrote a paper" in html and "charlie" in html
    unknown = client.post(page, {"name": "Nobody"}).content.decode()
    assert "No team or contestant goes by this name" in unknown
    twice = client.post(page, {"name": "charlie"}).content.decode()
    assert "rita already has a conflict with charlie" in twice


def test_a_reviewer_withdraws_only_what_they_declared(client, rita, olga, alice, charlie):
    mine = declare_conflict(reviewer=rita, person=charlie)
    theirs = set_conflict(reviewer=rita, team=alice.membership.team, by=olga)
    client.force_login(rita)
    client.post(reverse("conflict_withdraw", args=[theirs.pk]))
    client.post(reverse("conflict_withdraw", args=[mine.pk]))
    assert list(Conflict.objects.all()) == [theirs]


def test_a_reviewer_cannot_withdraw_another_reviewers_conflict(client, rita, charlie):
    other = UserFactory(username="rex")
    grant_role(user=other, role=Role.REVIEWER)
    conflict = declare_conflict(reviewer=other, person=charlie)
    client.force_login(rita)
    assert client.post(reverse("conflict_withdraw", args=[conflict.pk])).status_code == 404
    assert Conflict.objects.filter(pk=conflict.pk).exists()


def test_the_admin_lists_assignments_conflicts_and_domains(client, olga, rita, alice, submission):
    assign_reviewer(submission=submission, reviewer=rita, by=olga)
    declare_conflict(reviewer=rita, person=alice)
    add_institutional_domain(domain="uni-a.edu", by=olga)
    client.force_login(olga)
    for model in ("assignment", "conflict", "institutionaldomain"):
        response = client.get(reverse(f"admin:reviews_{model}_changelist"))
        assert response.status_code == 200, model
    assert (
        "Declared by the reviewer"
        in client.get(reverse("admin:reviews_conflict_changelist")).content.decode()
    )
