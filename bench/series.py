"""A task of 10,000 examples on every model of the demo series, through the real worker, against the engine alone.

Usage: .venv/bin/python bench/series.py [--database-url postgres://postgres@127.0.0.1:5432/bench_series]
       [--redis-url redis://127.0.0.1:6379/0] [--examples 10000] [--models DIR] [--train-steps 200]
       [--concurrency 1] [--timeout 3600]

It drops and creates the database and migrates it, uses the demo series (``--models``: a directory that
``manage.py build_demo_models`` wrote; without it the series is trained into a scratch directory first), starts a
real Celery worker as docker-compose.yml's GPU worker runs (queues gpu and gpu-private, ``--concurrency 1
--prefetch-multiplier 1``; Redis as broker, whose database ``--redis-url`` names is emptied first and last), and
submits a generated classification task of ``--examples`` examples through ``submit_task``, as the upload form
does. The wall time runs from that call to the last run's success: validating and storing the file, queueing,
loading each model in the worker, evaluating, and writing the per-example results. Then, with the worker stopped,
the engine alone evaluates the same examples on each model in this process (batch size auto, the worker's device
and dtype, the model loaded beforehand and not timed). It prints a table per model and the ratio of the wall time
to the sum of the engine's times; the target is at most 1.3×. It exits non-zero on errors only (a failed run, a
worker that does not start, the timeout), not on a missed target.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.web import machine, recreate_database  # noqa: E402  (the same database and machine as bench/web.py)

TARGET = 1.3
# docker-compose.yml's GPU worker: the queues of the Hugging Face series, one run at a time.
GPU_QUEUES = "gpu,gpu-private"
WORKER_NAME = "bench-series"
ANSWERS = {
    "task_name": "Bench: 10,000 examples",
    "authors": "Bench",
    "metric": "classification",
    "description": "A generated classification task (bench/series.py).",
    "importance": "It times the evaluation pipeline.",
    "expected_inverse_scaling": "None expected.",
    "data_generation": "Generated.",
    "annotator_expertise": "None.",
    "license": "CC-BY-4.0",
}


@dataclass(frozen=True)
class Model:
    name: str
    parameters: int
    path: Path


@dataclass(frozen=True)
class RunTiming:
    model: str
    seconds: float  # claim to success, in the worker


@dataclass(frozen=True)
class EngineTiming:
    model: str
    load_seconds: float
    seconds: float


def task_csv(examples: int) -> bytes:
    """The classification task bench/engine.py builds, as a contestant's upload."""
    from bench.engine import task_rows

    buffer = io.StringIO()
    csv.writer(buffer).writerows(task_rows(examples))
    return buffer.getvalue().encode()


def demo_models(directory: Path) -> list[Model]:
    """The series ``build_demo_models`` wrote into ``directory`` (its series.json), smallest first."""
    listing = json.loads((directory / "series.json").read_text())["models"]
    return [Model(m["name"], m["n_parameters"], (directory / m["path"]).resolve()) for m in listing]


