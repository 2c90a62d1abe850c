#!/usr/bin/env bash
# Fresh machine to a full test run: set up .venv, lint, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
ruff check .
if ! command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
  echo "note: no Chromium on this machine, so the web demo's browser test is SKIPPED" \
       "(Debian: apt-get install chromium; .ci/run installs it and requires the test)"
fi
# two workers, one OpenMP thread each: on two cores about 1.3x the throughput of one
# two-thread process (MXNet's small convolutions scale poorly across threads); the learning
# tests start first, in conftest.py's order (--no-loadscope-reorder: xdist would otherwise put
# the deploy group first), and the loopback dist tests take a file lock, one at a time
OMP_NUM_THREADS=1 python -m pytest -q -n "${TEST_WORKERS:-2}" --dist loadgroup \
  --no-loadscope-reorder "$@"
