"""The Streamlit app through streamlit.testing.v1.AppTest: every page, against real DuckDB warehouses.

Timers (auto-refresh) never fire in AppTest and charts are opaque here (test_charts.py
covers them); everything else is checked as the user would read it. The small warehouse
below is worked out by hand with the default NBA config; the guide's "complete" state
comes from monitor.fixtures.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from monitor import config as config_mod
from monitor import data
from tests.warehouse_builder import build, run

APP = str(Path(__file__).parent.parent / "app.py")
NOW = "2025-11-30T14:30:00Z"
XSS = "<script>alert(1)</script> **bold** :red[x] $x$"
LONG = "y" * 300

# Final game dates: 2021-10-19 (2 games, 2021-22 opener: Phase 4 bootstrap), 2021-10-27, 2021-10-28,
# 2023-10-24 (2023-24 opener: bootstrap), 2023-11-01; 2023-11-02 is only scheduled.
# Expected 5, Phase 3 eligible 5, Phase 4 eligible 3 (2021-10-27, 2021-10-28, 2023-11-01).
SCHEDULE = [
    ("2021-10-19", "g1", 3), ("2021-10-19", "g2", 3), ("2021-10-19", "g2", 3), ("2021-10-27", "g3", 3),
    ("2021-10-28", "g4", 3), ("2023-10-24", "g5", 3), ("2023-11-01", "g6", 3), ("2023-11-02", "g7", 1),
]
ALL5 = {"2021-10-19": 4, "2021-10-27": 2, "2021-10-28": 2, "2023-10-24": 2, "2023-11-01": 2}
TABLES = {
    "nba_analytics.player_game_summary": ("game_date", ALL5),  # 5/5
    # 4/5: 2023-11-01 missing; 2021-10-27 holds 1 row for 1 game (2 per game wanted): partial
    "nba_analytics.team_defense_game_summary": ("game_date", {"2021-10-19": 4, "2021-10-27": 1, "2021-10-28": 2,
                                                              "2023-10-24": 2}),
    "nba_analytics.team_offense_game_summary": ("game_date", ALL5),  # 5/5
    # upcoming_player_game_context: not created -> error "table not found"
    "nba_analytics.upcoming_team_game_context": ("game_date", {}),  # exists, empty: not started
    "nba_precompute.team_defense_zone_analysis": ("analysis_date", {"2021-10-27": 30, "2021-10-28": 30,
                                                                    "2023-11-01": 30}),  # 3/3
    "nba_precompute.player_shot_zone_analysis": ("game_date", {"2021-10-27": 5}),  # wrong date column -> error
    "nba_precompute.player_composite_factors": ("game_date", {"2021-10-28": 5}),  # 1/3
    "nba_precompute.player_daily_cache": ("cache_date", {}),  # 0/3
}
RUNS = [
    *run("PlayerGameSummaryProcessor", "r1", "2023-11-01", "2025-11-30T14:00:00", "success", "2025-11-30T14:05:00"),
    *run("PlayerGameSummaryProcessor", "r2", "2021-10-27", "2025-11-30T13:50:00", "failed", "2025-11-30T13:51:00",
         errors=[{"error_type": "ValidationError", "error_message": XSS}], failure_category="processing_error"),
    *run("TeamDefenseGameSummaryProcessor", "r3", "2023-11-01", "2025-11-30T14:10:00", "failed",
         "2025-11-30T14:11:00", errors=[{"error_type": "Timeout", "error_message": LONG}]),
    *run("PlayerCompositeFactorsProcessor", "r4", "2021-10-28", "2025-11-30T11:00:00", None),  # stuck 3.5 h
    *run("TeamDefenseGameSummaryProcessor", "r5", "2021-10-28", "2025-11-30T12:00:00", "failed",
         "2025-11-30T12:01:00", errors=[{"error_type": "Old", "error_message": "before the window"}]),
]


@pytest.fixture(scope="module")
def small_wh(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("app") / "small.duckdb"
    return build(path, schedule=("nba_raw", "nbac_schedule"), schedule_rows=SCHEDULE, tables=TABLES,
                 runs=("nba_reference", "processor_run_history"), run_rows=RUNS)


@pytest.fixture(scope="module")
def complete_wh(tmp_path_factory) -> Path:
    from monitor import fixtures

    path = tmp_path_factory.mktemp("guide") / "complete.duckdb"
    now = dt.datetime.fromisoformat(NOW.replace("Z", "+00:00"))
    return fixtures.guide_state(path, config_mod.load(), "complete", now)


@pytest.fixture
def app(monkeypatch):
    """An AppTest factory on a fresh process state: caches cleared, env pointing at `warehouse`."""

    def make(warehouse: Path | str, **query) -> AppTest:
        monkeypatch.setenv("BACKFILL_WAREHOUSE", f"duckdb:{warehouse}" if isinstance(warehouse, Path) else warehouse)
        monkeypatch.setenv("BACKFILL_NOW", NOW)
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(query)
        return at

    monkeypatch.delenv("BACKFILL_CONFIG", raising=False)
    monkeypatch.delenv("BACKFILL_REFRESH_S", raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    data._last_forced["at"] = float("-inf")
    yield make
    st.cache_data.clear()
    st.cache_resource.clear()


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def open_page(at: AppTest, page: str) -> AppTest:
    at.run()
    assert not at.exception
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# --- every page --------------------------------------------------------------------


def test_overview_shows_each_phase(app, small_wh):
    at = app(small_wh).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error
    assert [t.value for t in at.title] == ["Backfill progress"]
    m = at.metric
    labels = [x.label for x in m]
    assert labels.count("Work done") == 2
    phase3 = labels.index("Phase 3 · Analytics")
    phase4 = labels.index("Phase 4 · Precompute")
    assert (m[phase3].value, m[phase3].delta) == ("0 / 5", "0.0% complete")
    assert (m[phase4].value, m[phase4].delta) == ("0 / 3", "0.0% complete")
    # work done: Phase 3 (5 + 4 + 5 + 0 + 0) / (5 × 5) = 56 %; Phase 4 (3 + 0 + 1 + 0) / (3 × 4) = 33.3 %
    assert [m[i].value for i in range(len(m)) if m[i].label == "Work done"] == ["56.0%", "33.3%"]
    assert [m[i].value for i in range(len(m)) if m[i].label == "Quality gate"] == ["fail", "fail"]
    # rate: one eligible Phase 3 date (2023-11-01) succeeded in the last hour; team_defense_game_summary has none
    assert [m[i].value for i in range(len(m)) if m[i].label == "Dates/hour (last 60 min)"] == ["1", "0"]
    # ETA: Phase 3 waits on team_defense_game_summary (no rate); Phase 4 on player_shot_zone_analysis (in error)
    assert [m[i].value for i in range(len(m)) if m[i].label == "ETA"] == ["unknown", "unknown"]
    captions = " ".join(c.value for c in at.caption)
    assert "data as of 2025\\-11\\-30 14\\:30\\:00 UTC" not in captions  # dates are ours, not escaped
    assert "data as of 2025-11-30 14:30:00 UTC" in captions
    # the sentence naming the window; table names escaped, so they show literally
    assert ("1 dates\\/hour processed by any table \\(last 60 min\\) · ETA unknown\\: stalled\\: "
            "team\\_defense\\_game\\_summary") in captions
    assert "stalled\\: player\\_shot\\_zone\\_analysis" in captions
    assert "2 bootstrap dates" in captions
    assert [w.value for w in at.warning] == [  # an unreadable table is said first, with its reason
        data.plain("Phase 3: upcoming_player_game_context cannot be read (table not found: "
                   "nba_analytics.upcoming_player_game_context); it counts as 0 dates, so Phase 3's gate fails "
                   "until it can be read"),
        data.plain("Phase 4: player_shot_zone_analysis cannot be read (date column missing: "
                   "nba_precompute.player_shot_zone_analysis has no column analysis_date); it counts as 0 dates, "
                   "so Phase 4's gate fails until it can be read"),
        "Phase 4\\: 3 dates remaining and no successful run for over 1 h \\(never\\)",
        "1 run is still running after 2 h",
    ]
    assert "2 failed runs (last 2 h) · 1 stuck · 3 unresolved" in [c.value for c in at.caption]
    assert [p.label for p in at.get("page_link")] == ["Open Failures"]


def test_sidebar(app, small_wh):
    at = app(small_wh).run()
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == "All"
    assert at.sidebar.selectbox(key=data.SEASON_KEY).options == ["All", "2021-22", "2022-23", "2023-24", "2024-25"]
    assert at.sidebar.selectbox(key="refresh_every").value == "60 s"
    assert at.sidebar.selectbox(key="refresh_every").options == ["Off", "30 s", "60 s", "5 min"]
    side = [c.value for c in at.sidebar.caption]
    assert f"Warehouse: {data.plain(f'duckdb:{small_wh}')}" in side
    assert "Data as of 14:30:00 UTC" in side
    assert "Auto-refresh every 60 s" in side
    assert [b.label for b in at.sidebar.get("download_button")] == ["Download CSV"]


def test_tables_page(app, small_wh):
    at = open_page(app(small_wh), "tables")
    assert not at.error
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == "All"  # the shell ran too (see data.ensure_shell)
    # one table per phase
    assert [h.value for h in at.subheader][:2] == ["Phase 3 · Analytics", "Phase 4 · Precompute"]
    assert [len(at.dataframe[i].value) for i in (0, 1)] == [5, 4]
    frame = pd.concat([at.dataframe[0].value, at.dataframe[1].value]).set_index("table")
    assert frame.loc["player_game_summary", "status"] == "complete"
    assert frame.loc["player_game_summary", "pct"] == 100.0
    tdgs = frame.loc["team_defense_game_summary"]
    assert (tdgs["status"], tdgs["dates"], tdgs["eligible"], tdgs["partial_dates"]) == ("in progress", 4, 5, 1)
    assert frame.loc["upcoming_team_game_context", "status"] == "not started"
    assert frame.loc["upcoming_team_game_context", "dates"] == 0
    # tables in error show their reason and no figures (blank, never 0)
    missing = frame.loc["upcoming_player_game_context"]
    assert missing["status"] == "error"
    assert missing["error"] == "table not found: nba_analytics.upcoming_player_game_context"
    assert pd.isna(missing["dates"]) and pd.isna(missing["pct"])
    undated = frame.loc["player_shot_zone_analysis"]
    assert undated["error"].startswith("date column missing: nba_precompute.player_shot_zone_analysis")
    assert pd.isna(undated["dates"])
    # missing ranges: the first table with a gap, with its commands ready to copy
    picker = at.selectbox(key="missing_table")
    assert picker.value == "team_defense_game_summary"
    assert at.code[0].language == "bash"
    # one command per range, split before its dates with a continuation so it never wraps inside a date
    assert at.code[0].value == ("./bin/run_backfill.sh analytics/team_defense_game_summary \\\n"
                                "    --start-date 2023-11-01 --end-date 2023-11-01")
    picker.set_value("player_daily_cache").run()
    # Phase 4 eligible dates 2021-10-27, 2021-10-28 | 2023-11-01: two ranges, split at the season boundary
    assert at.code[0].value.splitlines() == [
        "./bin/run_backfill.sh precompute/player_daily_cache \\", "    --start-date 2021-10-27 --end-date 2021-10-28",
        "./bin/run_backfill.sh precompute/player_daily_cache \\", "    --start-date 2023-11-01 --end-date 2023-11-01",
    ]
    partial = at.dataframe[-1].value
    assert list(partial[["table", "rows", "expected_rows"]].itertuples(index=False, name=None)) == [
        ("team_defense_game_summary", 1, 2)]


def test_seasons_page(app, small_wh):
    at = open_page(app(small_wh), "seasons")
    frame = at.dataframe[0].value
    assert list(frame.columns) == ["Season", "Expected", "Phase 3", "Phase 4", "Phase 3 %", "Phase 4 %",
                                   "Phase 3 eligible", "Phase 4 eligible"]
    rows = frame.set_index("Season")
    assert rows["Expected"].tolist() == [3, 0, 2, 0]
    assert rows["Phase 3 eligible"].tolist() == [3, 0, 2, 0]
    assert rows["Phase 4 eligible"].tolist() == [2, 0, 1, 0]
    assert rows["Phase 3"].tolist() == [0, 0, 0, 0]  # upcoming_player_game_context is missing


def test_failures_page(app, small_wh):
    at = open_page(app(small_wh), "failures")
    assert not at.error
    assert [s.value for s in at.subheader] == ["Recent failures (last 2 h): 2", "Stuck runs (running for over 2 h): 1",
                                               "Unresolved: 3"]
    failures = at.dataframe[0].value
    assert failures["run_id"].tolist() == ["r3", "r2"]  # newest first; r5 is older than the window
    assert failures["message"].tolist() == ["y" * 199 + "…", XSS]  # truncated to 200 characters
    # the full message on demand, literally (a code block: no markdown, no HTML)
    assert at.code[0].value == LONG
    at.selectbox(key="failure_detail").set_value("r2").run()
    assert at.code[0].value == XSS
    assert at.code[1].value == ("./bin/run_backfill.sh analytics/player_game_summary \\\n"
                                "    --start-date 2021-10-27 --end-date 2021-10-27")
    stuck = at.dataframe[1].value
    assert stuck[["run_id", "hours_running"]].values.tolist() == [["r4", 3.5]]
    assert stuck["command"].iloc[0].startswith("./bin/run_backfill.sh precompute/player_composite_factors")
    # newest failure first; r5 failed before the failure window and was never run again: still unresolved
    unresolved = at.dataframe[2].value
    assert unresolved["data_date"].astype(str).tolist() == ["2023-11-01", "2021-10-27", "2021-10-28"]
    assert unresolved["message"].tolist() == ["y" * 199 + "…", XSS, "before the window"]
    assert at.code[-1].value.count("./bin/run_backfill.sh") == 3


def test_the_full_error_stays_on_its_run_when_newer_failures_arrive(app, small_wh, monkeypatch):
    at = app(small_wh)
    monkeypatch.setenv("BACKFILL_NOW", "2025-11-30T14:05:00Z")  # before r3 started: r2 is the only failure
    at = open_page(at, "failures")
    assert at.selectbox(key="failure_detail").value == "r2" and at.code[0].value == XSS
    monkeypatch.setenv("BACKFILL_NOW", NOW)  # a refresh later r3 failed too and comes first
    st.cache_data.clear()
    at.run()
    assert at.dataframe[0].value["run_id"].tolist() == ["r3", "r2"]
    assert at.selectbox(key="failure_detail").value == "r2" and at.code[0].value == XSS  # still r2's error
    assert at.code[1].value.endswith("--start-date 2021-10-27 --end-date 2021-10-27")
    at.segmented_control(key="failure_window").set_value(30).run()  # r2 leaves the window: the newest is shown
    assert at.selectbox(key="failure_detail").value == "r3" and at.code[0].value == LONG


def test_failure_window_filters_within_the_configured_one(app, small_wh):
    at = open_page(app(small_wh), "failures")
    window = at.segmented_control(key="failure_window")
    assert window.options == ["last 30 min", "last 2 h"]  # nothing beyond the configured 2 h
    window.set_value(30).run()
    assert at.subheader[0].value == "Recent failures (last 30 min): 1"
    assert at.dataframe[0].value["run_id"].tolist() == ["r3"]
    assert at.subheader[-1].value == "Unresolved: 3"  # however long ago: the window is for recent failures
    window.set_value(None).run()  # a click on the chosen segment clears it: the configured window comes back
    assert at.segmented_control(key="failure_window").value == 120
    assert at.subheader[0].value == "Recent failures (last 2 h): 2"


def test_warehouse_text_stays_literal_in_markdown(app, small_wh):
    """Warehouse text that reaches st.markdown-like elements is escaped: it shows literally."""
    assert data.plain(XSS) == r"\<script\>alert\(1\)\<\/script\> \*\*bold\*\* \:red\[x\] \$x\$"
    assert data.plain("a_b\n  c") == r"a\_b c"
    at = open_page(app(small_wh), "failures")
    assert XSS in at.dataframe[0].value["message"].tolist()  # dataframes show raw text
    assert not at.get("html")  # nothing goes through st.html / unsafe_allow_html


def test_text_that_hides_or_reorders_itself_shows_its_escapes(app, tmp_path):
    """A right-to-left override would make `abc<RLO>txt.exe` read `abcexe.txt`; a zero-width space hides."""
    tricky = "abc\u202etxt.exe zero\u200bwidth\nsecond line"
    path = build(tmp_path / "tricky.duckdb", schedule=("nba_raw", "nbac_schedule"), schedule_rows=SCHEDULE, tables={},
                 runs=("nba_reference", "processor_run_history"),
                 run_rows=run("PlayerGameSummaryProcessor", "t1", "2023-11-01", "2025-11-30T14:00:00", "failed",
                              "2025-11-30T14:01:00", errors=[{"error_type": "Type\u2066", "error_message": tricky}]))
    at = open_page(app(path), "failures")
    shown = "abc\\u202etxt.exe zero\\u200bwidth\nsecond line"
    assert at.dataframe[0].value[["error_type", "message"]].values.tolist() == [["Type\\u2066", shown]]
    assert at.code[0].value == shown  # the full error: its line breaks kept
    assert at.dataframe[1].value["error_type"].tolist() == ["Type\\u2066"]  # unresolved too


# --- the season: URL, widget, fallback -------------------------------------------------


def test_season_from_the_url(app, small_wh):
    at = app(small_wh, season="2023-24").run()
    assert not at.exception
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == "2023-24"
    assert at.query_params["season"] == "2023-24"
    m = metrics(at)
    assert m["Phase 3 · Analytics"] == ("0 / 2", "0.0% complete")
    assert m["Phase 4 · Precompute"] == ("0 / 1", "0.0% complete")
    # the season narrows the runs too: only r3 (2023-11-01) is left
    assert "1 failed runs (last 2 h) · 0 stuck · 1 unresolved" in [c.value for c in at.caption]
    at.switch_page("pages/seasons.py").run()  # kept across pages, and in the URL
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == "2023-24"
    assert at.query_params["season"] == "2023-24"
    assert at.dataframe[0].value["Season"].tolist() == ["2023-24"]


def test_choosing_a_season_writes_the_url(app, small_wh):
    at = app(small_wh).run()
    assert "season" not in at.query_params
    at.sidebar.selectbox(key=data.SEASON_KEY).set_value("2021-22").run()
    assert at.query_params["season"] == "2021-22"
    assert metrics(at)["Phase 3 · Analytics"] == ("0 / 3", "0.0% complete")
    at.sidebar.selectbox(key=data.SEASON_KEY).set_value("All").run()
    assert "season" not in at.query_params


def test_unknown_season_falls_back_to_all_with_a_notice(app, small_wh):
    at = app(small_wh, season="1999-00").run()
    assert not at.exception
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == "All"
    assert "season" not in at.query_params
    assert [w.value for w in at.sidebar.warning] == ["Unknown season 1999\\-00: showing all seasons."]
    assert metrics(at)["Phase 3 · Analytics"] == ("0 / 5", "0.0% complete")


@pytest.mark.parametrize("typed, shown", [("all", "All"), ("ALL", "All"), (" 2023-24 ", "2023-24")])
def test_season_in_the_url_as_a_person_types_it(app, small_wh, typed, shown):
    at = app(small_wh, season=typed).run()
    assert not at.exception
    assert at.sidebar.selectbox(key=data.SEASON_KEY).value == shown
    assert not at.sidebar.warning
    assert at.query_params.get("season") == (None if shown == "All" else shown)


# --- refresh, CSV, the guide's figures ---------------------------------------------------


@pytest.mark.parametrize("query, shown, written", [
    ({}, "60 s", None), ({"refresh": "5min"}, "5 min", "5min"), ({"refresh": " OFF "}, "Off", "off"),
    ({"refresh": "30s"}, "30 s", "30s"), ({"refresh": "<b>1</b>"}, "60 s", None),
])
def test_auto_refresh_from_and_to_the_url(app, small_wh, query, shown, written):
    """A wall screen's URL keeps its interval across reloads; an unknown value gives the default."""
    at = app(small_wh, **query).run()
    assert not at.exception
    assert at.sidebar.selectbox(key=data.REFRESH_KEY).value == shown
    assert at.query_params.get("refresh") == written
    at.sidebar.selectbox(key=data.REFRESH_KEY).set_value("5 min").run()
    assert at.query_params["refresh"] == "5min"


