#!/usr/bin/env bash
# Install the local BigQuery emulator (bqemulator) into its own virtual environment, .venv-bq/.
# Idempotent: a second run only checks (under a second). The tests (tests/bq_emulator.py) start and stop it.
#
# - The emulator pulls in many packages (fastapi, grpc, ...), so it stays out of the app's .venv.
# - Its DuckDB UDFs need numpy, which bqemulator does not declare.
# - It refuses to start unless DuckDB's `spatial` extension loads, and it tries to download `avro`;
#   neither can be downloaded here. The PyPI packages duckdb-extension-{spatial,avro} ship the files,
#   which we copy where DuckDB looks for them, so the emulator never reaches for the network.
set -euo pipefail
cd "$(dirname "$0")/.."

BQEMULATOR_VERSION=1.4.0
DUCKDB_VERSION=1.5.5
NUMPY_VERSION=2.4.6
EXTENSIONS=(spatial avro)
VENV=.venv-bq

wanted=("bqemulator==${BQEMULATOR_VERSION}" "duckdb==${DUCKDB_VERSION}" "numpy==${NUMPY_VERSION}")
for ext in "${EXTENSIONS[@]}"; do wanted+=("duckdb-extension-${ext}==${DUCKDB_VERSION}"); done

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" - "${wanted[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    assert version(name) == want, spec
EOF
then
  log=$(mktemp)
  if ! "$VENV/bin/pip" install --quiet --disable-pip-version-check "${wanted[@]}" >"$log" 2>&1; then
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
    rm -f "$log"
    echo "bq_emulator.sh: installing the emulator into $VENV failed" >&2
    exit 1
  fi
  rm -f "$log"
fi

# Where the emulator's DuckDB looks for extensions: ~/.duckdb/extensions/<version>/<platform> (linux_amd64, linux_arm64...).
PLATFORM=$("$VENV/bin/python" -c "import duckdb; print(duckdb.execute('PRAGMA platform').fetchone()[0])")
EXT_DIR="${HOME:?HOME must be set: DuckDB keeps its extensions under it}/.duckdb/extensions/v${DUCKDB_VERSION}/${PLATFORM}"
mkdir -p "$EXT_DIR"
for ext in "${EXTENSIONS[@]}"; do
  if [ -f "$EXT_DIR/${ext}.duckdb_extension" ] && "$VENV/bin/python" -c "import duckdb; duckdb.connect().execute('LOAD ${ext}')" 2>/dev/null; then
    continue  # in place and loading; a damaged or foreign file is replaced below
  fi
  src=$("$VENV/bin/python" - "$ext" <<'EOF'
import sys
from importlib.metadata import files
ext = sys.argv[1]
hits = [f for f in files(f"duckdb-extension-{ext}") or [] if f.name == f"{ext}.duckdb_extension"]
print(hits[0].locate() if hits else "")
EOF
)
  if [ -z "$src" ] || [ ! -f "$src" ]; then
    echo "bq_emulator.sh: duckdb-extension-${ext} ships no ${ext}.duckdb_extension file" >&2
    exit 1
  fi
  cp "$src" "$EXT_DIR/${ext}.duckdb_extension"
done

# Prove the extensions load with the emulator's DuckDB (the emulator refuses to start without spatial).
"$VENV/bin/python" -c "import duckdb; c = duckdb.connect(); [c.execute(f'LOAD {e}') for e in '${EXTENSIONS[*]}'.split()]"
test -x "$VENV/bin/bqemulator"
