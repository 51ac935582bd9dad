"""ETA over stages, with its notes, on Phase B of the small pipeline (eligible 05 08 16 23; stages [b1], [b2])."""

from __future__ import annotations

import pytest

from monitor import progress, snapshot
from monitor.warehouse.duckdb import DuckDBWarehouse
from tests.test_progress import NOW, SCHEDULE, row
from tests.warehouse_builder import build, run

ALL = {"2024-01-05": 1, "2024-01-08": 1, "2024-01-16": 1, "2024-01-23": 1}
TWO = {"2024-01-05": 1, "2024-01-08": 1}


def b1_success(run_id: str, day: str) -> list[dict]:
    return run("B1Processor", run_id, day, "2024-02-01T11:30:00", "success", "2024-02-01T11:40:00")


@pytest.mark.parametrize("b1, b2, runs, eta, note", [
    # b1: 2 left at 1/h = 2 h; b2 waits on b1's stage, so it is estimated at that rate: 4 left / 1/h = 4 h.
    pytest.param(TWO, {}, b1_success("r1", "2024-01-08"), 6.0, "", id="waiting-stage-uses-earlier-stage-rate"),
    # b1 should be moving (it is the first stage) but had no success in the last hour.
    pytest.param(TWO, {}, [], None, "stalled: b1", id="stalled"),
    # ... and what it lacks is partly dates that failed: the note says so (Jan 16 failed; Jan 23 never ran)
    pytest.param(TWO, {}, run("B1Processor", "f1", "2024-01-16", "2024-02-01T09:00:00", "failed", "2024-02-01T09:01:00"),
                 None, "stalled: b1 (1 of its 2 missing dates failed: rerun them)", id="stalled-with-failed-dates"),
    # b1 done; b2 has work left and no rate: b2 is stalled.
    pytest.param(ALL, TWO, [], None, "stalled: b2", id="stalled-second-stage"),
    pytest.param({}, {}, [], None, "not started", id="not-started"),
    pytest.param(ALL, ALL, [], 0.0, "complete", id="complete"),
    # no rows yet but activity in the window: moving, not "not started" (a success on Jan 5 that wrote nothing yet).
    pytest.param({}, {}, b1_success("r1", "2024-01-05"), 8.0, "", id="activity-before-rows"),
])
def test_phase_b_eta(tmp_path, cfg, b1, b2, runs, eta, note):
    tables = {"ana.a1": ("game_date", {}), "ana.a2": ("game_date", {}),
              "pre.b1": ("analysis_date", b1), "pre.b2": ("cache_date", b2)}
    path = build(tmp_path / "w.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE, tables=tables,
                 runs=("ref", "run_history"), run_rows=runs)
    wh = DuckDBWarehouse(path)
    fig = progress.compute(snapshot.fetch(cfg, wh, now=NOW), cfg)
    wh.close()
    r = row(fig.rates, phase="Phase B")
    assert (r["eta_hours"], r["eta_note"]) == (eta, note)
    if eta:  # moving: the ETA follows the slowest table of the earliest unfinished stage
        assert (r["pace_table"], r["pace_per_hour"]) == ("b1", 1.0)


def b1_failure(run_id: str, day: str) -> list[dict]:
    return run("B1Processor", run_id, day, "2024-02-01T09:00:00", "failed", "2024-02-01T09:01:00")


@pytest.mark.parametrize("runs, note", [
    # b1 lacks Jan 16 and 23 in 2024-25 and succeeded on Jan 8 (2023-24) within the hour: busy elsewhere;
    # one of the two failed, the other never ran: its job may yet come to it
    pytest.param([*b1_success("r1", "2024-01-08"), *b1_failure("f1", "2024-01-16")],
                 "waiting: b1 is working on other seasons (1 of its 2 missing dates failed: rerun them)", id="waiting"),
    # both failed: however busy elsewhere, nothing comes back to them without a rerun
    pytest.param([*b1_success("r1", "2024-01-08"), *b1_failure("f1", "2024-01-16"), *b1_failure("f2", "2024-01-23")],
                 "stalled: b1 (2 of its 2 missing dates failed: rerun them)", id="all-failed"),
])
def test_busy_elsewhere_but_every_missing_date_failed_is_stalled(tmp_path, cfg, runs, note):
    tables = {"ana.a1": ("game_date", {}), "ana.a2": ("game_date", {}),
              "pre.b1": ("analysis_date", TWO), "pre.b2": ("cache_date", {"2024-01-16": 1})}  # b2: started there
    path = build(tmp_path / "w.duckdb", schedule=("raw", "schedule"), schedule_rows=SCHEDULE, tables=tables,
                 runs=("ref", "run_history"), run_rows=runs)
    wh = DuckDBWarehouse(path)
    fig = progress.compute(snapshot.fetch(cfg, wh, now=NOW), cfg, "2024-25")
    wh.close()
    assert row(fig.rates, phase="Phase B")["eta_note"] == note
