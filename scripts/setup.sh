#!/usr/bin/env bash
# Install polyglot-kd and its pinned dependencies into the current Python.
# torch is installed first: where a local CPU wheel of 2.13.0 exists pip takes it, instead of the
# several-GB CUDA build that an unpinned install would pull.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0" 2>/dev/null \
  || "$PY" -m pip install -q --disable-pip-version-check "torch>=2.4"
"$PY" -m pip install -q --disable-pip-version-check -e ".[test]"
