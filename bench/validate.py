"""Time task-file validation against a bare pandas.read_csv of the same file.

Usage: .venv/bin/python bench/validate.py [PATH...]

Without paths it builds two 10,000-row files from the real 2022 task files (a classification one and a
sequence_prob one). Each file's metric is inferred from its header. The target is a ratio of at most 3.
"""

import csv
import gc
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from submissions.taskfile import read_task_file  # noqa: E402

ANCHORS = ROOT.parent / "shared" / "anchors" / "inverse-scaling-data"
SOURCES = {"classification-10k.csv": "1-proverb-ending.csv", "sequence_prob-10k.csv": "lambada-1k.csv"}
N_ROWS = 10_000
REPEATS = 30


def build(directory: Path) -> list[Path]:
    """Repeat the real tasks' rows up to N_ROWS, keeping their quoting and line breaks."""
    paths = []
    for name, source in SOURCES.items():
        frame = pd.read_csv(ANCHORS / source, dtype=str, keep_default_na=False)
        repeated = frame.iloc[[i % len(frame) for i in range(N_ROWS)]]
        path = directory / name
        repeated.to_csv(path, index=False)
        paths.append(path)
    return paths


def infer_metric(path: Path) -> str:
    with path.open(encoding="utf-8-sig", newline="") as file:
        header = next(csv.reader(file))
    if "completion" in header:
        return "sequence_prob"
    if "other_prompt" in header:
        return "logodds"
    return "classification"


def best_times(first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Best of REPEATS runs of each, alternated so that a busy spell on the machine hits both alike."""
    timings: tuple[list[float], list[float]] = ([], [])
    gc.disable()  # as timeit does
    try:
        for _ in range(REPEATS):
            for function, times in zip((first, second), timings, strict=True):
                start = time.perf_counter()
                function()
                times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(timings[0]), min(timings[1])


def bench(path: Path) -> float:
    metric = infer_metric(path)
    data = path.read_bytes()
    report = read_task_file(data, metric=metric, min_examples=0)
    baseline, validation = best_times(
        lambda: pd.read_csv(io.BytesIO(data)), lambda: read_task_file(data, metric=metric, min_examples=0)
    )
    ratio = validation / baseline
    status = "OK" if report.ok else f"{len(report.errors) + report.errors_omitted} problems"
    print(
        f"{path.name}: {metric}, {report.n_examples} examples ({status}); "
        f"read_csv {baseline * 1000:.1f} ms, read_task_file {validation * 1000:.1f} ms, ratio {ratio:.2f}"
    )
    return ratio


def main(arguments: list[str]) -> int:
    if arguments:
        ratios = [bench(Path(argument)) for argument in arguments]
    else:
        with tempfile.TemporaryDirectory() as directory:
            ratios = [bench(path) for path in build(Path(directory))]
    return 0 if max(ratios) <= 3 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
