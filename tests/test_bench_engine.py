"""bench/engine.py at a tiny scale, so the benchmark (and the device and dtype that bench/gpu.sh hands it on a
GPU) cannot rot: it builds its model and task, times the engine and the batch-size-1 loop, and compares their
values. No timing is asserted."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_engine_benchmark_runs_in_bfloat16_on_a_small_task():
    done = subprocess.run(
        [sys.executable, "bench/engine.py", "--examples", "4", "--loop-examples", "2", "--skip-lm-eval"]
        + ["--vocab-size", "4096", "--repeat", "1", "--device", "cpu", "--dtype", "bfloat16"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "device cpu, dtype bfloat16" in done.stdout
    assert "task: 4 examples, 13 prompt+continuation pairs" in done.stdout
    difference = float(re.search(r"largest \|difference\| in values:\s+(\S+)", done.stdout)[1])
    assert difference < 0.1  # the same model scored two ways, in bfloat16


def test_gpu_script_runs_the_comparison_the_issue_asks_for():
    script = (ROOT / "bench" / "gpu.sh").read_text()
    command = script[script.index("python3 bench/engine.py") :]
    for argument in ["--shape medium", "--device cuda", "--dtype bfloat16", "--lm-eval-batch-size auto"]:
        assert argument in command
    assert '--examples "${EXAMPLES:-10000}"' in command
