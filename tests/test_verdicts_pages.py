"""The version page shows each series' verdict and one line across series, each linked to the help page, which
defines every verdict with its test and numbers."""

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from evaluation.evidence import version_evidence
from evaluation.models import EvaluationRun, LanguageModel, ModelSeries
from evaluation.trends import ANCHORS, N_BOOT, VERDICTS
from submissions.services import TaskUpload, submit_task
from tests.factories import ANSWERS
from tests.runs_support import finish_run

pytestmark = pytest.mark.django_db

ROWS = list(range(2, 302))  # the 300 examples of valid_csv, 2 classes each


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def version(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # no worker: the test plays it
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )


def evaluate(version, name: str, means: list[float], accuracies: list[float], *, private: bool = False):
    """A series of models with these mean values (rising by example a little) and these accuracies."""
    series = ModelSeries.objects.create(name=name, visibility="private" if private else "public")
    for i, (mean, accuracy) in enumerate(zip(means, accuracies, strict=True)):
        model = LanguageModel.objects.create(
            series=series, name=f"{name}-{i}", parameter_count=10 ** (6 + i), location="/nowhere"
        )
        run = EvaluationRun.objects.create(version=version, model=model)
        values = [mean + (row % 7) / 100 for row in ROWS]
        correct = [k < accuracy * len(ROWS) if accuracy != 0.5 else k % 2 == 0 for k in range(len(ROWS))]
        finish_run(run, rows=ROWS, values=values, correct=correct, accuracy=accuracy)
    return series


def page(client, version) -> str:
    url = reverse("version_detail", args=[version.submission.pk, version.number])
    return client.get(url).content.decode()


def summary_line(html: str) -> str:
    """The line across series, as a person reads it (without its links)."""
    line = re.search(r'<p class="verdict-summary">(.*?)</p>', html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", line)


def summary(user, version) -> str:
    return "; ".join(
        f"{v['verdict']} on {v['count']} of {v['total']} series"
        for v in version_evidence(user=user, version=version)["verdicts"]
    )


def test_each_series_gets_its_verdict_and_the_page_one_line_across_series(client, alice, version):
    evaluate(version, "Open", [0.5, 0.6, 0.7, 0.8], [0.9, 0.8, 0.7, 0.6])
    evaluate(version, "Hump", [0.5, 1.2, 1.0, 0.8], [0.9, 0.8, 0.7, 0.6])
    client.force_login(alice)
    html = page(client, version)
    help_url = reverse("verdicts_help")
    assert summary_line(html) == (
        "Trend verdicts: inverse scaling on 1 of 2 series; inverse, then recovering (U-shaped) on 1 of 2 series · "
        "what the verdicts mean"
    )
    # Every verdict links to its definition: in the line across series and on each series.
    assert f'<a href="{help_url}#inverse-scaling">inverse scaling</a> on 1 of 2 series' in html
    assert html.count(f'href="{help_url}#inverse-scaling"') == 2
    assert html.count(f'href="{help_url}#u-shaped"') == 2
    assert "Inverse scaling: the slope&#x27;s 95% CI is above 0 and the largest model (Open-3)" in html


def test_a_series_at_chance_says_so_instead_of_a_trend(client, alice, version):
    # The curve: it peaks at the second model and falls after, with accuracy at 50% on every model.
    evaluate(version, "Coin", [0.5, 1.2, 1.0, 0.8], [0.5, 0.5, 0.5, 0.5])
    client.force_login(alice)
    html = page(client, version)
    assert summary_line(html).startswith("Trend verdicts: at chance on 1 of 1 series · ")
    assert f'href="{reverse("verdicts_help")}#at-chance"' in html
    assert "so the models may not do the task at all and the loss trend says little" in html
    assert "verdict badge text-decoration-none text-bg-danger" not in html  # no red inverse scaling badge


def test_the_summary_counts_only_the_series_the_viewer_may_see(alice, olga, version):
    evaluate(version, "Open", [0.5, 0.6, 0.7, 0.8], [0.9, 0.8, 0.7, 0.6])
    evaluate(version, "Secret", [0.8, 0.7, 0.6, 0.5], [0.6, 0.7, 0.8, 0.9], private=True)
    assert summary(alice, version) == "inverse scaling on 1 of 1 series"
    assert summary(olga, version) == "inverse scaling on 1 of 2 series; standard scaling on 1 of 2 series"


def test_the_help_page_needs_a_login(client):
    response = client.get(reverse("verdicts_help"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_help_page_defines_every_verdict_with_its_test_and_numbers(client, alice):
    client.force_login(alice)
    html = client.get(reverse("verdicts_help")).content.decode()
    for verdict in VERDICTS:
        anchor = ANCHORS[verdict]
        match = re.search(rf'<dt id="{anchor}">(.*?)</dt>\s*<dd>(.*?)</dd>', html, re.S)
        assert match, f"no definition of {verdict!r} under #{anchor}"
        assert f">{verdict}<" in match.group(1)
        assert "interval" in match.group(2) or "None of the above" in match.group(2)
    assert "95% percentile interval" in html
    assert "paired bootstrap over examples" in html
    assert f"{N_BOOT} replicates" in html
