import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from submissions.models import Round
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS, RoundFactory, make_task_csv

UTC_MINUS_12 = dt.timezone(dt.timedelta(hours=-12))


def test_a_deadline_closes_at_the_end_of_its_day_anywhere_on_earth():
    r = Round(name="Round 1", deadline=dt.date(2022, 8, 27), opens_at=dt.datetime(2022, 6, 27, tzinfo=dt.UTC))
    assert r.closes_at == dt.datetime(2022, 8, 27, 23, 59, 59, tzinfo=UTC_MINUS_12)
    assert r.closes_at.astimezone(dt.UTC) == dt.datetime(2022, 8, 28, 11, 59, 59, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        (dt.datetime(2022, 8, 27, 23, 59, 59, tzinfo=UTC_MINUS_12), True),
        (dt.datetime(2022, 8, 27, 23, 59, 59, 999999, tzinfo=UTC_MINUS_12), True),
        (dt.datetime(2022, 8, 28, 0, 0, 0, tzinfo=UTC_MINUS_12), False),
        (dt.datetime(2022, 8, 28, 11, 59, 59, tzinfo=dt.UTC), True),
        (dt.datetime(2022, 8, 28, 12, 0, 0, tzinfo=dt.UTC), False),
    ],
)
def test_the_last_second_of_the_deadline_is_on_time_and_the_next_is_late(moment, accepted):
    r = Round(name="Round 1", deadline=dt.date(2022, 8, 27), opens_at=dt.datetime(2022, 6, 27, tzinfo=dt.UTC))
    assert r.is_open(moment) is accepted


@pytest.fixture
def round_due_aug_27(db):
    return RoundFactory(deadline=dt.date(2022, 8, 27), opens_at=dt.datetime(2022, 6, 27, tzinfo=dt.UTC))


def _submit(user, round):
    return submit_task(
        user=user, round=round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=make_task_csv(300))
    )


@pytest.mark.django_db
def test_the_server_accepts_a_submission_at_23_59_59_aoe(alice, round_due_aug_27, monkeypatch):
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: dt.datetime(2022, 8, 27, 23, 59, 59, tzinfo=UTC_MINUS_12)
    )
    assert _submit(alice, round_due_aug_27).number == 1


@pytest.mark.django_db
def test_the_server_refuses_a_submission_one_second_after_the_deadline(alice, round_due_aug_27, monkeypatch):
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: dt.datetime(2022, 8, 28, 0, 0, 0, tzinfo=UTC_MINUS_12)
    )
    with pytest.raises(PermissionDenied, match="closed on .*August 27, 2022 Anywhere on Earth"):
        _submit(alice, round_due_aug_27)


@pytest.mark.django_db
def test_an_edit_one_second_late_is_refused_and_keeps_the_version(alice, round_due_aug_27, monkeypatch):
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: dt.datetime(2022, 8, 27, 23, 0, tzinfo=UTC_MINUS_12)
    )
    version = _submit(alice, round_due_aug_27)
    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: dt.datetime(2022, 8, 28, 0, 0, 0, tzinfo=UTC_MINUS_12)
    )
    with pytest.raises(PermissionDenied):
        submit_task(
            user=alice,
            round=round_due_aug_27,
            answers={**ANSWERS, "task_name": "Renamed"},
            upload=None,
            submission=version.submission,
        )
    version.submission.refresh_from_db()
    assert version.submission.versions.count() == 1
    assert version.submission.current_version.task_name == ANSWERS["task_name"]


@pytest.mark.django_db
def test_a_round_that_has_not_opened_refuses_submissions(alice):
    later = RoundFactory(opens_at=dt.datetime(2999, 1, 1, tzinfo=dt.UTC), deadline=dt.date(2999, 2, 1))
    with pytest.raises(PermissionDenied, match="opens on"):
        _submit(alice, later)


@pytest.mark.django_db
def test_pages_show_the_deadline_in_the_viewers_time_zone_with_the_time_left(
    client, alice, round_due_aug_27, monkeypatch
):
    monkeypatch.setattr("django.utils.timezone.now", lambda: dt.datetime(2022, 8, 25, 12, 0, tzinfo=dt.UTC))
    client.force_login(alice)
    client.cookies["tz"] = "Europe/Paris"
    html = client.get(reverse("home")).content.decode()
    # 2022-08-27 23:59:59 UTC-12 is 2022-08-28 13:59:59 in Paris (UTC+2 in summer).
    assert "Sunday, August 28, 2022, 13:59 (Europe/Paris)" in html
    assert "August 27, 2022 Anywhere on Earth" in html
    assert "2\xa0days, 23\xa0hours left" in html


@pytest.mark.django_db
def test_a_closed_round_says_when_it_closed_and_offers_no_submit_button(client, alice, closed_round):
    client.force_login(alice)
    html = client.get(reverse("home")).content.decode()
    assert "Closed on" in html
    assert reverse("submission_create", args=[closed_round.pk]) not in html
    response = client.get(reverse("submission_create", args=[closed_round.pk]))
    assert response.status_code == 403
    assert "closed on" in response.content.decode()
