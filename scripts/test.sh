#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run lint and the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser tests drive Debian's chromium (never a browser Playwright downloads); install it once, when missing.
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq chromium >/dev/null
    else
        echo "scripts/test.sh: /usr/bin/chromium is missing; install it (apt-get install chromium) for the browser tests" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/pip install --quiet -r requirements-dev.txt

# The local BigQuery emulator, in its own .venv-bq (the BigQuery tests start it; in CI they fail without it).
bash scripts/bq_emulator.sh

.venv/bin/ruff check .
# pytest exits 5 when it collects nothing; that is a failure here too. Everything is installed above, so a
# test that would skip for want of a part (emulator, chromium) fails instead (tests/conftest.py).
export BACKFILL_TESTS_STRICT=1
exec .venv/bin/python -m pytest "$@"