def test_refresh_now_is_rate_limited_for_everyone(app, small_wh):
    at = app(small_wh).run()
    at.sidebar.button[0].click().run()
    assert not at.sidebar.info  # the first click refreshed
    at.sidebar.button[0].click().run()
    assert len(at.sidebar.info) == 1
    assert at.sidebar.info[0].value.startswith("Not refreshed: the figures were refreshed for everyone less than 10 s ago")


def test_csv_of_each_page(small_wh):
    from monitor import progress, snapshot
    from monitor.warehouse.duckdb import DuckDBWarehouse

    cfg = config_mod.load()
    snap = snapshot.fetch(cfg, DuckDBWarehouse(small_wh), now=dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC))
    fig = progress.compute(snap, cfg, "2023-24")
    assert data.csv_name("tables", fig) == "backfill_tables_2023-24_20251130_143000.csv"
    overview = data.page_frame("overview", fig)
    assert overview[["phase", "complete_dates", "eligible_dates", "dates_per_hour"]].values.tolist() == [
        ["Phase 3", 0, 2, 1.0], ["Phase 4", 0, 1, 0.0]]
    assert data.page_frame("tables", fig) is fig.tables
    assert data.page_frame("seasons", fig) is fig.seasons
    # what the Failures page shows: its recent failures (2023-24: r3), stuck runs (none) and unresolved dates (r3's)
    failures = data.page_frame("failures", fig)
    assert failures[["section", "run_id", "data_date"]].fillna("").astype(str).values.tolist() == [
        ["recent failure", "r3", "2023-11-01"], ["unresolved", "", "2023-11-01"]]
    assert failures.loc[1, "command"] == ("./bin/run_backfill.sh analytics/team_defense_game_summary "
                                          "--start-date 2023-11-01 --end-date 2023-11-01")
    text = data.csv_bytes(failures).decode()
    assert text.splitlines()[0].split(",")[:4] == ["section", "processor_name", "table", "data_date"]
    # 2024-25 has no failures, stuck runs or unresolved dates: the same columns, no rows
    empty = data.page_frame("failures", progress.compute(snap, cfg, "2024-25"))
    assert empty.empty and list(empty.columns) == list(failures.columns)
    # the page's window: r3 started 20 min before the clock; none given: the configured 2 h
    assert data.page_frame("failures", progress.compute(snap, cfg), 30)["section"].tolist() == [
        "recent failure", "stuck", "unresolved", "unresolved", "unresolved"]
    assert data.page_frame("failures", progress.compute(snap, cfg))["section"].tolist() == [
        "recent failure", "recent failure", "stuck", "unresolved", "unresolved", "unresolved"]


