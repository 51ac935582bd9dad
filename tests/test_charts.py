"""The Altair builders, read back through `chart.to_dict()`: data values and encodings worked out by hand."""

from __future__ import annotations

import altair as alt
import pandas as pd
import pytest

from monitor import charts, progress

STATUS_DOMAIN = ["complete", "in progress", "not started", "error"]
STATUS_RANGE = ["#2e7d32", "#1f77b4", "#9e9e9e", "#d62728"]


def spec(chart: alt.Chart) -> tuple[dict, list[dict]]:
    """The Vega-Lite dict and the chart's inline data rows."""
    assert isinstance(chart, alt.Chart)
    d = chart.to_dict()
    return d, d["datasets"][d["data"]["name"]]


@pytest.fixture
def phases() -> pd.DataFrame:
    frame = pd.DataFrame.from_records([
        # Phase 3: 348 of 675 complete; Phase 4: figures unknown (its inputs failed to load)
        {"phase": "Phase 3", "label": "Analytics", "tables": ["a", "b"], "expected_dates": 675, "eligible_dates": 675,
         "bootstrap_dates": 0, "complete_dates": 348, "complete_pct": 51.6, "work_pct": 26.2, "gate": "fail"},
        {"phase": "Phase 4", "label": "Precompute", "tables": ["c"], "expected_dates": None, "eligible_dates": None,
         "bootstrap_dates": None, "complete_dates": None, "complete_pct": None, "work_pct": None, "gate": None},
    ], columns=progress.PHASE_COLUMNS)
    for col in ("expected_dates", "eligible_dates", "bootstrap_dates", "complete_dates"):
        frame[col] = frame[col].astype("Int64")
    return frame


@pytest.fixture
def tables() -> pd.DataFrame:
    rows = [
        ("Phase 3", 1, "player_game_summary", 348, 675, 51.6, "in_progress", ""),
        ("Phase 3", 1, "team_defense_game_summary", 675, 675, 100.0, "complete", ""),
        ("Phase 3", 1, "upcoming_team_game_context", 0, 675, 0.0, "not_started", ""),
        ("Phase 4", 1, "team_defense_zone_analysis", 0, 647, 0.0, "error",
         "table not found: nba_precompute.team_defense_zone_analysis"),
    ]
    frame = pd.DataFrame([
        {"phase": p, "stage": s, "table": t, "dataset": "ds", "dates": d, "eligible": e, "pct": pct,
         "remaining": e - d, "partial_dates": 0, "extra_dates": 0, "dates_per_hour": 0.0,
         "last_success_at": pd.NaT, "status": status, "error": err}
        for p, s, t, d, e, pct, status, err in rows
    ], columns=progress.TABLE_COLUMNS)
    for col in ("dates", "eligible", "remaining", "partial_dates", "extra_dates"):
        frame[col] = frame[col].astype("Int64")
    return frame


def test_phase_progress(phases):
    d, rows = spec(charts.phase_progress(phases))
    assert d["mark"]["type"] == "bar"
    # Phase 4 has no figures: left out (the page shows its error); Phase 3: 348 complete + 327 remaining of 675
    assert rows == [
        {"phase": "Phase 3", "part": "complete", "dates": 348, "pct": 51.6, "of": "348 / 675 dates"},
        {"phase": "Phase 3", "part": "remaining", "dates": 327, "pct": 48.4, "of": "327 / 675 dates"},
    ]
    enc = d["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"], enc["x"]["scale"]["domain"], enc["x"]["stack"]) == ("pct", "quantitative",
                                                                                                      [0, 100], "zero")
    assert enc["y"]["field"] == "phase"
    assert enc["color"]["scale"] == {"domain": ["complete", "remaining"], "range": ["#2e7d32", "#d9d9d9"]}
    assert enc["order"]["field"] == "order"  # complete first, from the left


def test_phase_progress_of_a_phase_without_eligible_dates(phases):
    empty = phases.iloc[[0]].assign(eligible_dates=pd.array([0], dtype="Int64"), complete_dates=pd.array([0], dtype="Int64"))
    _, rows = spec(charts.phase_progress(empty))
    assert [(r["part"], r["pct"]) for r in rows] == [("complete", 0.0), ("remaining", 0.0)]