def worker_env(*, database_url: str, redis_url: str, var_dir: Path) -> dict:
    """The worker's environment: this database and broker, uploads under ``var_dir`` (where this process stores
    the task file), an empty results cache (a cached result would skip the evaluation)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "VAR_DIR": str(var_dir),
        "EVAL_CACHE_DIR": str(var_dir / "cache"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "HF_HUB_OFFLINE": "1",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }


def start_worker(env: dict, *, concurrency: int = 1, seconds: float = 60) -> subprocess.Popen:
    """A real Celery worker on the GPU queues, answering pings before this returns."""
    from config.celery import app

    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "-Q", GPU_QUEUES]
        + ["--concurrency", str(concurrency), "--prefetch-multiplier", "1"]
        + ["-n", f"{WORKER_NAME}@%h", "-l", "warning"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + seconds
    try:
        while not any(
            name.startswith(f"{WORKER_NAME}@") for reply in app.control.ping(timeout=0.5) for name in reply
        ):
            if worker.poll() is not None:
                raise RuntimeError(f"the Celery worker exited at start with status {worker.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not answer within {seconds:.0f} s")
    except BaseException:
        stop_worker(worker)
        raise
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=30)


def setup_contest(models: list[Model], *, min_examples: int = 300):
    """A contestant, an open round and the demo series as the one active public series: (user, round)."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.services import register_contestant
    from evaluation.models import LanguageModel, ModelSeries
    from submissions.models import Round

    user = get_user_model().objects.create_user(username="bench-series", email="bench@series.example")
    register_contestant(user=user)
    round = Round.objects.create(
        name="Bench round",
        opens_at=timezone.now() - dt.timedelta(days=1),
        deadline=timezone.now().date() + dt.timedelta(days=30),
        min_examples=min_examples,
    )
    ModelSeries.objects.update(is_active=False)
    series = ModelSeries.objects.create(name="Demo GPT-2 (bench)", visibility="public")
    for order, model in enumerate(models):
        LanguageModel.objects.create(
            series=series,
            name=model.name,
            parameter_count=model.parameters,
            location=str(model.path),
            order=order,
        )
    return user, round


def submit(user, round, data: bytes):
    from submissions.services import TaskUpload, submit_task

    return submit_task(
        user=user, round=round, answers=ANSWERS, upload=TaskUpload(name="bench-series.csv", data=data)
    )


def wait_for_runs(version, *, worker: subprocess.Popen, seconds: float) -> list[RunTiming]:
    """Wait until every run of the version has finished; the runs' own times, in the series' order. Raises when
    one failed, the worker died, or ``seconds`` pass."""
    from evaluation.models import EvaluationRun

    finished = (EvaluationRun.Status.SUCCEEDED, EvaluationRun.Status.FAILED)
    runs = EvaluationRun.objects.filter(version=version).select_related("model").order_by("model__order")
    deadline = time.monotonic() + seconds
    while runs.exclude(status__in=finished).exists() or not runs.exists():
        if worker.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with status {worker.returncode}")
        if time.monotonic() > deadline:
            states = ", ".join(f"{r.model.name}: {r.status}" for r in runs)
            raise TimeoutError(f"the runs did not finish within {seconds:.0f} s ({states})")
        time.sleep(0.25)  # a query every quarter second: the wait itself takes little of the CPUs
    failed = [r for r in runs if r.status != EvaluationRun.Status.SUCCEEDED]
    if failed:
        raise RuntimeError(
            "; ".join(f"{r.model.name} failed: {r.failure_reason} {r.failure_message}" for r in failed)
        )
    return [RunTiming(r.model.name, (r.finished_at - r.started_at).total_seconds()) for r in runs]


def engine_times(models: list[Model], data: bytes, *, metric: str = "classification") -> list[EngineTiming]:
    """The engine alone on each model, in this process: the worker's examples, device, dtype and batch size."""
    from django.conf import settings

    from evaluation.engine import evaluate_examples, load_scorer
    from evaluation.engine.frames import examples_from_frame
    from submissions.taskfile import read_task_file

    report = read_task_file(data, metric=metric, min_examples=1)
    if not report.ok:
        raise ValueError("\n".join(report.lines()))
    examples = examples_from_frame(report.examples)
    sha = hashlib.sha256(data).hexdigest()
    timings = []
    for model in models:
        began = time.perf_counter()
        scorer = load_scorer(
            str(model.path), device=settings.EVALUATION_DEVICE, dtype=settings.EVALUATION_DTYPE
        )
        loaded = time.perf_counter()
        result = evaluate_examples(examples, metric=metric, scorer=scorer, file_sha256=sha)
        timings.append(EngineTiming(model.name, loaded - began, time.perf_counter() - loaded))
        assert result.n_examples == len(examples)
    return timings