def test_the_guides_complete_state(app, complete_wh):
    """The usage guide's example session: 675/675 and 647/647, seasons 215/214/209/37 and 208/207/202/30."""
    at = app(complete_wh).run()
    assert not at.exception, [e.value for e in at.exception]
    m = metrics(at)
    assert m["Phase 3 · Analytics"] == ("675 / 675", "100.0% complete")
    assert m["Phase 4 · Precompute"] == ("647 / 647", "100.0% complete")
    assert [x.value for x in at.metric if x.label == "Quality gate"] == ["pass", "pass"]
    assert [x.value for x in at.metric if x.label == "ETA"] == ["complete", "complete"]
    at.switch_page("pages/seasons.py").run()
    rows = at.dataframe[0].value.set_index("Season")
    assert rows["Expected"].tolist() == [215, 214, 209, 37]
    assert rows["Phase 3"].tolist() == [215, 214, 209, 37]
    assert rows["Phase 4"].tolist() == [208, 207, 202, 30]
    assert rows["Phase 3 %"].tolist() == [100.0] * 4


# --- what cannot load ---------------------------------------------------------------------


def test_missing_warehouse_file_is_one_clear_line(app, tmp_path):
    at = app(tmp_path / "nope.duckdb").run()
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("The warehouse cannot be opened: DuckDB file not found")
    assert "BACKFILL\\_WAREHOUSE" not in message and "Check --warehouse, BACKFILL_WAREHOUSE" in message
    assert not at.metric  # stopped: no page


