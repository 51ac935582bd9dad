"""Every definition of DESIGN.md on a small warehouse whose figures are worked out by hand.

The pipeline (tests/small_pipeline.toml): window 2024-01-01..31; season 2023-24 = Jan 1-15
(opener Jan 2), 2024-25 = Jan 16-31 (opener Jan 20). Phase A = one stage [a1, a2]
(a2 needs 2 rows per game); Phase B = stages [b1], [b2] with bootstrap_days = 2.

Final games per date: 02:1 03:2 05:1 08:3 | 16:1 20:2 21:1 23:1  -> 8 expected dates.
Phase B bootstrap: 02, 03 (opener Jan 2 +0/+1) and 20, 21 (opener Jan 20) -> eligible 05 08 16 23.
Now is 2024-02-01 12:00 UTC; rate window 60 min; failure window 120 min; stuck after 120 min.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from monitor import progress, report, snapshot
from monitor.warehouse.duckdb import DuckDBWarehouse
from tests.warehouse_builder import build, run

HERE = Path(__file__).parent
NOW = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)

SCHEDULE = [
    ("2024-01-02", "g1", 3),
    ("2024-01-02", "g1", 3),  # the same game from a second source
    ("2024-01-03", "g2", 3), ("2024-01-03", "g3", 3),
    ("2024-01-04", "g4", 1),  # postponed: not Final, so Jan 4 is no game day
    ("2024-01-05", "g5", 3),
    ("2024-01-08", "g6", 3), ("2024-01-08", "g7", 3), ("2024-01-08", "g8", 3), ("2024-01-08", "g9", 2),
    ("2024-01-16", "g10", 3),
    ("2024-01-20", "g11", 3), ("2024-01-20", "g12", 3),
    ("2024-01-21", "g13", 3),
    ("2024-01-23", "g14", 3),
    ("2024-02-02", "g15", 3),  # outside the window
]
COVERAGE = {
    # a1: 5 of 8 eligible, plus Jan 4 (no game that day: extra) and a date outside the window (ignored).
    "ana.a1": ("game_date", {"2024-01-02": 10, "2024-01-03": 10, "2024-01-05": 10, "2024-01-08": 10,
                             "2024-01-16": 10, "2024-01-04": 3, "2023-12-30": 5}),
    # a2 (2 rows per game): Jan 3 has 3 of 4 rows, Jan 23 has 1 of 2 -> 2 partial dates, still present.
    "ana.a2": ("game_date", {"2024-01-02": 2, "2024-01-03": 3, "2024-01-05": 2, "2024-01-20": 4, "2024-01-23": 1}),
    # b1: all 4 eligible dates, plus the bootstrap date Jan 2 (extra).
    "pre.b1": ("analysis_date", {"2024-01-02": 30, "2024-01-05": 30, "2024-01-08": 30, "2024-01-16": 30, "2024-01-23": 30}),
    "pre.b2": ("cache_date", {"2024-01-05": 7}),
}
RUNS = [
    # a1: successes inside the rate window on eligible Jan 16 and Jan 08 (twice) and non-eligible Jan 4.
    *run("A1Processor", "r1", "2024-01-16", "2024-02-01T11:25:00", "success", "2024-02-01T11:30:00", cleanup=True),
    *run("A1Processor", "r2", "2024-01-08", "2024-02-01T11:05:00", "success", "2024-02-01T11:10:00"),
    *run("A1Processor", "r3", "2024-01-08", "2024-02-01T11:35:00", "success", "2024-02-01T11:40:00"),
    *run("A1Processor", "r4", "2024-01-04", "2024-02-01T11:45:00", "success", "2024-02-01T11:50:00"),
    # a2: one success too old for the rate, one inside it.
    *run("A2Processor", "r5", "2024-01-05", "2024-02-01T10:25:00", "success", "2024-02-01T10:30:00"),
    *run("A2Processor", "r7", "2024-01-20", "2024-02-01T11:15:00", "success", "2024-02-01T11:20:00"),
    # b2: one success inside the rate window.
    *run("B2Processor", "r6", "2024-01-05", "2024-02-01T11:40:00", "success", "2024-02-01T11:45:00"),
    # failures: f1 (array) later resolved by f2; f3 NULL errors with a category; f4 too old; f5 only a cleanup row.
    *run("B1Processor", "f1", "2024-01-08", "2024-02-01T11:00:00", "failed", "2024-02-01T11:01:00",
         errors=[{"error_type": "ValidationError", "error_message": "Missing required data", "timestamp": "x"}],
         failure_category="processing_error"),
    *run("B1Processor", "f2", "2024-01-08", "2024-02-01T11:30:00", "success", "2024-02-01T11:35:00"),
    *run("B1Processor", "f3", "2024-01-16", "2024-02-01T10:30:00", "failed", "2024-02-01T10:31:00", failure_category="timeout"),
    *run("A2Processor", "f4", "2024-01-21", "2024-02-01T09:00:00", "failed", "2024-02-01T09:01:00", errors=[]),
    *run("A2Processor", "f5", "2024-01-16", "2024-02-01T10:15:00", None, cleanup=True),
    # stuck: s1 running for 2.5 h; s2 only for 1 h.
    *run("B2Processor", "s1", "2024-01-23", "2024-02-01T09:30:00", None),
    *run("B2Processor", "s2", "2024-01-16", "2024-02-01T11:00:00", None),
    # long before the run history's 24 h: f6 never run again (unresolved), f7 fixed two days later by r8.
    *run("A1Processor", "f6", "2024-01-10", "2024-01-25T08:00:00", "failed", "2024-01-25T08:02:00",
         errors=[{"error_type": "KeyError", "error_message": "'team_abbr'"}]),
    *run("B2Processor", "f7", "2024-01-11", "2024-01-20T08:00:00", "failed", "2024-01-20T08:01:00", failure_category="timeout"),
    *run("B2Processor", "r8", "2024-01-11", "2024-01-22T08:00:00", "success", "2024-01-22T08:05:00", cleanup=True),
    # a processor the config does not know: ignored everywhere.
    *run("OtherProcessor", "x1", "2024-01-05", "2024-02-01T11:50:00", "failed", "2024-02-01T11:51:00"),
]


@pytest.fixture(scope="module")
def snap(cfg, tmp_path_factory):
    path = build(tmp_path_factory.mktemp("wh") / "small.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE,
                 tables=COVERAGE, runs=("ref", "run_history"), run_rows=RUNS)
    wh = DuckDBWarehouse(path)
    try:
        yield snapshot.fetch(cfg, wh, now=NOW)
    finally:
        wh.close()


@pytest.fixture(scope="module")
def fig(snap, cfg):
    return progress.compute(snap, cfg)


def row(frame: pd.DataFrame, **match) -> dict:
    mask = pd.Series(True, index=frame.index)
    for k, v in match.items():
        mask &= frame[k] == v
    rows = frame[mask]
    assert len(rows) == 1, f"{match}: {len(rows)} rows"
    return rows.iloc[0].to_dict()


def test_snapshot_uses_three_queries_and_no_errors(snap):
    assert snap.queries == 3
    assert snap.errors == {} and snap.catalog.ok and snap.coverage.ok and snap.runs.ok


@pytest.mark.parametrize("phase, expected, eligible, bootstrap, complete, work, gate", [
    # A: 02 03 05 present in a1 and a2 -> 3; work (5 + 5) / (8 x 2) = 62.5 %
    ("Phase A", 8, 8, 0, 3, 62.5, "fail"),
    # B: only 05 in both b1 and b2 -> 1; work (4 + 1) / (4 x 2) = 62.5 %
    ("Phase B", 8, 4, 4, 1, 62.5, "fail"),
])
def test_phases(fig, phase, expected, eligible, bootstrap, complete, work, gate):
    p = row(fig.phases, phase=phase)
    assert (p["expected_dates"], p["eligible_dates"], p["bootstrap_dates"], p["complete_dates"], p["work_pct"], p["gate"]) == (
        expected, eligible, bootstrap, complete, work, gate)


@pytest.mark.parametrize("table, dates, eligible, pct, partial, extra, status, per_hour", [
    ("a1", 5, 8, 62.5, 0, 1, "in_progress", 2.0),    # rate: Jan 16 and Jan 08 (twice); Jan 4 is not eligible
    ("a2", 5, 8, 62.5, 2, 0, "in_progress", 1.0),    # r5 finished 90 min ago: outside the window
    ("b1", 4, 4, 100.0, 0, 1, "complete", 1.0),      # f2 on Jan 08
    ("b2", 1, 4, 25.0, 0, 0, "in_progress", 1.0),
])
def test_tables(fig, table, dates, eligible, pct, partial, extra, status, per_hour):
    t = row(fig.tables, table=table)
    assert (t["dates"], t["eligible"], t["pct"], t["partial_dates"], t["extra_dates"], t["status"], t["dates_per_hour"]) == (
        dates, eligible, pct, partial, extra, status, per_hour)


def test_last_success_per_table(fig):
    last = dict(zip(fig.tables["table"], fig.tables["last_success_at"], strict=True))
    assert last["a1"] == pd.Timestamp("2024-02-01 11:50", tz="UTC")
    assert last["b1"] == pd.Timestamp("2024-02-01 11:35", tz="UTC")


def test_partial_dates(fig):
    got = [(r.table, r.day.isoformat(), r.rows, r.expected_rows) for r in fig.partial_dates.itertuples()]
    assert got == [("a2", "2024-01-03", 3, 4), ("a2", "2024-01-23", 1, 2)]


def test_missing_ranges_collapse_consecutive_eligible_dates_and_split_at_seasons(fig):
    got = [(r.table, r.season, r.start.isoformat(), r.end.isoformat(), r.dates) for r in fig.missing_ranges.itertuples()]
    assert got == [
        ("a1", "2024-25", "2024-01-20", "2024-01-23", 3),  # 20 21 23: Jan 22 is no game day, so one range
        ("a2", "2023-24", "2024-01-08", "2024-01-08", 1),
        ("a2", "2024-25", "2024-01-16", "2024-01-16", 1),
        ("a2", "2024-25", "2024-01-21", "2024-01-21", 1),
        ("b2", "2023-24", "2024-01-08", "2024-01-08", 1),  # 08 and 16 are consecutive eligible dates, but seasons split them
        ("b2", "2024-25", "2024-01-16", "2024-01-23", 2),
    ]
    cmd = row(fig.missing_ranges, table="b2", start=dt.date(2024, 1, 16))["command"]
    assert cmd == "./bin/run_backfill.sh precompute/b_two --start-date 2024-01-16 --end-date 2024-01-23"


def test_seasons(fig):
    got = fig.seasons.set_index("season")
    # 2023-24: A eligible 02 03 05 08, complete 02 03 05; B eligible 05 08, complete 05.
    assert got.loc["2023-24"].tolist() == [4, 4, 3, 75.0, 2, 1, 50.0]
    # 2024-25: A eligible 16 20 21 23, none in both a1 and a2; B eligible 16 23, b2 has neither.
    assert got.loc["2024-25"].tolist() == [4, 4, 0, 0.0, 2, 0, 0.0]


@pytest.mark.parametrize("season, phase, per_hour, remaining, eta, note, pace", [
    # {16, 08, 20}; a1 3 left at 2/h = 1.5 h, a2 3 left at 1/h = 3 h: a2 is the slowest, the pace of the ETA
    (None, "Phase A", 3.0, 5, 3.0, "", ("a2", 1.0)),
    (None, "Phase B", 2.0, 3, 3.0, "", ("b2", 1.0)),  # {08, 05}; b1 done; b2 3 left at 1/h
    # 2023-24: a2 has 1 date left there and no success on it, but it succeeded on Jan 20 (2024-25) within the
    # hour: its job has not reached 2023-24 yet, so it is not called stalled.
    ("2023-24", "Phase A", 1.0, 1, None, "waiting: a2 is working on other seasons", (None, None)),
    ("2023-24", "Phase B", 2.0, 1, 1.0, "", ("b2", 1.0)),  # b2: 1 left (Jan 08) at 1/h (Jan 05)
    # 2024-25: a1 3 left at 1/h (Jan 16), a2 2 left at 1/h (Jan 20); b2 busy on 2023-24 (Jan 05)
    ("2024-25", "Phase A", 2.0, 4, 3.0, "", ("a1", 1.0)),
    ("2024-25", "Phase B", 0.0, 2, None, "waiting: b2 is working on other seasons", (None, None)),
])
def test_rates_and_eta(snap, cfg, season, phase, per_hour, remaining, eta, note, pace):
    r = row(progress.compute(snap, cfg, season).rates, phase=phase)
    assert (r["dates_per_hour"], r["remaining"], r["eta_note"]) == (per_hour, remaining, note)
    assert r["eta_hours"] == eta if eta is not None else pd.isna(r["eta_hours"])
    got_pace = tuple(None if pd.isna(v) else v for v in (r["pace_table"], r["pace_per_hour"]))
    assert got_pace == pace


def test_recent_failures_newest_first_without_phantoms_or_unknown_processors(fig):
    got = [(r.run_id, r.data_date.isoformat(), r.error_type, r.error_message) for r in fig.failures.itertuples()]
    assert got == [
        ("f1", "2024-01-08", "ValidationError", "Missing required data"),
        ("f3", "2024-01-16", "timeout", ""),  # NULL errors: the type falls back to failure_category
        ("f5", "2024-01-16", "stale_running_cleanup", "stuck"),  # only a cleanup row: failed by cleanup
    ]
    assert row(fig.failures, run_id="f1")["command"] == (
        "./bin/run_backfill.sh precompute/b_one --start-date 2024-01-08 --end-date 2024-01-08")


def test_stuck_and_unresolved(fig):
    assert [(r.run_id, r.hours_running) for r in fig.stuck.itertuples()] == [("s1", 2.5)]
    # (B1, Jan 08) succeeded after failing: resolved, and so is (B2, Jan 11) two days after f7. f4 (3 h ago, past
    # the failure window) and f6 (a week ago, past the run history's 24 h) were never run again: still unresolved.
    assert [(r.processor_name, r.data_date.isoformat(), f"{r.last_failed_at:%m-%d %H:%M}", r.error_type)
            for r in fig.unresolved.itertuples()] == [
        ("B1Processor", "2024-01-16", "02-01 10:30", "timeout"),
        ("A2Processor", "2024-01-16", "02-01 10:15", "stale_running_cleanup"),
        ("A2Processor", "2024-01-21", "02-01 09:00", ""),
        ("A1Processor", "2024-01-10", "01-25 08:00", "KeyError"),
    ]
    assert row(fig.unresolved, processor_name="A1Processor")["command"] == (
        "./bin/run_backfill.sh analytics/a_one --start-date 2024-01-10 --end-date 2024-01-10")


def test_warnings(fig):
    # Phase B's first stage is done and b1 (4) vs b2 (1) differ by 3 > 2; 3 failures > 2; one stuck run.
    # Both phases had a success in the last hour, so no "no progress" warning.
    assert [w.code for w in fig.warnings] == ["date_spread", "many_failures", "stuck_runs"]


def test_rate_history_counts_distinct_eligible_dates_per_hour(fig):
    h = fig.rate_history
    assert len(h) == 24 * 2
    at = lambda hour, phase: int(h[(h["hour"] == pd.Timestamp(hour, tz="UTC")) & (h["phase"] == phase)]["dates"].iloc[0])  # noqa: E731
    # each point: the hour ending there; the clock (12:00) is on the hour, so the last point is 11:00-12:00
    assert h["hour"].iloc[23] == pd.Timestamp("2024-02-01 12:00", tz="UTC")
    assert at("2024-02-01 12:00", "Phase A") == 3  # 16, 08 (twice), 20; Jan 4 is not eligible
    assert at("2024-02-01 11:00", "Phase A") == 1  # r5 (10:30)
    assert at("2024-02-01 12:00", "Phase B") == 2  # 08 (f2), 05 (r6)


def test_rate_history_ends_with_the_hour_ending_now(snap, cfg):
    """Mid-hour, the last point is the hour ending now (the headline rate), not a partial clock hour."""
    later = dataclasses.replace(snap, checked_at=NOW + dt.timedelta(minutes=20))  # 12:20
    h = progress.compute(later, cfg).rate_history
    a = h[h["phase"] == "Phase A"]
    assert len(a) == 24 and a["hour"].iloc[-1] == pd.Timestamp("2024-02-01 12:20", tz="UTC")
    assert a["hour"].iloc[0] == pd.Timestamp("2024-01-31 14:00", tz="UTC")  # the oldest hour gave way
    # 11:20-12:20: Jan 16 (11:30), 08 (11:40), 20 (11:20 is not after 11:20: out) -> 2; r2 at 11:10 is out too
    assert int(a["dates"].iloc[-1]) == 2


def test_season_filter_narrows_every_figure(snap, cfg):
    fig = progress.compute(snap, cfg, "2024-25")
    a = row(fig.phases, phase="Phase A")
    assert (a["expected_dates"], a["eligible_dates"], a["complete_dates"], a["work_pct"]) == (4, 4, 0, 37.5)
    assert row(fig.tables, table="a1")["dates"] == 1
    assert row(fig.rates, phase="Phase A")["dates_per_hour"] == 2.0  # 16 and 20 only
    assert list(fig.failures["run_id"]) == ["f3", "f5"]
    assert list(fig.seasons["season"]) == ["2024-25"]
    assert fig.window == (dt.date(2024, 1, 16), dt.date(2024, 1, 31))


def test_unknown_season_is_refused_with_the_valid_ones(snap, cfg):
    with pytest.raises(ValueError, match="valid seasons: All, 2023-24, 2024-25"):
        progress.compute(snap, cfg, "1999-00")


def test_json_contract_has_every_key(fig, cfg):
    doc = report.to_json(fig, cfg)
    assert set(doc) == {"checked_at", "warehouse", "window", "season", "phases", "tables", "seasons", "rates",
                        "failures", "stuck", "unresolved", "warnings", "meta"}
    assert doc["checked_at"] == "2024-02-01T12:00:00Z"
    assert doc["meta"]["queries"] == 3
    assert doc["seasons"][0] == {"season": "2023-24", "expected": 4,
                                 "phases": {"Phase A": {"eligible": 4, "complete": 3}, "Phase B": {"eligible": 2, "complete": 1}}}
    assert doc["failures"][0]["data_date"] == "2024-01-08"
