"""Load: 50 app sessions for 60 s with the cache expiring every 3 s; 5 terminals and the app on one DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from monitor import config, fixtures
from tests.processes import die_with_parent

ROOT = Path(__file__).parent.parent


def test_fifty_sessions_for_a_minute(tmp_path):
    env = {**os.environ, "BACKFILL_REFRESH_S": "3", "BACKFILL_DEMO_PATH": str(tmp_path / "demo.duckdb"),
           "PYTHONPATH": str(ROOT)}
    for var in ("BACKFILL_WAREHOUSE", "BACKFILL_NOW", "BACKFILL_CONFIG"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "load_sessions.py"), "--sessions", "50", "--seconds", "60"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("load figures:", result)  # reported in docs/reliability.md
    assert result["errors"] == 0, result["first_errors"]
    assert result["page_runs"] >= 50
    assert 1 <= result["refreshes"] <= result["expiries"]  # at most one warehouse refresh per cache expiry
    assert result["rss_mb_max_second_half"] <= result["rss_mb_max_first_half"] * 1.25  # memory stays flat
    assert "Traceback" not in proc.stderr


def test_five_terminals_and_the_app_share_one_duckdb_file(tmp_path, monkeypatch):
    path = fixtures.guide_state(tmp_path / "shared.duckdb", config.load(), "complete", dt.datetime.now(dt.UTC))
    env = {k: v for k, v in os.environ.items() if k not in ("BACKFILL_NOW", "BACKFILL_CONFIG")}
    env.update(PYTHONIOENCODING="utf-8", PYTHONPATH=str(ROOT))
    logs = [(tmp_path / f"t{i}.out", tmp_path / f"t{i}.err") for i in range(5)]
    terminals = [subprocess.Popen([sys.executable, "-m", "monitor", "--warehouse", f"duckdb:{path}", "--continuous",
                                   "--interval", "1", "--detailed"], env=env, stdout=out.open("w"), stderr=err.open("w"),
                                  preexec_fn=die_with_parent)
                 for out, err in logs]
    monkeypatch.setenv("BACKFILL_WAREHOUSE", f"duckdb:{path}")
    monkeypatch.delenv("BACKFILL_NOW", raising=False)
    app_errors = []
    def cycles(out: Path) -> int:
        return out.read_text(encoding="utf-8").count("675/675 dates complete")

    try:
        end = time.monotonic() + 90
        while time.monotonic() < end and min(cycles(out) for out, _ in logs) < 2:
            st.cache_data.clear()  # the app reads the same file meanwhile, refreshing each time
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
            app_errors += [e.value for e in at.exception] + [e.value for e in at.error]
    finally:
        for p in terminals:
            p.send_signal(signal.SIGINT)
        for p in terminals:
            p.wait(timeout=30)
        st.cache_data.clear()
        st.cache_resource.clear()
    assert app_errors == []
    for p, (out, err_path) in zip(terminals, logs, strict=True):
        text, err = out.read_text(encoding="utf-8"), err_path.read_text()
        assert p.returncode == 0 and "Traceback" not in err
        assert text.count("675/675 dates complete") >= 2, text[-500:]  # refreshed while the others read
        assert "lock" not in (text + err).lower() and "unavailable" not in text
