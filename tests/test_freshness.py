"""A failing refresh keeps the last good figures, marked stale with the reason; recovery clears the mark."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from monitor import config, fixtures
from monitor.freshness import LastGood
from monitor.snapshot import Section, Snapshot
from tests.processes import die_with_parent

T = [dt.datetime(2025, 11, 30, 14, m, tzinfo=dt.UTC) for m in range(0, 60, 10)]


def snap(at: dt.datetime, **failed: str) -> Snapshot:
    ok = Section(pd.DataFrame())
    sections = {name: Section(error=failed[name]) if name in failed else ok
                for name in ("catalog", "schedule", "coverage", "runs", "last_success", "unresolved")}
    return Snapshot(checked_at=at, warehouse="test", **sections)


@pytest.mark.parametrize("steps, expected", [
    # each step: (snapshot or None, refresh error) -> (index of the snapshot shown, stale reason or None)
    pytest.param([(snap(T[0]), None)], [(0, None)], id="good"),
    pytest.param([(snap(T[0], runs="403 Quota exceeded"), None)], [(0, None)], id="first-refresh-fails-shows-errors"),
    pytest.param([(snap(T[0]), None), (snap(T[1], coverage="timeout"), None)], [(0, None), (0, "coverage: timeout")],
                 id="section-fails-keeps-last-good"),
    pytest.param([(snap(T[0]), None), (None, "network down"), (None, "still down"), (snap(T[3]), None)],
                 [(0, None), (0, "network down"), (0, "still down"), (3, None)], id="warehouse-gone-then-back"),
])
def test_last_good(steps, expected):
    holder, snaps = LastGood(), [s for s, _ in steps]
    for (new, error), (shown_index, reason) in zip(steps, expected, strict=True):
        shown, stale = holder.update(new, error, now=T[5])
        assert shown is snaps[shown_index]
        assert (stale.reason if stale else None) == reason
        if stale:
            assert stale.since == T[0] and stale.badge().startswith("stale since 14:00 UTC — ")


def _continuous_on_a_copy(tmp_path, *args) -> tuple[subprocess.Popen, Path, Path]:
    """`python -m monitor --continuous --interval 1 *args` on a copy (`live`) of the guide's complete state (`good`)."""
    good = fixtures.guide_state(tmp_path / "good.duckdb", config.load(), "complete", dt.datetime.now(dt.UTC))
    live = tmp_path / "live.duckdb"
    shutil.copy(good, live)
    env = {k: v for k, v in os.environ.items() if k not in ("BACKFILL_NOW", "BACKFILL_WAREHOUSE")}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--warehouse", f"duckdb:{live}", "--continuous",
                             "--interval", "1", *args], env={**env, "PYTHONIOENCODING": "utf-8"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=die_with_parent)
    return proc, good, live


def test_continuous_keeps_figures_while_the_warehouse_is_gone_and_recovers(tmp_path):
    proc, good, live = _continuous_on_a_copy(tmp_path)
    out: list[str] = []
    threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True).start()

    def wait_for(text: str, after: int = 0, timeout: float = 30) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            joined = "".join(out[after:])
            if text in joined:
                return len(out)
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; last output: {''.join(out)[-1500:]}")

    try:
        mark = wait_for("675/675 dates complete")
        live.unlink()
        mark = wait_for("stale since", after=mark)
        stale_cycle = "".join(out[mark - 60:mark])
        assert "DuckDB file is gone" in stale_cycle and "675/675 dates complete" in stale_cycle
        shutil.copy(good, live)
        mark = wait_for("Next refresh", after=wait_for("675/675 dates complete", after=mark))
        time.sleep(1.5)
        last_cycle = "".join(out).rsplit("Next refresh", 2)[-2]
        assert "stale since" not in last_cycle
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    assert "Traceback" not in proc.stderr.read()


def test_continuous_json_writes_a_line_every_cycle_marked_stale_while_the_warehouse_is_gone(tmp_path):
    """A script reading the lines can tell "down" from "nothing new": each cycle writes one, with `stale` set
    (since when, and why) while the figures are the last good ones."""
    proc, good, live = _continuous_on_a_copy(tmp_path, "--format", "json")
    docs = []
    try:
        docs.append(json.loads(proc.stdout.readline()))
        live.unlink()
        while "stale" not in docs[-1]:
            docs.append(json.loads(proc.stdout.readline()))
        docs.append(json.loads(proc.stdout.readline()))  # still down: another line, still stale
        shutil.copy(good, live)
        while "stale" in docs[-1] and len(docs) < 30:
            docs.append(json.loads(proc.stdout.readline()))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert "stale" not in docs[0] and "stale" not in docs[-1]  # fresh, then fresh again
    stale = [d for d in docs if "stale" in d]
    assert len(stale) >= 2
    assert all(d["stale"]["since"] == docs[0]["checked_at"] and "DuckDB file is gone" in d["stale"]["reason"]
               for d in stale)
    assert all(d["phases"][0]["complete_dates"] == 675 for d in docs)  # the last good figures, never zeros
    assert proc.returncode == 0
