# Sourced by bin/run and bin/test: make .venv match requirements.txt (installs only when the file changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if ! "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Python 3.11 is required (found $("$PY" --version 2>&1)). On Debian: apt-get install -y python3.11 python3.11-venv" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
    echo "Python's venv module is missing. On Debian: apt-get install -y python3.11-venv" >&2
    exit 1
  fi
  echo "Creating the virtual environment in .venv ..."
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the pinned dependencies (first time: a few minutes) ..."
  pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2); }
  pip_install --upgrade pip
  # torch first, from the CPU wheel pinned in requirements.txt, so nothing pulls a CUDA build.
  pip_install "$(grep '^torch==' requirements.txt)"
  pip_install -r requirements.txt
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
