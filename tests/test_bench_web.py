"""bench/web.py's parts at a small scale, so the benchmark cannot rot: its data generator fills a database the
pages render, and its load loop logs in as those users and gets 200s from a live server. No timing is asserted."""

import pytest

from bench import webdata, webload
from config import freshness

pytestmark = pytest.mark.django_db(transaction=True)


def test_generated_contest_serves_every_benchmarked_page_to_the_load_loop(live_server):
    data = webdata.generate(submissions=20, reviews=50, measured=2)

    assert data.counts["submissions"] == 20
    assert data.counts["runs"] == 20 * len(webdata.SERIES) * len(webdata.SIZES)
    assert data.counts["reviews"] == 50
    assert data.counts["example results"] == 2 * len(webdata.SERIES) * len(webdata.SIZES) * webdata.EXAMPLES
    contestants = [webload.session_cookie(pk) for pk in data.contestant_ids]
    organizer = webload.session_cookie(data.organizer_id)
    round_1 = data.round_ids[0]
    pages = {
        "contestant dashboard": [webload.VirtualUser(c, "/dashboard/") for c in contestants],
        "reviewer dashboard": [
            webload.VirtualUser(webload.session_cookie(pk), "/dashboard/") for pk in data.reviewer_ids[:2]
        ],
        "version page": [
            webload.VirtualUser(c, p) for c, p in zip(contestants, data.version_paths, strict=True)
        ],
        "overview": [webload.VirtualUser(organizer, f"/console/rounds/{round_1}/overview/")] * 2,
        "tally": [webload.VirtualUser(organizer, f"/console/rounds/{round_1}/tally/")] * 2,
    }
    static = [webload.VirtualUser("", "/static/site/site.css")] * 2
    statics = [webload.run_page(live_server.url, "static", static, requests=2)]
    results = []
    for page, users in pages.items():
        timings = webload.run_page(live_server.url, page, users, requests=2)
        statics.append(webload.run_page(live_server.url, "static", static, requests=2))
        results.append((timings, webload.around(statics[-2], statics[-1])))

    for timings in [*statics, *(page for page, _ in results)]:
        assert timings.errors == [], timings.page
        assert len(timings.seconds) == 4, timings.page
    assert [len(around.seconds) for _, around in results] == [8] * len(pages)  # the blocks before and after
    lines = webload.table(results)
    assert [line.split()[0] for line in lines[1:]] == [
        "contestant",
        "reviewer",
        "version",
        "overview",
        "tally",
    ]
    assert all(line.split()[-1] in ("pass", "FAIL") for line in lines[1:])
    # Each page alone after a change: computed afresh (the stamp moved), still a 200.
    stamp = freshness.stamp()
    assert webload.after_a_change(live_server.url, pages["overview"][0], times=1) > 0
    assert freshness.stamp() != stamp


def test_load_loop_refuses_any_host_but_this_machine():
    with pytest.raises(ValueError, match="only sends traffic to this machine"):
        webload.run_page("http://example.org:80", "away", [webload.VirtualUser("", "/")], requests=1)
    with pytest.raises(ValueError, match="only sends traffic to this machine"):
        webload.after_a_change("http://example.org:80", webload.VirtualUser("", "/"))
