#!/usr/bin/env bash
# Wheels for bench/gpu.sh, the GPU comparison with lm-evaluation-harness, fetched here into .whl/ (in .gitignore)
# for a machine that cannot fetch anything: its image has Python 3.12 with torch,
# numpy, accelerate, peft, scikit-learn, sacrebleu and pyarrow; this brings lm-evaluation-harness and what it
# needs beyond those, and the engine's own pins (transformers, tokenizers, huggingface_hub, pandas). About 46 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
platforms=(--python-version 3.12 --implementation cp --only-binary=:all:
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
pins() { grep -iE "^($(IFS='|'; echo "$*"))==" requirements.txt bench/requirements.txt | cut -d: -f2; }
python3 -m pip download --no-deps -q -d .whl "${platforms[@]}" \
  $(pins lm_eval transformers tokenizers huggingface_hub pandas hf-xet) \
  datasets evaluate pytablewriter dataproperty mbstrdecoder pathvalidate tabledata tcolorpy typepy chardet \
  rouge-score nltk dill more-itertools multiprocess
# Published as source only: built here (pure Python).
python3 -m pip wheel --no-deps -q -w .whl sqlitedict word2number
du -sh .whl
