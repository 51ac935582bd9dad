"""Smoke test of the benchmark script (benchmarks/refresh.py --quick): the demo only, one sample of each approach.

The figures themselves are not asserted (they depend on the machine); the script must run end to end, compare
the usage guide's query pattern (58 queries) with ours (at most four) on the same warehouse, and print its table.
The full benchmark (emulator with latency, scaled warehouse, page renders) stays out of the suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import refresh  # noqa: E402  (benchmarks/ is not a package)


def test_quick_benchmark_runs_both_approaches_on_the_demo(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BACKFILL_WAREHOUSE", raising=False)
    assert refresh.main(["--quick", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split("|")[2].strip(): line.split("|") for line in out.splitlines() if line.startswith("| demo (DuckDB)")}
    assert int(rows["baseline (guide)"][3]) == 58
    assert int(rows["ours"][3]) <= 4
    assert "queries 58 -> 3" in out
    assert "errors" not in out
