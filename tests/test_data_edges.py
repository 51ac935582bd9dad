"""Odd data from a real warehouse: the figures stay right and nothing shows as NaN, 1970 or None."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

from monitor import progress, report, snapshot, text
from monitor.warehouse.duckdb import DuckDBWarehouse
from tests.test_progress import NOW, SCHEDULE, row
from tests.warehouse_builder import build, run

BIG = "z" * 1_000_000
ODD_ERRORS = [None, "", "[]", '{"unexpected": "object"}', '[{"error_type": "A", "error_message": "m"}, "loose", 7]',
              "not json at all {", json.dumps([{"error_type": "Huge", "error_message": BIG}])]
LEAKS = re.compile(r"\bnan\b|\bNaT\b|\b1970-01-01\b|\bNone\b|<NA>", re.IGNORECASE)


def _odd_warehouse(path, *, schedule_rows=SCHEDULE, run_rows=None):
    tables = {"ana.a1": ("game_date", {"2024-01-02": 3, "2024-01-05": 2}), "ana.a2": ("game_date", {}),
              "pre.b1": ("analysis_date", {"2024-01-05": 1}), "pre.b2": ("cache_date", {})}
    runs = run_rows if run_rows is not None else [
        # a success whose final row has no processed_at: its time falls back to started_at (11:30, inside the hour)
        {"processor_name": "A1Processor", "run_id": "n1", "data_date": "2024-01-05", "status": "success",
         "started_at": "2024-02-01T11:30:00"},
        # the same row written twice: still one run
        *run("A1Processor", "d1", "2024-01-02", "2024-02-01T11:40:00", "success", "2024-02-01T11:45:00"),
        *run("A1Processor", "d1", "2024-01-02", "2024-02-01T11:40:00", "success", "2024-02-01T11:45:00"),
    ]
    build(path, schedule=("raw", "schedule"), schedule_rows=schedule_rows, tables=tables, runs=("ref", "run_history"),
          run_rows=runs)
    con = duckdb.connect(str(path))
    # NULL, out-of-window and sentinel dates in a table and in the schedule: ignored
    con.execute("INSERT INTO ana.a1 VALUES (NULL, 'x'), ('9999-12-31', 'x'), ('1970-01-01', 'x'), ('2024-03-01', 'x')")
    con.execute("ALTER TABLE raw.schedule ALTER COLUMN game_date DROP NOT NULL")
    con.execute("INSERT INTO raw.schedule VALUES (NULL, 'n', 3, 'x'), ('9999-12-31', 's', 3, 'x')")
    # failures whose errors come in every shape; the raw text goes in as JSON where it is JSON, else as a JSON string
    for i, raw in enumerate(ODD_ERRORS):
        try:
            value = None if raw is None else json.dumps(json.loads(raw)) if raw.strip() else json.dumps(raw)
        except ValueError:
            value = json.dumps(raw)
        con.execute("INSERT INTO ref.run_history (processor_name, run_id, data_date, status, started_at, processed_at, errors)"
                    " VALUES ('B1Processor', ?, '2024-01-08', 'failed', TIMESTAMPTZ '2024-02-01 11:00:00+00' + ?::INTERVAL,"
                    " TIMESTAMPTZ '2024-02-01 11:01:00+00', ?)", [f"e{i}", f"{i} minutes", value])
    con.close()
    return path


def _figures(cfg, path):
    wh = DuckDBWarehouse(path)
    try:
        return progress.compute(snapshot.fetch(cfg, wh, now=NOW), cfg)
    finally:
        wh.close()


def _no_leaks(fig, cfg):
    doc = json.dumps(report.to_json(fig, cfg), allow_nan=False)  # NaN would raise here
    assert not LEAKS.search(doc.replace(BIG, "")), LEAKS.search(doc).group()
    rendered = text.render(fig, cfg, detailed=True)
    assert not LEAKS.search(rendered), LEAKS.search(rendered).group()
    return rendered


def test_odd_rows_leave_the_figures_right(cfg, tmp_path):
    fig = _figures(cfg, _odd_warehouse(tmp_path / "odd.duckdb"))
    a1 = row(fig.tables, table="a1")
    assert (a1["dates"], a1["extra_dates"]) == (2, 0)  # NULL, 9999-12-31, 1970 and March are outside the window
    assert row(fig.phases, phase="Phase A")["expected_dates"] == 8  # the NULL and sentinel schedule rows don't count
    assert row(fig.tables, table="a2")["status"] == "not_started"  # a table with no rows
    assert a1["dates_per_hour"] == 2.0  # Jan 5 (no processed_at: started_at counts) and Jan 2 (duplicated rows: once)
    failures = fig.failures.set_index("run_id")
    assert len(failures) == len(ODD_ERRORS)
    assert [failures.at[f"e{i}", "error_message"] for i in range(len(ODD_ERRORS))] == [
        "", "", "", '{"unexpected": "object"}', "m | loose | 7", "not json at all {", BIG]
    assert failures.at["e4", "error_type"] == "A"
    rendered = _no_leaks(fig, cfg)
    assert BIG not in rendered and "z" * 197 + "..." in rendered  # on screen: truncated
    assert "   Error: not json at all {\n" in rendered  # no type: the message alone, not "Error: error: ..."
    assert "   Error: A: m | loose | 7\n" in rendered
    assert BIG in report.to_csv_frame(fig, cfg).to_csv(index=False)  # in the CSV: whole


def test_a_schedule_without_final_games(cfg, tmp_path):
    not_final = [(d, g, 1) for d, g, _ in SCHEDULE]
    fig = _figures(cfg, _odd_warehouse(tmp_path / "nofinal.duckdb", schedule_rows=not_final, run_rows=[]))
    a = row(fig.phases, phase="Phase A")
    assert (a["expected_dates"], a["eligible_dates"], a["complete_dates"], a["work_pct"], a["gate"]) == (0, 0, 0, 0.0, "fail")
    assert row(fig.rates, phase="Phase A")["eta_note"] == "no expected dates"
    assert set(fig.tables["status"]) == {"not_started"}
    assert row(fig.tables, table="a1")["extra_dates"] == 2  # rows on days without a Final game
    _no_leaks(fig, cfg)


def test_an_empty_run_history(cfg, tmp_path):
    path = _odd_warehouse(tmp_path / "noruns.duckdb", run_rows=[])
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM ref.run_history")
    con.close()
    fig = _figures(cfg, path)
    assert fig.failures.empty and fig.stuck.empty and fig.unresolved.empty
    assert list(fig.rates["dates_per_hour"]) == [0.0, 0.0]
    assert fig.tables["last_success_at"].isna().all()
    rendered = _no_leaks(fig, cfg)
    assert "NO RECENT FAILURES" in rendered


@pytest.mark.parametrize("season", [None, "2023-24", "2024-25"])
def test_no_leaks_in_any_season(cfg, tmp_path, season):
    path = _odd_warehouse(tmp_path / "odd.duckdb")
    wh = DuckDBWarehouse(path)
    fig = progress.compute(snapshot.fetch(cfg, wh, now=NOW), cfg, season)
    wh.close()
    _no_leaks(fig, cfg)


def test_errors_kept_as_text_are_read_and_text_that_is_not_json_is_the_message(cfg, tmp_path):
    """A user's DuckDB file may hold `errors` as VARCHAR: JSON text in it is read as JSON (its cleanup reason
    too), and text that is not JSON is that run's message; it never fails the runs query."""
    path = _odd_warehouse(tmp_path / "text_errors.duckdb", run_rows=[])
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE ref.run_history DROP COLUMN errors")
    con.execute("ALTER TABLE ref.run_history ADD COLUMN errors VARCHAR")
    for run_id, minute, errors, category in (
        ("t1", 0, "{not json", "processing_error"),
        ("t2", 1, '[{"error_type": "Timeout", "error_message": "slow"}]', None),
        ("t3", 2, '{"cleanup_reason": "stale_running_cleanup", "message": "stuck 4h"}', None),
    ):
        con.execute("INSERT INTO ref.run_history (processor_name, run_id, data_date, status, started_at, errors,"
                    " failure_category) VALUES ('B1Processor', ?, '2024-01-08', 'failed',"
                    " TIMESTAMPTZ '2024-02-01 11:00:00+00' + ?::INTERVAL, ?, ?)", [run_id, f"{minute} minutes", errors, category])
    con.close()
    fig = _figures(cfg, path)
    assert fig.errors == {}
    shown = fig.failures.set_index("run_id").loc[["t1", "t2", "t3"], ["outcome", "error_type", "error_message"]]
    assert shown.values.tolist() == [["failed", "processing_error", "{not json"], ["failed", "Timeout", "slow"],
                                     ["failed_cleanup", "stale_running_cleanup", "stuck 4h"]]
