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
# Headless Chromium for the leaderboard page test and screenshot (Debian package `chromium`).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
    || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "setup.sh: could not install chromium; the leaderboard page test will be skipped" >&2
fi
