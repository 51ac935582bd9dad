"""The terminal twin's contract: output formats, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from monitor import cli
from tests.processes import die_with_parent
from tests.test_progress import COVERAGE, NOW, RUNS, SCHEDULE
from tests.warehouse_builder import build
from tests.warehouse_builder import run as run_rows

HERE = Path(__file__).parent
SMALL = str(HERE / "small_pipeline.toml")
ALL_A = {d: 9 for d in ("2024-01-02", "2024-01-03", "2024-01-05", "2024-01-08", "2024-01-16", "2024-01-20", "2024-01-21", "2024-01-23")}
ALL_B = {d: 9 for d in ("2024-01-05", "2024-01-08", "2024-01-16", "2024-01-23")}


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())


@pytest.fixture(scope="module")
def small_wh(tmp_path_factory) -> str:
    path = build(tmp_path_factory.mktemp("cli") / "small.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE,
                 tables=COVERAGE, runs=("ref", "run_history"), run_rows=RUNS)
    return f"duckdb:{path}"


def _warehouse(tmp_path, a, b, *, schedule=True) -> str:
    tables = {"ana.a1": ("game_date", a), "ana.a2": ("game_date", a), "pre.b1": ("analysis_date", b), "pre.b2": ("cache_date", b)}
    path = build(tmp_path / "w.duckdb", schedule=("raw", "schedule") if schedule else ("raw", "other"),
                 schedule_rows=SCHEDULE, tables=tables, runs=("ref", "run_history"), run_rows=[])
    return f"duckdb:{path}"


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_the_contract(capsys, small_wh):
    code, out, err = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and err == ""
    assert doc["checked_at"] == "2024-02-01T12:00:00Z"
    assert [(p["name"], p["complete_dates"], p["eligible_dates"]) for p in doc["phases"]] == [("Phase A", 3, 8), ("Phase B", 1, 4)]
    assert doc["meta"]["queries"] <= 4


def test_csv_round_trips_to_the_json_figures(capsys, small_wh):
    _, out, _ = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "csv")
    _, js, _ = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "json")
    doc, frame = json.loads(js), pd.read_csv(io.StringIO(out))
    assert set(frame["section"]) == {"phases", "tables", "seasons", "rates", "failures", "stuck", "unresolved", "warnings"}
    tables = frame[frame["section"] == "tables"].set_index("table")
    for t in doc["tables"]:
        assert tables.at[t["table"], "dates"] == t["dates"]
        assert tables.at[t["table"], "status"] == t["status"]
    phases = frame[frame["section"] == "phases"].set_index("name")
    for p in doc["phases"]:
        assert phases.at[p["name"], "complete_dates"] == p["complete_dates"]
        assert phases.at[p["name"], "work_pct"] == p["work_pct"]
    seasons = frame[frame["section"] == "seasons"]
    got = {(r.season, r.phase): (r.eligible, r.complete) for r in seasons.itertuples()}
    want = {(s["season"], ph): (v["eligible"], v["complete"]) for s in doc["seasons"] for ph, v in s["phases"].items()}
    assert got == want
    failures = frame[frame["section"] == "failures"]
    assert list(failures["run_id"]) == [f["run_id"] for f in doc["failures"]]
    for section, key in (("stuck", "run_id"), ("unresolved", "processor_name"), ("warnings", "code")):
        assert list(frame.loc[frame["section"] == section, key]) == [x[key] for x in doc[section]]


def test_csv_has_the_same_columns_whatever_the_data(capsys, small_wh, tmp_path):
    _, full, _ = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "csv")
    _, empty, _ = run(capsys, "--config", SMALL, "--warehouse", _warehouse(tmp_path, {}, {}), "--format", "csv",
                      "--season", "2024-25")  # no runs at all: no failures, stuck runs, unresolved or warnings
    assert full.splitlines()[0] == empty.splitlines()[0]
    assert full.splitlines()[0].split(",")[:4] == ["section", "name", "tables", "expected_dates"]


@pytest.mark.parametrize("a, b, check, code", [
    (ALL_A, ALL_B, None, 0),
    (ALL_A, ALL_B, "Phase B", 0),
    (ALL_A, {}, "Phase A", 0),    # only Phase A complete: its gate passes
    (ALL_A, {}, "Phase B", 1),
    (ALL_A, {}, None, 1),
    ({}, {}, None, 1),
])
def test_check_exit_codes(tmp_path, capsys, a, b, check, code):
    args = ["--config", SMALL, "--warehouse", _warehouse(tmp_path, a, b), "--check"] + ([check] if check else [])
    assert run(capsys, *args)[0] == code


def test_check_is_3_when_the_figures_cannot_be_computed(tmp_path, capsys):
    code, out, _ = run(capsys, "--config", SMALL, "--warehouse", _warehouse(tmp_path, ALL_A, ALL_B, schedule=False), "--check")
    assert code == 3
    assert "table not found: raw.schedule" in out


@pytest.mark.parametrize("args, message", [
    (["--season", "1999-00"], "unknown season '1999-00'; valid seasons: All, 2023-24, 2024-25"),
    (["--continuous", "--interval", "0"], "--interval must be a positive number"),
    (["--interval", "60"], "--interval paces --continuous; add --continuous"),
    (["--warehouse", "ftp://x"], "unknown warehouse 'ftp://x'"),
    (["--warehouse", "duckdb:/nonexistent/file.duckdb"], "DuckDB file not found"),
    (["--warehouse", "duckdb:/tmp"], "DuckDB path /tmp is not a file"),
    (["--check", "Phase Z"], "unknown phase 'Phase Z'"),
    (["--check", "--continuous"], "--check runs once"),
    (["--continuous", "--interval", "10000000000"], "--interval must be a positive number of seconds up to 86400"),
    (["--continuous", "--format", "csv"], "--continuous cannot stream CSV"),
])
def test_bad_input_exits_2_with_one_line(capsys, small_wh, args, message):
    full = ["--config", SMALL, "--warehouse", small_wh, *args] if "--warehouse" not in args else ["--config", SMALL, *args]
    code, out, err = run(capsys, *full)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys, small_wh):
    bad = tmp_path / "bad.toml"
    bad.write_text(Path(SMALL).read_text().replace("bootstrap_days = 2", "bootstrap_days = -2"))
    code, _, err = run(capsys, "--config", str(bad), "--warehouse", small_wh)
    assert code == 2 and "phases[1].bootstrap_days: must be >= 0" in err and err.count("\n") == 1


def test_python_dash_m_unknown_flag_is_one_line_exit_2():
    proc = subprocess.run([sys.executable, "-m", "monitor", "--bogus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unrecognized arguments: --bogus" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_shows_the_guides_examples():
    out = cli.build_parser().format_help()
    for example in ("--continuous --interval 60", "--season 2023-24 --detailed", "--failures-only", "--format json"):
        assert example in out


def test_unreachable_warehouse_exits_2_with_one_line(tmp_path, capsys):
    garbage = tmp_path / "garbage.duckdb"
    garbage.write_bytes(b"this is not a database" * 100)
    code, out, err = run(capsys, "--config", SMALL, "--warehouse", f"duckdb:{garbage}")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot open DuckDB file" in err


def test_unreachable_bigquery_endpoint_exits_2_with_one_line(capsys, monkeypatch):
    import socket

    from monitor import snapshot

    monkeypatch.setattr(snapshot, "DEFAULT_DEADLINE_S", 3.0)  # the whole refresh gives up after 3 s

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = run(capsys, "--config", SMALL, "--warehouse", f"bigquery://demo-project?endpoint=http://127.0.0.1:{port}")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot read the warehouse bigquery://demo-project" in err


@pytest.mark.parametrize("spelling, season", [
    ("all", None), ("ALL", None), (" All ", None), ("", None), (" 2023-24", "2023-24"), ("2024-25 ", "2024-25"),
])
def test_season_spellings_a_person_would_type(capsys, small_wh, spelling, season):
    code, out, err = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "json", "--season", spelling)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["season"] == season
    assert [s["season"] for s in doc["seasons"]] == ([season] if season else ["2023-24", "2024-25"])


@pytest.mark.parametrize("typed", ["phase a", "PHASE A", " Phase  A "])
def test_check_takes_the_phase_as_a_person_types_it(tmp_path, capsys, typed):
    assert run(capsys, "--config", SMALL, "--warehouse", _warehouse(tmp_path, ALL_A, {}), "--check", typed)[0] == 0


HOSTILE = "\x1b[2J\x1b[32mALL GOOD\x1b]0;pwned\x07 \u202eevil\x00"


def test_warehouse_text_cannot_act_on_the_terminal(tmp_path, capsys):
    """Escape codes in an error message or a processor name show as their escapes; nothing reaches the terminal raw."""
    runs = [*RUNS, *run_rows("A1Processor", "x9", "2024-01-23", "2024-02-01T11:55:00", "failed", "2024-02-01T11:56:00",
                             errors=[{"error_type": "Boom\x1b[31m", "error_message": HOSTILE}])]
    path = build(tmp_path / "hostile.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE, tables=COVERAGE,
                 runs=("ref", "run_history"), run_rows=runs)
    code, out, _ = run(capsys, "--config", SMALL, "--warehouse", f"duckdb:{path}", "--failures-only")
    assert code == 0
    assert not any(c in out for c in "\x1b\x07\x00\u202e")
    assert "Error: Boom\\x1b[31m: \\x1b[2J\\x1b[32mALL GOOD\\x1b]0;pwned\\x07 \\u202eevil\\x00" in out
    code, out, _ = run(capsys, "--config", SMALL, "--warehouse", f"duckdb:{path}", "--format", "json")
    assert HOSTILE in [f["error_message"] for f in json.loads(out)["failures"]]  # JSON keeps the data, escaped
    code, out, _ = run(capsys, "--config", SMALL, "--warehouse", f"duckdb:{path}", "--format", "csv")
    assert not any(c in out for c in "\x1b\x07\x00\u202e")  # a CSV is `cat`ed too, piped or not
    assert "\\x1b[2J\\x1b[32mALL GOOD" in out


def test_json_on_an_ascii_stdout_keeps_every_character(tmp_path):
    """An encoding that cannot hold a character gets its \\u escape, never '?': the document still says it all."""
    message = "caf\u00e9 \u2028 \u2014 \U0001f3c0"
    runs = [*RUNS, *run_rows("A1Processor", "x9", "2024-01-23", "2024-02-01T11:55:00", "failed", "2024-02-01T11:56:00",
                             errors=[{"error_type": "T", "error_message": message}])]
    path = build(tmp_path / "unicode.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE, tables=COVERAGE,
                 runs=("ref", "run_history"), run_rows=runs)
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "BACKFILL_NOW": NOW.isoformat()}
    out = subprocess.run([sys.executable, "-m", "monitor", "--config", str(SMALL), "--warehouse", f"duckdb:{path}",
                          "--format", "json"], env=env, capture_output=True, timeout=120, check=True).stdout
    out.decode("ascii")
    assert message in [f["error_message"] for f in json.loads(out)["failures"]]


def test_continuous_json_is_one_document_per_line(small_wh):
    env = {**os.environ, "BACKFILL_NOW": NOW.isoformat(), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", SMALL, "--warehouse", small_wh, "--continuous",
                             "--interval", "1", "--format", "json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8", preexec_fn=die_with_parent)
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    docs = [json.loads(line) for line in lines + rest.splitlines()]
    assert len(docs) >= 2 and all(d["phases"][0]["complete_dates"] == 3 for d in docs)
    assert proc.returncode == 0 and err.strip() == "Stopped."


def test_a_reader_that_goes_away_ends_it_quietly(small_wh):
    """`python -m monitor --detailed | head -3`: no BrokenPipeError traceback."""
    env = {**os.environ, "BACKFILL_NOW": NOW.isoformat(), "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", SMALL, "--warehouse", small_wh, "--continuous",
                             "--interval", "1", "--detailed"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=die_with_parent)
    try:
        proc.stdout.readline()
        proc.stdout.close()  # as `head` does once it has its lines
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=20) == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_a_demo_speed_other_than_the_files_is_said_not_ignored(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.delenv("BACKFILL_DEMO_SPEED", raising=False)
    assert run(capsys, "--warehouse", "demo", "--format", "json")[0] == 0  # built at speed 1
    monkeypatch.setenv("BACKFILL_DEMO_SPEED", "60")
    code, out, err = run(capsys, "--warehouse", "demo", "--format", "json")
    assert code == 0 and json.loads(out)["warehouse"] == "demo"
    assert err == (f"note: the demo at {tmp_path / 'demo.duckdb'} runs at speed 1, fixed when it was built; "
                   "BACKFILL_DEMO_SPEED=60 applies to a new demo file (a new BACKFILL_DEMO_PATH, or remove this one)\n")


def test_a_clock_before_the_demo_began_is_said(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    monkeypatch.delenv("BACKFILL_NOW")
    assert run(capsys, "--warehouse", "demo", "--format", "json")[0] == 0  # built now
    monkeypatch.setenv("BACKFILL_NOW", "2020-01-01T00:00:00Z")
    code, out, err = run(capsys, "--warehouse", "demo", "--format", "json")
    assert code == 0 and json.loads(out)["phases"][0]["complete_dates"] == 0
    assert err.startswith("note: 2020-01-01 00:00 UTC is before the demo backfill began (")
    assert err.rstrip().endswith("nothing has happened yet at that clock")


@pytest.mark.parametrize("value, message", [
    ("0001-01-01T00:00:00Z", "BACKFILL_NOW='0001-01-01T00:00:00Z' is out of range (1970 to 9000)"),
    ("soon", "BACKFILL_NOW='soon' is not an ISO-8601 time"),
])
def test_a_bad_clock_is_one_line(capsys, small_wh, monkeypatch, value, message):
    monkeypatch.setenv("BACKFILL_NOW", value)
    code, out, err = run(capsys, "--config", SMALL, "--warehouse", small_wh)
    assert (code, out, err) == (2, "", f"error: {message}\n")


def test_a_clock_with_stray_spaces_is_taken(capsys, small_wh, monkeypatch):
    monkeypatch.setenv("BACKFILL_NOW", f"  {NOW.isoformat()} ")
    code, out, _ = run(capsys, "--config", SMALL, "--warehouse", small_wh, "--format", "json")
    assert code == 0 and json.loads(out)["checked_at"] == "2024-02-01T12:00:00Z"
