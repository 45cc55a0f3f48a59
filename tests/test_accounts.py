import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from accounts.models import Role, Team
from accounts.selectors import has_role, team_of
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS

pytestmark = pytest.mark.django_db


def test_signing_up_makes_a_contestant_in_a_team_of_their_own(client):
    response = client.post(
        reverse("account_signup"),
        {
            "email": "dana@example.org",
            "username": "dana",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    from django.contrib.auth import get_user_model

    dana = get_user_model().objects.get(username="dana")
    assert has_role(dana, Role.CONTESTANT) and not has_role(dana, Role.REVIEWER)
    assert team_of(dana).name == "Team dana"
    assert list(team_of(dana).memberships.values_list("user__username", flat=True)) == ["dana"]


def test_a_sign_up_with_a_taken_name_gets_a_team_name_of_its_own(client):
    Team.objects.create(name="Team erin")
    client.post(
        reverse("account_signup"),
        {
            "email": "erin@example.org",
            "username": "erin",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert Team.objects.filter(name="Team erin (2)").exists()


def test_sign_up_errors_appear_beside_their_field(client):
    response = client.post(
        reverse("account_signup"),
        {"email": "not-an-email", "username": "x", "password1": "a", "password2": "b"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_email_errors"' in html and 'aria-invalid="true"' in html


def test_password_reset_sends_an_email(client, alice):
    client.post(reverse("account_reset_password"), {"email": "alice@example.org"})
    assert len(mail.outbox) == 1
    assert "alice@example.org" in mail.outbox[0].to


def test_login_by_username_and_logout(client, alice):
    from tests.factories import PASSWORD

    response = client.post(reverse("account_login"), {"login": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200
    client.post(reverse("account_logout"))
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_contestant_joins_a_team_with_its_invite_code(client, alice, charlie):
    client.force_login(charlie)
    response = client.post(reverse("team"), {"join": "1", "invite_code": team_of(alice).invite_code})
    assert response.status_code == 302
    charlie.refresh_from_db()
    assert team_of(charlie) == team_of(alice)
    assert not Team.objects.filter(name="Team charlie").exists()  # the empty team is gone
    assert "You joined Team alice" in client.get(reverse("team")).content.decode()


def test_a_wrong_invite_code_is_explained_beside_the_field(client, charlie):
    client.force_login(charlie)
    response = client.post(reverse("team"), {"join": "1", "invite_code": "nope"})
    assert response.status_code == 200
    assert "No team has this invite code" in response.context["join_form"].errors["invite_code"][0]


def test_the_last_member_of_a_team_with_submissions_cannot_leave_it(
    client, alice, charlie, open_round, valid_csv
):
    submit_task(
        user=charlie, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
    )
    client.force_login(charlie)
    response = client.post(reverse("team"), {"join": "1", "invite_code": team_of(alice).invite_code})
    assert "which has submissions" in response.context["join_form"].errors["invite_code"][0]
    assert team_of(charlie).name == "Team charlie"


def test_a_reviewer_cannot_join_a_team(client, alice, rita):
    client.force_login(rita)
    client.post(reverse("team"), {"join": "1", "invite_code": team_of(alice).invite_code})
    assert team_of(rita) is None


def test_a_reviewer_is_not_offered_the_join_form(client, alice, rita):
    client.force_login(rita)
    page = client.get(reverse("team")).content.decode()
    assert "Join another team" not in page and 'name="invite_code"' not in page
    assert "Teams are for contestants" in page
    client.force_login(alice)
    assert 'name="invite_code"' in client.get(reverse("team")).content.decode()


def test_account_emails_carry_the_contest_name_not_the_host(client, alice):
    cache.clear()  # allauth counts reset requests per address in the cache, which outlives a test run
    client.post(reverse("account_reset_password"), {"email": alice.email})
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.subject.startswith("[Inverse Scaling Prize] ")
    assert "127.0.0.1" not in sent.subject and "testserver" not in sent.subject
    assert "Hello from Inverse Scaling Prize!" in sent.body
    assert "testserver" not in sent.body.split("Thank you")[-1]


def test_renaming_a_team(client, alice, charlie):
    client.force_login(alice)
    response = client.post(reverse("team"), {"rename": "1", "name": "Team charlie"})
    assert "is taken" in response.context["rename_form"].errors["name"][0]
    client.post(reverse("team"), {"rename": "1", "name": "Proverbial"})
    assert Team.objects.get(memberships__user=alice).name == "Proverbial"


def test_an_organizer_manages_rounds_in_the_admin(client, olga):
    client.force_login(olga)
    assert client.get(reverse("admin:submissions_round_add")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_versions_cannot_be_changed_or_deleted_in_the_admin(client, olga, alice, open_round, valid_csv):
    version = submit_task(
        user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="a.csv", data=valid_csv)
    )
    client.force_login(olga)
    url = reverse("admin:submissions_submissionversion_change", args=[version.pk])
    client.post(url, {"task_name": "Changed"})
    version.refresh_from_db()
    assert version.task_name == ANSWERS["task_name"]
    assert (
        client.get(reverse("admin:submissions_submissionversion_delete", args=[version.pk])).status_code
        == 403
    )
