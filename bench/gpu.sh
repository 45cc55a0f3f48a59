#!/usr/bin/env bash
# The engine against lm-evaluation-harness on a GPU, in one go (issue 12): a randomly initialised GPT-2-medium-
# shaped model in bfloat16, a generated 10,000-example classification task, batch size auto for both; prints
# both times, the device and the largest difference in values. Run from the repository's root on a machine with
# a CUDA GPU and Python 3.12 with torch, after bench/gpu_wheels.sh filled .whl/ here (the device tool: carry .whl).
# Output also goes to $OUT/gpu.log when OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 bench/engine.py --shape medium --device cuda --dtype bfloat16 --examples "${EXAMPLES:-10000}" \
  --skip-loop --lm-eval-batch-size auto --repeat "${REPEAT:-2}" 2>&1 | tee "${OUT:-/tmp}/gpu.log"
