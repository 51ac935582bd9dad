"""Golden outputs of the text report for the usage guide's two example states, and --continuous end to end.

Regenerate the golden files after a deliberate change with: UPDATE_GOLDEN=1 pytest tests/test_terminal_report.py
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from monitor import cli, config, fixtures
from monitor import text as text_mod
from tests.processes import die_with_parent

GOLDEN = Path(__file__).parent / "golden"
NOW = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def utf8_locale(monkeypatch):
    """The golden files hold the Unicode marks: a UTF-8 locale whatever the machine's."""
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_CTYPE", raising=False)


@pytest.fixture(scope="module")
def states(tmp_path_factory):
    base = tmp_path_factory.mktemp("states")
    return {s: fixtures.guide_state(base / f"{s}.duckdb", config.load(), s, NOW) for s in ("complete", "start")}


def report(path: Path, *args: str, encoding: str = "utf-8") -> tuple[int, str]:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding, errors="strict", newline="\n")
    with redirect_stdout(out):
        code = cli.main(["--warehouse", f"duckdb:{path}", *args])
    out.flush()
    return code, raw.getvalue().decode(encoding).replace(str(path), "<warehouse>")


@pytest.mark.parametrize("state, args, name", [
    ("complete", [], "complete"),
    ("complete", ["--detailed"], "complete_detailed"),
    ("start", [], "start"),
    ("start", ["--detailed"], "start_detailed"),
    ("start", ["--season", "2023-24", "--detailed"], "start_2023-24_detailed"),
    ("complete", ["--season", "2023-24"], "complete_2023-24"),
    ("start", ["--failures-only"], "start_failures_only"),
])
def test_golden_report(monkeypatch, states, state, args, name):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())
    code, text = report(states[state], *args)
    assert code == 0
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_plain_output_has_no_escape_codes_and_falls_back_to_ascii(monkeypatch, states):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())
    _, text = report(states["start"], "--detailed", encoding="ascii")
    assert "\x1b" not in text
    assert "[!!] team_defense_zone_analysis" in text
    assert "[" + "-" * 50 + "]" in text
    text.encode("ascii")


@pytest.mark.parametrize("env, plain", [
    ({"LANG": "C"}, True),
    ({"LANG": "POSIX"}, True),
    ({"LANG": "C.UTF-8"}, False),
    ({"LANG": "en_US.UTF-8"}, False),
    ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, True),  # LC_ALL wins
    ({"LC_ALL": "", "LC_CTYPE": "en_US.UTF-8", "LANG": "C"}, False),  # an empty LC_ALL does not count
    ({}, False),  # no locale said: the stream's encoding decides
])
def test_a_c_locale_means_ascii_marks(env, plain):
    assert text_mod.plain_locale(env) is plain
    assert text_mod.glyphs_for("utf-8", env) is (text_mod.ASCII if plain else text_mod.UNICODE)


def test_lang_c_gives_the_ascii_report_though_python_writes_utf8(monkeypatch, states):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())
    monkeypatch.setenv("LANG", "C")
    _, shown = report(states["start"], "--detailed")  # a UTF-8 stream, as Python's C-locale coercion gives
    assert "[!!] team_defense_zone_analysis" in shown
    shown.encode("ascii")


def test_complete_report_says_so_and_start_report_names_broken_tables(monkeypatch, states):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())
    assert "All quality gates passed" in report(states["complete"])[1]
    start = report(states["start"], "--detailed")[1]
    assert "table not found: nba_precompute.team_defense_zone_analysis" in start
    assert "348/675" in start and "0/675 dates complete" in start


def _cycles(text: str) -> list[str]:
    return re.findall(r"Phase 3 \(Analytics\): (\d+/\d+)[^\n]*work done ([\d.]+)%", text)


def test_continuous_redraws_with_changing_figures_and_stops_cleanly_on_sigint(tmp_path):
    env = {**os.environ, "BACKFILL_DEMO_PATH": str(tmp_path / "demo.duckdb"), "BACKFILL_DEMO_SPEED": "900",
           "PYTHONIOENCODING": "utf-8"}
    env.pop("BACKFILL_NOW", None)
    env.pop("BACKFILL_WAREHOUSE", None)
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--continuous", "--interval", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=die_with_parent)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and len(_cycles("".join(lines))) < 4:
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        reader.join(timeout=5)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    cycles = _cycles(out)
    assert len(cycles) >= 4, out[-2000:]
    assert len(set(cycles)) > 1, cycles  # the demo moved between cycles
    assert proc.returncode == 0, err
    assert err.rstrip().endswith("Stopped.") and "Stopped." not in out  # stdout holds only the reports
    assert "Traceback" not in err
    assert "\x1b" not in out  # piped: plain output


@pytest.mark.parametrize("delay", [0.0, 0.2, 1.0, 2.5])
def test_ctrl_c_at_any_moment_stops_without_a_traceback(tmp_path, delay):
    """Right after start-up, while importing, while building or reading the demo, or while waiting: a short
    message, never a traceback."""
    env = {**os.environ, "BACKFILL_DEMO_PATH": str(tmp_path / "demo.duckdb"), "PYTHONIOENCODING": "utf-8"}
    # "any moment" starts when the package's first line has run (-X importtime says so on stderr): while the
    # interpreter itself starts up, no program can catch Ctrl+C; on a loaded machine that takes a while
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "monitor", "--continuous", "--interval", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
                            preexec_fn=die_with_parent)
    started = []
    for line in proc.stderr:
        started.append(line)
        if line.rstrip().endswith("| monitor"):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    err = "".join(started) + err
    assert "Traceback" not in err and "Traceback" not in out, err[-1500:]
    assert proc.returncode == 0  # --continuous: stopping it is how it ends, whenever that is
    assert "Stopped." in err and "Stopped." not in out