def test_unknown_warehouse_url(app):
    at = app("ftp://somewhere").run()
    assert not at.exception
    assert [e.value for e in at.error][0].startswith("The warehouse cannot be opened: unknown warehouse")


def test_bad_config_is_one_clear_line(app, small_wh, tmp_path, monkeypatch):
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline]\nstart = 2024-01-01\n", encoding="utf-8")
    monkeypatch.setenv("BACKFILL_CONFIG", str(bad))
    at = app(small_wh).run()
    assert not at.exception
    assert len(at.error) == 1
    assert at.error[0].value.startswith("The pipeline config cannot be used: ")
    assert "bad\\.toml\\: pipeline\\.end\\: missing. Check the file named by --config or BACKFILL_CONFIG" in at.error[0].value


def test_the_terminals_flags_after_a_double_dash(app, small_wh, tmp_path, monkeypatch):
    """`streamlit run app.py -- --warehouse URL --config PATH`: the flags win over the environment."""
    at = app(tmp_path / "not-this-one.duckdb")
    monkeypatch.setattr(sys, "argv", [APP, f"--warehouse=duckdb:{small_wh}", "--config", str(config_mod.DEFAULT_CONFIG)])
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert metrics(at)["Phase 3 · Analytics"] == ("0 / 5", "0.0% complete")
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline]\n", encoding="utf-8")
    for argv, reason in (([f"--config={bad}"], "The pipeline config cannot be used: "),
                         (["--colour", "red"], "A setting cannot be used: unknown argument \\'\\-\\-colour\\'"),
                         (["--warehouse"], "A setting cannot be used: \\-\\-warehouse needs a value")):
        st.cache_resource.clear()
        monkeypatch.setattr(sys, "argv", [APP, *argv])
        at = app(small_wh).run()
        assert not at.exception
        assert len(at.error) == 1 and at.error[0].value.startswith(reason), at.error[0].value


