"""Chart PNGs: rendered once per chart content, stored, and never more at once than the machine's slots."""

import subprocess
import sys
import threading

import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.urls import reverse

from evaluation import charts, evidence, plots
from tests.test_page_cost import Counting, add_model, add_series

PNG = b"\x89PNG\r\n\x1a\nfake"


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the slots' lock files, this test's own
    settings.CHART_RENDER_SLOTS = 2
    settings.CHART_RENDER_WAIT_SECONDS = 60
    cache.clear()
    yield
    cache.clear()


class FakeRenderer:
    """Stands in for kaleido: counts renders, and with ``hold`` keeps each one running until ``release``."""

    def __init__(self, *, hold: bool = False):
        self.changed = threading.Condition()
        self.calls = self.active = self.most_at_once = 0
        self.waiting: set[int] = set()  # threads that found every slot busy
        self.hold, self.release = hold, threading.Event()

    def __call__(self, fig, *, width, height):
        with self.changed:
            self.calls += 1
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.waiting.discard(threading.get_ident())
            self.changed.notify_all()
        if self.hold:
            assert self.release.wait(timeout=60), "the test never released the renders"
        with self.changed:
            self.active -= 1
        return PNG

    def pause(self):
        with self.changed:
            self.waiting.add(threading.get_ident())
            self.changed.notify_all()
        self.release.wait(timeout=0.01)

    def wait_for(self, condition, what: str):
        with self.changed:
            assert self.changed.wait_for(condition, timeout=60), what


@pytest.fixture
def renderer(monkeypatch):
    fake = FakeRenderer()
    monkeypatch.setattr(plots, "figure_png", fake)
    monkeypatch.setattr(charts, "_pause", fake.pause)
    return fake


def figure(n: int) -> dict:
    return {
        "data": [{"type": "scatter", "x": [1, 2], "y": [n, n + 1]}],
        "layout": {"title": {"text": f"{n}"}},
    }


@pytest.mark.django_db
def test_a_second_request_for_the_same_chart_renders_nothing(client, alice, version, renderer):
    series = add_series(version, "Open A", models=2)
    client.force_login(alice)
    url = reverse("figure_png", args=[version.submission.pk, version.number, series.pk, "scaling"])
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == PNG
    assert renderer.calls == 1
    assert len(default_storage.listdir("charts")[1]) == 1

    cache.clear()  # even with the page's evidence gone, the same chart's image is the stored one
    assert client.get(url).content == PNG and renderer.calls == 1
    add_model(version, series)  # new results, a new chart: rendered once more
    assert client.get(url).content == PNG and renderer.calls == 2


@pytest.mark.django_db
def test_the_png_endpoint_computes_only_the_series_it_draws(client, olga, version, renderer, monkeypatch):
    trend = Counting(evidence.scaling_trend)
    monkeypatch.setattr(evidence, "scaling_trend", trend)
    drawn = add_series(version, "Open A", models=2)
    add_series(version, "Open B", models=2)
    add_series(version, "Secret C", models=2, private=True)
    client.force_login(olga)
    url = reverse("figure_png", args=[version.submission.pk, version.number, drawn.pk, "accuracy"])
    assert client.get(url).status_code == 200
    assert trend.calls == 1


def test_renders_beyond_the_slots_wait_for_a_free_one(renderer):
    renderer.hold = True
    results: dict[int, bytes] = {}
    threads = [
        threading.Thread(target=lambda n=n: results.__setitem__(n, charts.chart_png(figure(n))))
        for n in range(5)
    ]
    for thread in threads:
        thread.start()
    renderer.wait_for(
        lambda: renderer.active + len(renderer.waiting) == 5, "every request to render or wait for a slot"
    )
    assert renderer.active == renderer.most_at_once == 2
    renderer.release.set()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {n: PNG for n in range(5)}
    assert renderer.calls == 5 and renderer.most_at_once == 2


@pytest.mark.django_db
def test_a_request_that_finds_every_slot_busy_too_long_is_told_to_come_back(
    client, alice, version, renderer, settings
):
    settings.CHART_RENDER_SLOTS = 1
    settings.CHART_RENDER_WAIT_SECONDS = 0
    renderer.hold = True
    busy = threading.Thread(target=charts.chart_png, args=[figure(0)])
    busy.start()
    renderer.wait_for(lambda: renderer.active == 1, "the first render to start")
    series = add_series(version, "Open A", models=2)
    client.force_login(alice)
    url = reverse("figure_png", args=[version.submission.pk, version.number, series.pk, "scaling"])
    response = client.get(url)
    assert response.status_code == 503
    assert response["Retry-After"] == str(charts.RETRY_AFTER_SECONDS)
    assert "try again in a few seconds" in response.content.decode()
    renderer.release.set()
    busy.join(timeout=60)
    assert client.get(url).status_code == 200


def test_the_slots_are_shared_with_other_processes(renderer, settings, tmp_path):
    settings.CHART_RENDER_WAIT_SECONDS = 0
    locks = [str(tmp_path / "locks" / f"chart-render-{slot}.lock") for slot in range(2)]
    (tmp_path / "locks").mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys\n"
            "held = [open(p, 'ab') for p in sys.argv[1:]]\n"
            "for f in held: fcntl.flock(f, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
            *locks,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(charts.RenderersBusy, match="all 2 chart render slots stayed busy"):
            charts.chart_png(figure(1))
        assert renderer.calls == 0
    finally:
        holder.stdin.close()  # the process ends and the kernel drops its locks
        holder.wait(timeout=30)
    assert charts.chart_png(figure(1)) == PNG and renderer.calls == 1


@pytest.fixture
def version(alice, open_round, valid_csv, django_capture_on_commit_callbacks):
    from submissions.services import TaskUpload, submit_task
    from tests.factories import ANSWERS

    with django_capture_on_commit_callbacks(execute=False):
        return submit_task(
            user=alice, round=open_round, answers=ANSWERS, upload=TaskUpload(name="t.csv", data=valid_csv)
        )
