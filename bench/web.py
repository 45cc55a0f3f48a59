"""Time the site's heaviest pages under load, each as a ratio to a static file served by the same server.

Usage: .venv/bin/python bench/web.py [--database-url postgres://postgres@127.0.0.1:5432/bench_web]
       [--submissions 2000] [--reviews 6000] [--users 20] [--requests 25] [--workers 4] [--port 8765]

It drops and creates the database, migrates it, fills it (bench/webdata.py: 2,000 submissions, 30,000 runs with
their stored results, per-example results and cached evidence for the version pages fetched, 6,000 reviews),
starts gunicorn (as the Dockerfile does, DEBUG off, static files by WhiteNoise) on 127.0.0.1, and for each page
lets ``--users`` virtual users, each logged in as a real user of the right role, send ``--requests`` requests at
once (bench/webload.py). It prints p50 and p95 per page and their ratio to those of a static file timed the same
way right before and right after the page (the machine's speed drifts within a run); the target is a p95 at most
5× the static file's. The load views data that does not change, so the dynamic pages are served from
the cache (config/freshness.py); each page is then timed alone right after a change, computed afresh. It exits non-zero on errors only (a failed request, a server that does not
start), not on a missed target. The cache is Redis when REDIS_URL is set (as in production), else the database.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STATIC_PATH = "/static/site/site.css"


def recreate_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def wait_until_serving(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", STATIC_PATH)
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not serve {STATIC_PATH} within {seconds:.0f} s")


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown CPU",
    )
    return f"{os.cpu_count()} CPUs, {model}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_web")
    parser.add_argument("--submissions", type=int, default=2_000)
    parser.add_argument("--reviews", type=int, default=6_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="timed requests per virtual user and page")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (the Dockerfile's 4)")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="bench-web-"))
    os.environ.update(
        DATABASE_URL=args.database_url,
        DEBUG="false",
        SECRET_KEY="bench-web-not-secret",
        ALLOWED_HOSTS="127.0.0.1",
        VAR_DIR=str(var_dir),
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    recreate_database(args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    from bench import webdata, webload

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    data = webdata.generate(submissions=args.submissions, reviews=args.reviews, measured=args.users)
    print(
        f"data ({time.perf_counter() - started:.0f} s): "
        + ", ".join(f"{v:,} {k}" for k, v in data.counts.items())
    )

    contestants = [webload.session_cookie(pk) for pk in data.contestant_ids]
    reviewers = [webload.session_cookie(pk) for pk in data.reviewer_ids[: args.users]]
    organizers = [webload.session_cookie(data.organizer_id) for _ in range(args.users)]
    round_1 = data.round_ids[0]
    pages = {
        # The cheapest page a logged-in user gets (session, user, the site's layout, one query): the floor any
        # dynamic page of the site stands on.
        "home (logged in)": [webload.VirtualUser(c, "/") for c in contestants],
        "contestant dashboard": [webload.VirtualUser(c, "/dashboard/") for c in contestants],
        "reviewer dashboard": [webload.VirtualUser(c, "/dashboard/") for c in reviewers],
        "version page": [
            webload.VirtualUser(c, p) for c, p in zip(contestants, data.version_paths, strict=True)
        ],
        "overview (round 1)": [
            webload.VirtualUser(c, f"/console/rounds/{round_1}/overview/") for c in organizers
        ],
        "tally (round 1)": [webload.VirtualUser(c, f"/console/rounds/{round_1}/tally/") for c in organizers],
    }
    from django.db import connections

    connections.close_all()

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    errors: list[str] = []
    try:
        wait_until_serving(args.port, server)
        base = f"http://127.0.0.1:{args.port}"
        static_users = [webload.VirtualUser("", STATIC_PATH) for _ in range(args.users)]
        for users in [static_users, *pages.values()]:  # every worker past its first requests of every page
            errors += webload.run_page(base, "warm-up", users, requests=0, warmup=1).errors
        # The static file right before and after each page (each block between two pages serves both): the
        # machine's speed drifts within a run, and each page is compared with the static file in its own time.
        statics = [webload.run_page(base, "static file", static_users, requests=args.requests)]
        results = []
        for page, users in pages.items():
            timings = webload.run_page(base, page, users, requests=args.requests)
            statics.append(webload.run_page(base, "static file", static_users, requests=args.requests))
            results.append((timings, webload.around(statics[-2], statics[-1])))
        # The load above views unchanged data (pages are cached until it changes): each page alone, right
        # after a change, is what its first viewer then waits for.
        fresh = {page: webload.after_a_change(base, users[0]) for page, users in pages.items()}
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(var_dir, ignore_errors=True)

    print(
        f"{args.users} concurrent users, {args.requests} requests each per page; gunicorn --workers {args.workers}"
    )
    print(f"machine: {machine()}")
    print("\n".join(webload.table(results)))
    print("one request alone, right after the data changed (median of 3):")
    print("\n".join(f"  {page:<22} {ms:8.1f} ms" for page, ms in fresh.items()))
    for timings in [*statics, *(page for page, _ in results)]:
        errors += timings.errors
    for error in errors[:20]:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
