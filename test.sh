#!/usr/bin/env bash
# Fresh machine to a full test run: set up .venv, lint, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup_env.sh
ruff check .
python -m pytest -q "$@"