def test_failed_section_is_shown_as_an_error_not_zeros(app, tmp_path):
    """No run history table: rates, failures and stuck runs say so instead of showing 0."""
    path = build(tmp_path / "noruns.duckdb", schedule=("nba_raw", "nbac_schedule"), schedule_rows=SCHEDULE,
                 tables=TABLES, runs=None, run_rows=[])
    at = app(path).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors[0].startswith("The runs query failed: ") and "processor\\_run\\_history" in errors[0]
    assert any(e.startswith("Recent failures unknown") for e in errors)
    assert [x.value for x in at.metric if x.label.startswith("Dates/hour")] == ["unknown", "unknown"]
    at.switch_page("pages/failures.py").run()
    assert [e.value for e in at.error][-1].startswith("The run history could not be read: ")
    assert not at.dataframe


def test_a_page_never_runs_without_the_shell(app, small_wh):
    """AppTest starts each run in Streamlit's old pages/-folder mode, as a fresh server does for /tables:
    the page reruns through app.py, so the sidebar and the page config are always there."""
    at = app(small_wh).run()
    for page in ("tables", "seasons", "failures", "overview"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception
        assert [b.label for b in at.sidebar.button] == ["Refresh now"]
        assert len(at.title) == 1


def test_finished_demo_offers_a_restart(app, tmp_path, monkeypatch):
    from monitor import demo

    path = tmp_path / "demo.duckdb"
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(path))
    demo.ensure(path, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=60))  # it finished long ago
    at = app("demo")
    monkeypatch.setenv("BACKFILL_NOW", (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat())
    at.run()  # a pinned clock: no restart from here, it would move the demo's start for every real-clock reader
    assert [i.value for i in at.info] == [
        "The demo backfill has finished at this clock (pinned by BACKFILL_NOW): every figure is final."]
    assert not [b for b in at.button if b.label == "Start the demo again"]
    monkeypatch.delenv("BACKFILL_NOW")  # the real clock
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == ["The demo backfill has finished: every figure is final now."]
    assert [c.value for c in at.sidebar.caption][0] == "Warehouse: demo"
    next(b for b in at.button if b.label == "Start the demo again").click().run()
    assert not at.exception
    assert not at.info
    assert "Phase 3 · Analytics" in metrics(at)
    # six demo hours in, Phase 3 is moving: its ETA names the table it waits on
    sentence = next(c.value for c in at.caption if "processed by any table" in c.value)
    assert "ETA" in sentence and "at the pace of its slowest table" in sentence, sentence


# --- faults ---------------------------------------------------------------------


def test_warehouse_failing_mid_session_keeps_the_last_figures_with_a_stale_badge_then_recovers(app, small_wh, tmp_path):
    import shutil

    live = tmp_path / "live.duckdb"
    shutil.copy(small_wh, live)
    at = app(live).run()
    assert not at.exception and not at.warning or all("stale" not in w.value for w in at.warning)
    before = metrics(at)["Phase 3 · Analytics"]

    live.rename(tmp_path / "away.duckdb")  # the warehouse goes away
    st.cache_data.clear()  # the cache expires
    at.run()
    assert not at.exception
    badges = [w.value for w in at.warning if "stale since" in w.value]
    assert len(badges) == 1 and "14\\:30 UTC" in badges[0] and "DuckDB file is gone" in badges[0]
    assert metrics(at)["Phase 3 · Analytics"] == before  # nothing already shown is lost

    (tmp_path / "away.duckdb").rename(live)  # it comes back
    st.cache_data.clear()
    at.run()
    assert not at.exception
    assert not [w.value for w in at.warning if "stale since" in w.value]
    assert metrics(at)["Phase 3 · Analytics"] == before


def test_demo_file_removed_mid_session_is_rebuilt_without_an_error_on_any_page(app, tmp_path, monkeypatch):
    """The rebuild runs inside the cached refresh (in worker threads): it must draw nothing there, or every later
    run of the cached function would fail to replay it."""
    path = tmp_path / "demo.duckdb"
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(path))
    monkeypatch.setenv("BACKFILL_NOW", dt.datetime.now(dt.UTC).isoformat())
    at = app("demo").run()
    assert not at.exception, [e.value for e in at.exception]
    before = metrics(at)["Phase 3 · Analytics"]
    path.unlink()
    st.cache_data.clear()  # the cache expires
    for page in ("overview", "tables", "seasons", "failures", "overview"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error and not [w.value for w in at.warning if "stale" in w.value]
    assert path.is_file()
    assert metrics(at)["Phase 3 · Analytics"] == before  # the same timeline: it carries on where it was


@pytest.mark.parametrize("variable, value, reason", [
    ("BACKFILL_NOW", "garbage", "BACKFILL_NOW='garbage' is not an ISO-8601 time"),
    ("BACKFILL_DEMO_SPEED", "fast", "BACKFILL_DEMO_SPEED must be a positive number, got 'fast'"),
])
def test_a_bad_setting_is_one_clear_line(app, tmp_path, monkeypatch, variable, value, reason):
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(tmp_path / "demo.duckdb"))
    at = app("demo")
    monkeypatch.setenv(variable, value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and data.plain(reason) in at.error[0].value, [e.value for e in at.error]
    assert not at.metric


def test_a_users_file_at_the_demo_path_is_refused_and_kept(app, tmp_path, monkeypatch):
    mine = tmp_path / "mine.txt"
    mine.write_text("my notes")
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(mine))
    at = app("demo").run()
    assert not at.exception
    assert len(at.error) == 1 and "is not a DuckDB database" in at.error[0].value
    assert at.error[0].value.endswith("Check BACKFILL_DEMO_PATH and BACKFILL_DEMO_SPEED (the demo warehouse).")
    assert mine.read_text() == "my notes"


def test_footer_shows_the_cost_of_the_refresh(app, small_wh):
    at = app(small_wh).run()
    assert any("Last refresh: 3 queries" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("query", [
    {"season": "<script>alert(1)</script>"},
    {"season": "2023-24'; DROP TABLE x; --", "foo": "bar"},
    {"season": "", "refresh_every": "1", "page": "../../etc/passwd"},
    {"season": "**bold** :red[x]", "season2": "2023-24"},
    {"season": "9" * 5000},
])
def test_odd_query_strings_change_nothing_else(app, small_wh, query):
    base = app(small_wh).run()
    at = app(small_wh, **query).run()
    assert not at.exception
    assert metrics(at) == metrics(base)  # all seasons, the same figures
    assert at.sidebar.selectbox[0].value == "All"
    notices = [w.value for w in at.sidebar.warning]
    if query["season"]:
        # escaped, so it shows literally; a long one cut short
        assert notices == [f"Unknown season {data.plain(data.clip(query['season'], 40))}: showing all seasons."]
