#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run lint and the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet -r requirements-dev.txt

# The local BigQuery emulator, in its own .venv-bq (the BigQuery tests start it; in CI they fail without it).
bash scripts/bq_emulator.sh

.venv/bin/ruff check .
# pytest exits 5 when it collects nothing; that is a failure here too.
exec .venv/bin/python -m pytest "$@"
