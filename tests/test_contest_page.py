"""The contest page: rules, prizes, rubric, timeline, metrics with example files and FAQ; organizers edit its
text on the site (Markdown, sanitized), and the default is the 2022 contest's text."""

import datetime as dt
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contest import prize, rubric
from contest.rules import METRICS
from pages.contest_text import BY_KEY, SECTIONS
from pages.markdown import render_markdown
from pages.models import ContestText, ContestTextRevision
from pages.services import save_contest_text
from pages.views import EXAMPLE_TASKS
from submissions.services import TaskUpload, submit_task
from submissions.taskfile import REQUIRED_COLUMNS, read_task_file
from tests.factories import ANSWERS, RoundFactory

pytestmark = pytest.mark.django_db


def _page(client) -> str:
    response = client.get(reverse("contest"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_shows_the_2022_contest_when_nothing_is_stored(client):
    html = _page(client)
    assert "Win up to $100,000 for finding an important task" in html
    assert "$250,000" in html
    for tier in prize.TIERS:
        assert tier.name in html
    assert "$100,000" in html and "$20,000 each" in html and "$5,000 each" in html
    for criterion in rubric.CRITERIA_2022:
        assert criterion["name"] in html
        for description in criterion["levels"].values():
            assert description.replace("’", "&#x27;") in html or description in html
    for level in ("No Prize", "Accepted Task", "Grand Prize"):
        assert f'<th scope="col">{level}</th>' in html
    assert "Why do tasks need at least 300 examples?" in html
    assert "at least 300 examples" in html


def test_stored_text_replaces_the_default_of_its_section_only(client, olga):
    save_contest_text(key="faq", body="## Questions\n\n**Is it fun?** Yes.", by=olga)
    html = _page(client)
    assert "<h2>Questions</h2>" in html and "<strong>Is it fun?</strong> Yes." in html
    assert "Why do tasks need at least 300 examples?" not in html
    assert "Win up to $100,000 for finding an important task" in html  # the overview keeps its default


def test_an_empty_text_brings_the_default_back_and_both_edits_stay_in_the_history(client, olga):
    save_contest_text(key="faq", body="Nothing to ask.", by=olga)
    save_contest_text(key="faq", body="  ", by=olga)
    assert not ContestText.objects.filter(key="faq").exists()
    assert "Why do tasks need at least 300 examples?" in _page(client)
    assert ContestTextRevision.objects.filter(key="faq", edited_by=olga).count() == 2


class _Elements(HTMLParser):
    """Every element of an HTML fragment with its attributes (escaped text is text, not elements)."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](java&#09;script:alert(1))",
        "<javascript:alert(1)>",
        '<a href="https://example.org" onclick="alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<iframe src="https://evil.example"></iframe>',
        "[x](vbscript:msgbox(1))",
    ],
)
def test_markdown_lets_no_html_or_script_through(markdown):
    elements = _Elements(render_markdown(markdown)).elements
    assert {tag for tag, _ in elements} <= {"p", "a"}, elements
    for _, attrs in elements:
        assert not any(name.startswith("on") for name in attrs), attrs
        # A link is to the web, to an address, or relative (java%09script: is a path, not a scheme).
        assert urlsplit(attrs.get("href", "")).scheme in ("", "http", "https", "mailto"), attrs


def test_markdown_links_open_safely_and_tables_render():
    html = render_markdown("[the rules](https://example.org/rules)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert '<a href="https://example.org/rules" rel="noopener noreferrer nofollow">the rules</a>' in html
    assert '<table class="table table-sm table-bordered">' in html and "<td>2</td>" in html


def test_stored_script_is_shown_as_text_on_the_page(client, olga):
    save_contest_text(
        key="overview", body='Hello <script>alert("x")</script> <b onclick="alert(1)">b</b>', by=olga
    )
    html = _page(client)
    overview = html.split('id="overview"')[1].split("</section>")[0]
    assert "&lt;script&gt;" in overview
    assert {tag for tag, _ in _Elements(overview).elements} <= {"h1", "div", "p"}


def test_an_organizer_edits_previews_and_saves_a_section(client, olga):
    client.force_login(olga)
    url = reverse("contest_text_edit", args=["faq"])
    form = client.get(url).content.decode()
    assert "Why do tasks need at least 300 examples?" in form  # the default, ready to edit
    preview = client.post(url, {"body": "**Bold** words", "preview": ""})
    assert preview.status_code == 200 and "<strong>Bold</strong> words" in preview.content.decode()
    assert not ContestText.objects.exists()
    saved = client.post(url, {"body": "**Bold** words", "save": ""})
    assert saved.status_code == 302 and saved.url == reverse("contest") + "#faq"
    text = ContestText.objects.get(key="faq")
    assert text.body == "**Bold** words" and text.updated_by == olga
    history = client.get(url).content.decode()
    assert "by olga" in history


def test_a_control_character_is_refused_with_where_it_is(client, olga):
    client.force_login(olga)
    response = client.post(reverse("contest_text_edit", args=["faq"]), {"body": "ab\x07c", "save": ""})
    assert response.status_code == 200
    assert "at character 3" in response.content.decode()
    assert not ContestText.objects.exists()


@pytest.mark.parametrize("who", ["alice", "rita", "anonymous"])
def test_only_organizers_may_save_a_section(client, who, request):
    url = reverse("contest_text_edit", args=["faq"])
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))
    response = client.post(url, {"body": "Taken over", "save": ""})
    assert response.status_code == (302 if who == "anonymous" else 403)
    assert not ContestText.objects.exists()
    if who != "anonymous":
        with pytest.raises(PermissionDenied):
            save_contest_text(key="faq", body="Taken over", by=request.getfixturevalue(who))


def test_every_section_has_a_default_text():
    assert len(BY_KEY) == len(SECTIONS)
    for section in SECTIONS:
        assert section.default.strip(), section.key


def test_the_timeline_shows_each_rounds_dates_in_the_viewers_time_zone(client, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: dt.datetime(2022, 7, 1, 12, 0, tzinfo=dt.UTC))
    RoundFactory(
        name="Round 1",
        opens_at=dt.datetime(2022, 6, 27, 16, 0, tzinfo=dt.UTC),
        deadline=dt.date(2022, 8, 27),
        feedback_date=dt.date(2022, 9, 20),
    )
    RoundFactory(
        name="Round 2", opens_at=dt.datetime(2022, 9, 1, tzinfo=dt.UTC), deadline=dt.date(2022, 10, 27)
    )
    client.cookies["tz"] = "Asia/Tokyo"
    html = _page(client)
    # Opens: 16:00 UTC is 01:00 the next day in Tokyo (UTC+9).
    assert "Opened\n  <time" in html and "Tuesday, June 28, 2022, 01:00 (Asia/Tokyo)" in html
    # August 27 AoE ends at 2022-08-28 11:59:59 UTC, 20:59 in Tokyo.
    assert (
        "Sunday, August 28, 2022, 20:59 (Asia/Tokyo)" in html and "August 27, 2022 Anywhere on Earth" in html
    )
    assert "Friday, October 28, 2022, 20:59 (Asia/Tokyo)" in html
    assert "September 20, 2022" in html
    assert "to be announced" in html  # round 2 has no feedback date


def test_a_round_that_has_not_opened_says_when_it_opens_on_the_page_and_where_one_would_submit(client, alice):
    later = RoundFactory(
        name="Round 2", opens_at=dt.datetime(2999, 1, 1, 12, 0, tzinfo=dt.UTC), deadline=dt.date(2999, 2, 1)
    )
    client.cookies["tz"] = "America/New_York"
    html = _page(client)
    assert "not open yet" in html
    assert "Opens\n  <time" in html and "Tuesday, January 1, 2999, 07:00 (America/New_York)" in html
    client.force_login(alice)
    refused = client.get(reverse("submission_create", args=[later.pk]))
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "Round 2 opens on" in page
    assert "Tuesday, January 1, 2999, 07:00 (America/New_York)" in page
    assert reverse("contest") + "#timeline" in page
    home = client.get(reverse("home")).content.decode()
    assert "Tuesday, January 1, 2999, 07:00 (America/New_York)" in home


@pytest.mark.parametrize("metric", METRICS)
def test_each_example_file_is_a_valid_task_of_its_metric(client, metric):
    response = client.get(reverse("contest_example", args=[metric]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert f'filename="example-{metric}.csv"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    report = read_task_file(data, metric=metric, filename=f"example-{metric}.csv")
    assert report.ok, report.lines()
    assert report.n_examples >= 300 and not report.warnings
    # The right metric: the file's columns are exactly that metric's, in its order.
    assert data.decode().splitlines()[0].split(",") == list(REQUIRED_COLUMNS[metric])


@pytest.mark.parametrize("metric", METRICS)
def test_each_example_file_can_be_submitted_as_it_is(
    alice, open_round, metric, django_capture_on_commit_callbacks
):
    data = (EXAMPLE_TASKS / f"{metric}.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=False):
        version = submit_task(
            user=alice,
            round=open_round,
            answers={**ANSWERS, "metric": metric},
            upload=TaskUpload(name=f"example-{metric}.csv", data=data),
        )
    assert version.example_count == 300 and version.metric == metric


def test_an_unknown_metric_has_no_example(client):
    assert client.get(reverse("contest_example", args=["accuracy"])).status_code == 404


def test_nav_and_home_lead_to_the_contest_page(client):
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("contest")}"' in home
    assert 'class="nav-link" href="/contest/"' in home


@pytest.mark.parametrize("viewer", ["anonymous", "olga"])
def test_the_page_makes_a_constant_number_of_queries(client, olga, viewer):
    if viewer == "olga":
        client.force_login(olga)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            _page(client)
        return len(ctx.captured_queries)

    RoundFactory()
    _page(client)  # the first view stores the 2022 rubric as version 1
    few = count()
    for i in range(5):
        RoundFactory(feedback_date=dt.date(2030, 1, 1 + i))
    for section in SECTIONS:
        save_contest_text(key=section.key, body=f"Text of {section.key}", by=olga)
    assert count() == few


def test_the_rubric_table_shows_the_wording_in_force(client, olga):
    from reviews.services import add_rubric_version

    reworded = [dict(c) for c in rubric.CRITERIA_2022]
    reworded[1] = {**reworded[1], "question": "Do the private models agree with the public ones?"}
    add_rubric_version(criteria=reworded, note="Round 2 wording", by=olga)
    html = _page(client)
    assert "Do the private models agree with the public ones?" in html
    assert "Do different models all show inverse scaling?" not in html
