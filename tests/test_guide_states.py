"""Acceptance: the usage guide's two example states give exactly the guide's figures as JSON.

complete: Phase 3 675/675; Phase 4 647 eligible of 675 (28 bootstrap), 647 complete; seasons
215/214/209/37 expected, Phase 3 the same, Phase 4 208/207/202/30; both gates pass.
start: player_game_summary 348/675, upcoming_player_game_context 5/675, other Phase 3 tables 0;
a Phase 4 table that does not exist and one without its date column each show their own error.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from monitor import cli, config, fixtures

NOW = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def nba():
    return config.load()


@pytest.fixture(scope="module")
def state_json(nba, tmp_path_factory):
    def run(state: str, *extra: str) -> tuple[int, dict]:
        path = tmp_path_factory.getbasetemp() / f"{state}.duckdb"
        if not path.exists():
            fixtures.guide_state(path, nba, state, NOW)
        return _json(f"duckdb:{path}", *extra)
    return run


def _json(url: str, *extra: str) -> tuple[int, dict]:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["--warehouse", url, "--format", "json", *extra])
    return code, json.loads(buf.getvalue())


@pytest.fixture(autouse=True)
def pinned(monkeypatch):
    monkeypatch.setenv("BACKFILL_NOW", NOW.isoformat())


def test_complete_state(state_json):
    code, doc = state_json("complete")
    assert code == 0
    p3, p4 = doc["phases"]
    assert (p3["expected_dates"], p3["eligible_dates"], p3["bootstrap_dates"], p3["complete_dates"], p3["work_pct"], p3["gate"]) == (
        675, 675, 0, 675, 100.0, "pass")
    assert (p4["expected_dates"], p4["eligible_dates"], p4["bootstrap_dates"], p4["complete_dates"], p4["work_pct"], p4["gate"]) == (
        675, 647, 28, 647, 100.0, "pass")
    assert [(t["table"], t["dates"], t["eligible"], t["status"]) for t in doc["tables"]] == [
        (t, 675, 675, "complete") for t in p3["tables"]] + [(t, 647, 647, "complete") for t in p4["tables"]]
    assert [(s["season"], s["expected"], s["phases"]["Phase 3"]["complete"], s["phases"]["Phase 4"]["eligible"],
             s["phases"]["Phase 4"]["complete"]) for s in doc["seasons"]] == [
        ("2021-22", 215, 215, 208, 208), ("2022-23", 214, 214, 207, 207),
        ("2023-24", 209, 209, 202, 202), ("2024-25", 37, 37, 30, 30)]
    assert [(r["phase"], r["dates_per_hour"], r["remaining"], r["eta_hours"], r["eta_note"]) for r in doc["rates"]] == [
        ("Phase 3", 0.0, 0, 0.0, "complete"), ("Phase 4", 0.0, 0, 0.0, "complete")]
    assert doc["failures"] == [] and doc["stuck"] == [] and doc["unresolved"] == [] and doc["warnings"] == []
    assert doc["meta"]["queries"] <= 4


def test_complete_state_gates(state_json):
    assert state_json("complete", "--check")[0] == 0
    assert state_json("complete", "--check", "Phase 4")[0] == 0


def test_start_state(state_json):
    code, doc = state_json("start")
    assert code == 0
    tables = {t["table"]: t for t in doc["tables"]}
    assert (tables["player_game_summary"]["dates"], tables["player_game_summary"]["eligible"]) == (348, 675)
    assert tables["upcoming_player_game_context"]["dates"] == 5
    for name in ("team_defense_game_summary", "team_offense_game_summary", "upcoming_team_game_context"):
        assert (tables[name]["dates"], tables[name]["status"]) == (0, "not_started")
    p3 = doc["phases"][0]
    assert (p3["complete_dates"], p3["eligible_dates"], p3["gate"]) == (0, 675, "fail")
    assert p3["work_pct"] == round(100 * (348 + 5) / (675 * 5), 1)
    # Each broken Phase 4 table says what is wrong with it; the rest render.
    tdza, psza = tables["team_defense_zone_analysis"], tables["player_shot_zone_analysis"]
    assert (tdza["status"], tdza["error"]) == ("error", "table not found: nba_precompute.team_defense_zone_analysis")
    assert (psza["status"], psza["error"]) == (
        "error", "date column missing: nba_precompute.player_shot_zone_analysis has no column analysis_date")
    for name in ("player_composite_factors", "player_daily_cache"):
        assert (tables[name]["dates"], tables[name]["eligible"], tables[name]["status"]) == (0, 647, "not_started")
    # The guide's season table: player_game_summary's 348 dates are 75/117/119/37, but no date is complete in all five.
    assert [(s["season"], s["expected"], s["phases"]["Phase 3"]["complete"]) for s in doc["seasons"]] == [
        ("2021-22", 215, 0), ("2022-23", 214, 0), ("2023-24", 209, 0), ("2024-25", 37, 0)]
    assert doc["rates"][1]["eta_note"] == "not started"
    assert doc["meta"]["queries"] <= 4


def test_start_state_gates(state_json):
    assert state_json("start", "--check")[0] == 1
    assert state_json("start", "--check", "Phase 3")[0] == 1


def test_only_phase_3_complete(state_json):
    assert state_json("phase3_only", "--check", "Phase 3")[0] == 0
    assert state_json("phase3_only", "--check", "Phase 4")[0] == 1
    assert state_json("phase3_only", "--check")[0] == 1


def test_season_filter_on_the_complete_state(state_json):
    _, doc = state_json("complete", "--season", "2023-24")
    assert doc["season"] == "2023-24" and doc["window"] == {"start": "2023-10-01", "end": "2024-06-30"}
    p3, p4 = doc["phases"]
    assert (p3["expected_dates"], p3["complete_dates"], p4["eligible_dates"], p4["complete_dates"]) == (209, 209, 202, 202)