def test_table_progress(tables):
    d, rows = spec(charts.table_progress(tables, title="Phase 3"))
    assert rows == [
        {"phase": "Phase 3", "table": "player_game_summary", "status": "in progress", "bar": 51.6,
         "progress": "348 / 675 (51.6%)"},
        {"phase": "Phase 3", "table": "team_defense_game_summary", "status": "complete", "bar": 100.0,
         "progress": "675 / 675 (100.0%)"},
        {"phase": "Phase 3", "table": "upcoming_team_game_context", "status": "not started", "bar": 0.0,
         "progress": "0 / 675 (0.0%)"},
        # a table in error: a full red bar with its reason, never a zero
        {"phase": "Phase 4", "table": "team_defense_zone_analysis", "status": "error", "bar": 100.0,
         "progress": "error: table not found: nba_precompute.team_defense_zone_analysis"},
    ]
    enc = d["encoding"]
    assert enc["color"]["field"] == "status"
    assert enc["color"]["scale"] == {"domain": STATUS_DOMAIN, "range": STATUS_RANGE}
    assert enc["color"]["legend"] is not None and enc["color"]["title"] == "Status"
    assert "row" not in enc and "column" not in enc  # no facets: the chart stretches to the page (phones too)
    assert enc["y"]["field"] == "table" and enc["y"]["sort"] == list(tables["table"])
    assert enc["x"]["scale"]["domain"] == [0, 100]
    assert d["title"]["text"] == "Phase 3"
    assert "error (see Reason)" in enc["color"]["legend"]["labelExpr"]  # the legend says what red means
    assert spec(charts.table_progress(tables, legend=False))[0]["encoding"]["color"]["legend"] is None
    assert {t["field"] for t in enc["tooltip"]} == {"phase", "table", "status", "progress"}


def test_status_colours_are_the_same_everywhere():
    assert charts.status_scale().to_dict() == {"domain": STATUS_DOMAIN, "range": STATUS_RANGE}
    assert set(charts.STATUS_COLORS) == set(charts.STATUSES) == set(charts.STATUS_LABELS)


def test_season_coverage():
    seasons = pd.DataFrame({
        "season": ["2021-22", "2024-25"],
        "expected": pd.array([215, 37], dtype="Int64"),
        "Phase 3 eligible": pd.array([215, 37], dtype="Int64"),
        "Phase 3 complete": pd.array([75, 37], dtype="Int64"),
        "Phase 3 %": [34.9, 100.0],
        "Phase 4 eligible": pd.array([208, None], dtype="Int64"),  # unknown: left out, not drawn as 0
        "Phase 4 complete": pd.array([0, None], dtype="Int64"),
        "Phase 4 %": [0.0, None],
    })
    d, rows = spec(charts.season_coverage(seasons, "Phase 3"))
    assert [(r["season"], r["phase"], r["measure"], r["dates"]) for r in rows] == [
        ("2021-22", "Phase 3", "eligible", 215), ("2021-22", "Phase 3", "complete", 75),
        ("2024-25", "Phase 3", "eligible", 37), ("2024-25", "Phase 3", "complete", 37),
    ]
    assert rows[1]["pct"] == 34.9
    enc = d["encoding"]
    assert (enc["x"]["field"], enc["xOffset"]["field"], enc["y"]["field"]) == ("season", "measure", "dates")
    assert "column" not in enc and d["title"]["text"] == "Phase 3"  # one chart per phase, no facets
    assert enc["color"]["scale"]["domain"] == ["eligible", "complete"]
    _, rows = spec(charts.season_coverage(seasons, "Phase 4"))
    assert [(r["season"], r["measure"], r["dates"]) for r in rows] == [("2021-22", "eligible", 208),
                                                                      ("2021-22", "complete", 0)]


def test_rate_over_time():
    history = pd.DataFrame({
        "hour": pd.to_datetime(["2025-11-30 13:00", "2025-11-30 14:00", "2025-11-30 13:00", "2025-11-30 14:00"],
                               utc=True),
        "phase": ["Phase 3", "Phase 3", "Phase 4", "Phase 4"],
        "dates": [45, 12, 0, 3],
    })
    d, rows = spec(charts.rate_over_time(history))
    assert rows == [
        {"hour": "2025-11-30T13:00:00Z", "phase": "Phase 3", "dates": 45},
        {"hour": "2025-11-30T14:00:00Z", "phase": "Phase 3", "dates": 12},
        {"hour": "2025-11-30T13:00:00Z", "phase": "Phase 4", "dates": 0},
        {"hour": "2025-11-30T14:00:00Z", "phase": "Phase 4", "dates": 3},
    ]
    assert d["mark"] == {"type": "line", "point": True}
    enc = d["encoding"]
    # hours read in UTC whatever the viewer's zone
    assert (enc["x"]["field"], enc["x"]["type"], enc["x"]["timeUnit"]) == ("hour", "temporal", "utcyearmonthdatehoursminutes")
    assert enc["x"]["axis"]["format"] == "%H:%M"
    assert (enc["y"]["field"], enc["color"]["field"]) == ("dates", "phase")


def test_rate_over_time_empty():
    d, rows = spec(charts.rate_over_time(pd.DataFrame(columns=progress.HISTORY_COLUMNS)))
    assert rows == []