def table(
    models: list[Model], runs: list[RunTiming], engine: list[EngineTiming], *, wall: float
) -> list[str]:
    """The per-model table, then the totals and the ratio, as Markdown."""
    lines = [
        "| model | parameters | engine s | load s (not in engine s) | worker run s | run ÷ engine |",
        "|---|---|---|---|---|---|",
    ]
    for model, run, alone in zip(models, runs, engine, strict=True):
        lines.append(
            f"| {model.name} | {model.parameters:,} | {alone.seconds:.1f} | {alone.load_seconds:.1f} "
            f"| {run.seconds:.1f} | {run.seconds / alone.seconds:.2f} |"
        )
    total = sum(e.seconds for e in engine)
    ratio = wall / total
    lines.append(
        f"| **all** | | **{total:.1f}** | {sum(e.load_seconds for e in engine):.1f} "
        f"| {sum(r.seconds for r in runs):.1f} | |"
    )
    lines.append("")
    lines.append(
        f"wall time, submit to the last run's success: {wall:.1f} s = {ratio:.2f}× the engine's "
        f"{total:.1f} s (target ≤ {TARGET}×: {'pass' if ratio <= TARGET else 'MISSED'})"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/bench_series")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the broker; its database is emptied (default: REDIS_URL, else redis://127.0.0.1:6379/0)",
    )
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--models", type=Path, help="a built demo series (default: train one first)")
    parser.add_argument("--train-steps", type=int, default=200, help="training steps per model when built")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (production: 1)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds the runs may take")
    args = parser.parse_args()
    if not 1 <= args.examples <= 10_000:
        parser.error("--examples must be between 1 and 10000 (a round evaluates 10,000 examples at most)")
    if not args.redis_url.startswith("redis://"):
        parser.error("--redis-url must be a redis:// URL (the worker's broker)")

    var_dir = Path(tempfile.mkdtemp(prefix="bench-series-"))
    env = worker_env(database_url=args.database_url, redis_url=args.redis_url, var_dir=var_dir)
    os.environ.update(
        env,
        DEBUG="false",
        SECRET_KEY="bench-series-not-secret",
        ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    recreate_database(args.database_url)

    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connections
    from transformers.utils import logging as transformers_logging

    from evaluation.engine.demo_models import build_demo_series
    from evaluation.models import ExampleResult

    transformers_logging.disable_progress_bar()  # as the worker does (evaluation/scorers.py)
    worker = None
    broker = redis.Redis.from_url(args.redis_url)
    try:
        call_command("migrate", verbosity=0)
        directory = args.models
        if directory is None:
            began = time.perf_counter()
            directory = var_dir / "models"
            build_demo_series(directory, steps=args.train_steps, log=lambda line: None)
            print(
                f"demo series trained in {time.perf_counter() - began:.0f} s ({args.train_steps} steps each)"
            )
        models = demo_models(directory)
        data = task_csv(args.examples)
        user, round = setup_contest(models, min_examples=min(args.examples, 300))

        broker.flushdb()
        worker = start_worker(env, concurrency=args.concurrency)
        began = time.perf_counter()
        version = submit(user, round, data)
        submitted = time.perf_counter()
        runs = wait_for_runs(version, worker=worker, seconds=args.timeout)
        wall = time.perf_counter() - began
        stop_worker(worker)
        stored = ExampleResult.objects.filter(run__version=version).count()
        if stored != args.examples * len(models):
            raise RuntimeError(f"{stored} per-example results stored, not {args.examples * len(models)}")
        connections.close_all()

        engine = engine_times(models, data)
    finally:
        if worker is not None:
            stop_worker(worker)
        broker.flushdb()
        shutil.rmtree(var_dir, ignore_errors=True)

    import torch

    print(
        f"{args.examples:,} examples ({len(data) / 1e6:.1f} MB), {len(models)} models; worker --concurrency "
        f"{args.concurrency}; submit_task took {submitted - began:.1f} s (validating, storing, queueing)"
    )
    print(f"machine: {machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("\n".join(table(models, runs, engine, wall=wall)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, TimeoutError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
