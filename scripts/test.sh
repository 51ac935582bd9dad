#!/usr/bin/env bash
# Install everything the tests need on a fresh machine, then run lint and the whole test suite.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "scripts/test.sh: needs Python 3.11 or newer as python3 (found: $(python3 --version 2>&1))" >&2
    exit 1
fi

# What the tests need from Debian: chromium for the browser tests (never a browser Playwright downloads), and
# venv support where python3 is Debian's own. Installed once, when missing; without root, say what to install.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
python3 -c 'import ensurepip' 2>/dev/null || missing+=("python3-venv")
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "scripts/test.sh: missing ${missing[*]}; install it first (sudo apt-get install ${missing[*]})" >&2
        exit 1
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
