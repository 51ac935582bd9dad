"""The demo warehouse and the static fixtures, checked against figures worked out by hand.

The usage guide's window is 2021-10-01..2024-11-29 with four seasons:
- Final game dates: 2021-22 runs 2021-10-19..2022-04-10 (174 days, minus Thanksgiving,
  Christmas Eve and the 6-day All-Star break = 166) plus 49 play-in/playoff dates = 215;
  2022-23: 166 + 48 = 214; 2023-24: 166 + 43 = 209; 2024-25: 2024-10-22..11-29 (39 days,
  minus Election Day and Thanksgiving) = 37. In all 675.
- Bootstrap (Phase 4, N = 7): the opener and the 6 days after, every one a game day:
  4 x 7 = 28 dates, so 647 eligible: 208 / 207 / 202 / 30.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import os
import re
import time

import duckdb
import pandas as pd
import pytest

from monitor import config, demo, fixtures

NOW = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)
EXPECTED = {"2021-22": 215, "2022-23": 214, "2023-24": 209, "2024-25": 37}
ELIGIBLE = {"2021-22": 208, "2022-23": 207, "2023-24": 202, "2024-25": 30}
OPENERS = {"2021-22": "2021-10-19", "2022-23": "2022-10-18", "2023-24": "2023-10-24", "2024-25": "2024-10-22"}
REGULAR_ENDS = {"2021-22": "2022-04-10", "2022-23": "2023-04-09", "2023-24": "2024-04-14"}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture(scope="module")
def nba() -> config.Config:
    return config.load(config.DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def schedule(nba) -> pd.DataFrame:
    return fixtures.schedule_frame(nba)


@pytest.fixture(scope="module")
def expected(nba, schedule) -> list[dt.date]:
    return demo.expected_dates(nba, schedule)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """A demo built once, with HOME, XDG_CACHE_HOME and the cwd pointed at empty
    directories so that stray writes would show."""
    root = tmp_path_factory.mktemp("demo")
    home, cwd = root / "home", root / "cwd"
    home.mkdir()
    cwd.mkdir()
    path = root / "data" / "demo.duckdb"
    messages = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        mp.setenv(demo.DEMO_PATH_ENV, str(path))
        mp.delenv(demo.SPEED_ENV, raising=False)
        mp.chdir(cwd)
        started = time.perf_counter()
        built = demo.ensure(now=NOW, progress=lambda f, m: messages.append((f, m)), config=config.load())
        seconds = time.perf_counter() - started
    print(f"\ndemo build: {seconds:.2f} s, {path.stat().st_size / 1e6:.1f} MB")
    return {"path": built, "root": root, "home": home, "cwd": cwd, "messages": messages}


@pytest.fixture()
def con(sandbox):
    with duckdb.connect(str(sandbox["path"]), read_only=True) as connection:
        yield connection


def at(con, elapsed_s: float, speed: float = 1.0) -> None:
    """Set the connection's clock to `elapsed_s` demo seconds after t0."""
    t0 = demo.read_meta(con).t0
    demo.set_clock(con, t0 + dt.timedelta(seconds=elapsed_s / speed), speed)


def dates(con, table: config.Table) -> set[dt.date]:
    rows = con.execute(f"SELECT DISTINCT {table.date_column} FROM {table.key}").fetchall()  # noqa: S608
    return {r[0] for r in rows if r[0] is not None}


def history(con) -> pd.DataFrame:
    return con.sql("SELECT * FROM nba_reference.processor_run_history").df()


def cleanup_rows(runs: pd.DataFrame) -> pd.Series:
    return runs["errors"].fillna("").str.contains("stale_running_cleanup")


def per_season(nba, days) -> dict[str, int]:
    return {s.name: sum(1 for x in days if s.contains(x)) for s in nba.seasons}


# --- schedule ------------------------------------------------------------------------------


def test_final_dates_per_season(nba, expected):
    assert len(expected) == 675
    assert per_season(nba, expected) == EXPECTED


def test_bootstrap_and_eligible_dates(nba, expected):
    phase4 = nba.phases[1]
    bootstrap = [x for x in expected if demo.is_bootstrap(nba, phase4, x)]
    assert len(bootstrap) == 28
    assert bootstrap[:7] == [d("2021-10-19") + dt.timedelta(days=i) for i in range(7)]
    assert bootstrap[-1] == d("2024-10-28")
    eligible = demo.eligible_dates(nba, phase4, expected)
    assert len(eligible) == 647
    assert per_season(nba, eligible) == ELIGIBLE
    assert demo.eligible_dates(nba, nba.phases[0], expected) == expected  # Phase 3: bootstrap_days = 0


def test_season_calendar_shape(nba, expected):
    for name, opener in OPENERS.items():
        season_days = [x for x in expected if nba.season(name).contains(x)]
        assert season_days[0] == d(opener)
        assert season_days[:7] == [d(opener) + dt.timedelta(days=i) for i in range(7)]
    for name, end in REGULAR_ENDS.items():
        assert d(end) in expected
        assert max(x for x in expected if nba.season(name).contains(x)) <= d(f"{end[:4]}-06-20")
    for off_day in ("2021-11-25", "2021-12-24", "2022-02-20", "2023-11-23", "2024-11-05", "2024-11-28"):
        assert d(off_day) not in expected
    assert expected[-1] == d("2024-11-29")


def test_schedule_rows_look_real(schedule):
    assert list(schedule.columns) == list(demo.SCHEDULE_COLUMNS)
    assert schedule["game_id"].str.fullmatch(r"00[245]\d{7}").all()
    assert schedule["game_code"].str.fullmatch(r"\d{8}/[A-Z]{6}").all()
    codes = (
        schedule["game_date"].dt.strftime("%Y%m%d")
        + "/"
        + schedule["away_team_tricode"]
        + schedule["home_team_tricode"]
    )
    assert (codes == schedule["game_code"]).all()
    assert set(schedule["home_team_tricode"]) | set(schedule["away_team_tricode"]) == set(demo.TEAMS)
    first = schedule.iloc[0]
    assert (first["game_id"], first["season"], first["season_nba_format"], first["season_year"]) == (
        "0022100001", "2021", "2021-22", 2021,
    )  # fmt: skip
    jan = schedule[schedule["game_date"] == pd.Timestamp("2022-01-15")].iloc[0]
    assert (jan["season"], jan["season_nba_format"], jan["season_year"]) == ("2021", "2021-22", 2021)
    assert set(schedule["game_status_text"]) == {"Final", "Scheduled"}
    assert set(schedule["data_source"]) == {"api_stats", "cdn_static"}


def test_games_per_date(schedule):
    final = schedule[schedule["game_status"] == 3].drop_duplicates("game_id")
    per_date = final.groupby(["game_date", "is_playoffs", "is_regular_season"]).size().reset_index(name="games")
    regular = per_date[per_date["is_regular_season"]]
    playoffs = per_date[per_date["is_playoffs"]]
    assert regular["games"].between(1, 15).all() and regular["games"].max() == 15
    assert playoffs["games"].between(1, 4).all()
    assert not (per_date["is_regular_season"] & per_date["is_playoffs"]).any()


def test_schedule_quirks(nba, schedule, expected):
    dup = schedule.groupby("game_id")["data_source"].agg(["size", "nunique"])
    assert ((dup["size"] == 2) & (dup["nunique"] == 2)).sum() > 50  # the same game from both sources
    not_final = schedule[schedule["game_status"] == 1]
    postponed_days = set(not_final.loc[not_final["game_date"] <= pd.Timestamp(nba.end), "game_date"].dt.date)
    assert d("2021-11-25") in postponed_days and d("2021-11-25") not in expected  # no Final game that day
    after = not_final[not_final["game_date"] > pd.Timestamp(nba.end)]
    assert after["game_date"].min() == pd.Timestamp("2024-11-30")
    assert after["game_date"].max() == pd.Timestamp("2024-12-05")
    assert (schedule["game_date"] > pd.Timestamp(nba.end)).sum() == len(after)  # nothing Final after the window


def test_schedule_is_deterministic(nba, schedule):
    pd.testing.assert_frame_equal(fixtures.schedule_frame(nba, seed=7), schedule)
    other = fixtures.schedule_frame(nba, seed=8)
    assert not other.equals(schedule)
    assert demo.expected_dates(nba, other) == demo.expected_dates(nba, schedule)  # the calendar is fixed


def test_timeline_is_deterministic(nba, schedule):
    def timeline():
        return demo.plan(nba, schedule, demo.demo_jobs(nba, schedule, seed=7), seed=7, mishaps=demo.Mishaps())

    first, second = timeline(), timeline()
    assert first.finish_offset_s == second.finish_offset_s
    pd.testing.assert_frame_equal(first.runs, second.runs)
    for key, rows in first.tables.items():
        pd.testing.assert_frame_equal(rows, second.tables[key])


# --- clock and settings --------------------------------------------------------------------


def test_clock_variables():
    t0 = dt.datetime(2025, 11, 30, 8, 30, tzinfo=dt.UTC)
    got = demo.clock_variables(t0, dt.datetime(2025, 11, 30, 8, 31, tzinfo=dt.UTC), 600)
    assert got == {"demo_t0": t0, "demo_elapsed": 36_000.0, "demo_speed": 600.0}


def test_speed_from_env(monkeypatch):
    monkeypatch.delenv(demo.SPEED_ENV, raising=False)
    assert demo.speed() == 1.0
    monkeypatch.setenv(demo.SPEED_ENV, "600")
    assert demo.speed() == 600.0
    for bad in ("0", "-2", "fast", "nan", "inf"):
        monkeypatch.setenv(demo.SPEED_ENV, bad)
        with pytest.raises(ValueError, match=demo.SPEED_ENV) as info:
            demo.speed()
        assert "\n" not in str(info.value)


def test_demo_path(monkeypatch, tmp_path):
    monkeypatch.setenv(demo.DEMO_PATH_ENV, str(tmp_path / "x.duckdb"))
    assert demo.demo_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv(demo.DEMO_PATH_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert demo.demo_path() == tmp_path / "cache" / "backfill-monitor" / "demo.duckdb"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.demo_path() == tmp_path / "home" / ".cache" / "backfill-monitor" / "demo.duckdb"


# --- the demo file -------------------------------------------------------------------------


def test_build_reports_progress_and_writes_only_its_files(sandbox):
    fractions = [f for f, _ in sandbox["messages"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 3
    assert sorted(p.name for p in (sandbox["root"] / "data").iterdir()) == ["demo.duckdb", "demo.duckdb.lock"]
    assert list(sandbox["home"].iterdir()) == [] and list(sandbox["cwd"].iterdir()) == []


def test_meta_and_head_start(con, sandbox):
    meta = demo.read_meta(con)
    assert meta.t0 == NOW - dt.timedelta(hours=demo.HEAD_START_HOURS)
    assert meta.seed == 7
    assert 30 * 3600 <= meta.finish_offset_s <= 40 * 3600
    state = demo.status(con, NOW, 1.0)
    assert state.elapsed_s == 6 * 3600 and not state.finished
    assert state.finishes_at == meta.t0 + dt.timedelta(seconds=meta.finish_offset_s)
    assert demo.status(con, state.finishes_at, 1.0).finished


def column_types(con, key: str) -> dict[str, str]:
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE {key}").fetchall()}


def test_views_have_the_real_types(con, nba):
    def types(key):  # DuckDB spells TIMESTAMPTZ out
        return {c: t.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ") for c, t in column_types(con, key).items()}

    assert types(nba.schedule.key) == demo.SCHEDULE_COLUMNS
    assert types(nba.runs.key) == demo.RUN_HISTORY_COLUMNS
    for table in nba.tables:
        assert types(table.key) == demo.table_columns(table)
    composite = types("nba_precompute.player_composite_factors")
    assert composite["game_date"] == "DATE" and composite["analysis_date"] == "DATE"
    kinds = dict(
        con.execute("SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables").fetchall()
    )
    assert kinds["nba_raw.nbac_schedule"] == "BASE TABLE"
    assert {kinds[t.key] for t in nba.tables} | {kinds[nba.runs.key]} == {"VIEW"}


def test_nothing_visible_at_t0(con, nba):
    at(con, 0)
    for table in nba.tables:
        assert dates(con, table) == set()
    assert history(con).empty
    assert con.execute(
        "SELECT count(DISTINCT game_date) FROM nba_raw.nbac_schedule WHERE game_status = 3"
    ).fetchall() == [(675,)]


def test_unset_clock_shows_nothing(con, nba):
    assert dates(con, nba.tables[0]) == set()


def test_phase3_moves_with_the_clock(con, nba, expected):
    phase3, phase4 = nba.phases
    seen = []
    for hours in (0.5, 1, 3, 6):
        at(con, hours * 3600)
        counts = [len(dates(con, t)) for t in phase3.tables]
        assert all(0 < c < len(expected) for c in counts), (hours, counts)
        assert all(not dates(con, t) for t in phase4.tables)
        seen.append((counts, len(history(con))))
    for (before, runs_before), (after, runs_after) in zip(seen, seen[1:], strict=False):
        assert all(a >= b for a, b in zip(after, before, strict=True)) and runs_after > runs_before
    print(
        "\nPhase 3 dates after the 6 h head start:",
        dict(zip([t.name for t in phase3.tables], seen[-1][0], strict=True)),
    )
    rate = [c / 6 for c in seen[-1][0]]
    assert all(45 <= r <= 115 for r in rate)


def test_everything_loaded_at_the_finish(con, nba, expected):
    finish = demo.read_meta(con).finish_offset_s
    at(con, finish)
    phase3, phase4 = nba.phases
    eligible = set(demo.eligible_dates(nba, phase4, expected))
    for table in phase3.tables:
        assert set(expected) <= dates(con, table), table.name
    for table in phase4.tables:
        assert dates(con, table) == eligible, table.name
    at(con, finish - 3600)
    assert len(dates(con, phase4.tables[-1])) < len(eligible)


def test_phase4_waits_for_phase3_and_stages_run_in_order(con, nba):
    at(con, 1e9)
    runs = history(con)
    runs = runs[~cleanup_rows(runs)]
    ends = runs[runs["status"] != "running"].groupby("output_table")["processed_at"].max()
    starts = runs.groupby("output_table")["started_at"].min()
    phase3, phase4 = nba.phases
    assert max(ends[t.name] for t in phase3.tables) < min(starts[t.name] for t in phase4.tables)
    for earlier, later in zip(phase4.stages, phase4.stages[1:], strict=False):
        assert max(ends[t.name] for t in earlier) < min(starts[t.name] for t in later)
    assert set(runs["phase"]) == {"phase_3_analytics", "phase_4_precompute"}
    assert runs["backfill_mode"].all()


def test_run_rows_come_in_pairs(con, nba):
    at(con, 1e9)
    runs = history(con)
    assert runs["run_id"].nunique() > 5000
    per_run = runs.groupby("run_id")
    assert (per_run["status"].apply(lambda s: (s == "running").sum()) == 1).all()
    for column in ("started_at", "processor_name", "data_date", "output_table", "phase"):
        assert (per_run[column].nunique() == 1).all(), column
    real = runs[~cleanup_rows(runs)]
    assert (real.groupby("run_id").size() <= 2).all()  # running + at most one final row
    running = runs[runs["status"] == "running"]
    assert running[["processed_at", "duration_seconds", "errors"]].isna().all().all()
    final = runs[runs["status"] != "running"]
    assert (final["processed_at"] >= final["started_at"]).all()
    seconds = (final["processed_at"] - final["started_at"]).dt.total_seconds()
    assert (seconds - final["duration_seconds"]).abs().max() < 1e-3
    processors = {t.processor: t for t in nba.tables}
    assert set(runs["processor_name"]) == set(processors)
    assert all(processors[p].name == o for p, o in set(zip(runs["processor_name"], runs["output_table"], strict=True)))


def test_failures_cleanups_and_stuck_runs(con):
    at(con, 1e9)
    runs = history(con)
    cleanup = runs[cleanup_rows(runs)]
    for row in cleanup.itertuples():
        errors = json.loads(row.errors)
        assert errors["cleanup_reason"] == "stale_running_cleanup" and errors["message"]
        assert errors["hours_stuck"] == pytest.approx(
            (row.processed_at - row.started_at).total_seconds() / 3600, abs=0.01
        )
        assert 4 <= errors["hours_stuck"] <= 4.26
    real = runs[(runs["status"] == "failed") & ~cleanup_rows(runs)]
    assert 0.01 <= real["run_id"].nunique() / runs["run_id"].nunique() <= 0.03
    for row in real.itertuples():
        [error] = json.loads(row.errors)
        assert set(error) == {"error_type", "error_message", "timestamp"}
        assert dt.datetime.fromisoformat(error["timestamp"]) == row.processed_at
    assert set(real["failure_category"]) <= {
        "no_data_available",
        "upstream_failure",
        "processing_error",
        "timeout",
        "unknown",
    }
    statuses = runs.groupby("run_id")["status"].apply(frozenset)
    stuck = statuses[statuses == frozenset({"running", "failed"})].index
    stuck = stuck[~stuck.isin(real["run_id"])]
    assert 10 <= len(stuck) <= 20  # about one every 2 h of a ~32 h backfill
    # every failed or stuck (processor, date) succeeds later
    succeeded = runs[runs["status"].isin(["success", "partial"])]
    last_success = succeeded.groupby(["processor_name", "data_date"])["started_at"].max()
    bad = runs[runs["run_id"].isin(set(stuck) | set(real["run_id"]))]
    for row in bad.drop_duplicates("run_id").itertuples():
        assert last_success[(row.processor_name, row.data_date)] > row.started_at


def test_bootstrap_runs_are_skipped(con, nba, expected):
    at(con, 1e9)
    runs = history(con)
    phase4 = nba.phases[1]
    bootstrap = {x for x in expected if demo.is_bootstrap(nba, phase4, x)}
    p4 = runs[(runs["phase"] == "phase_4_precompute") & (runs["status"] != "running") & ~cleanup_rows(runs)]
    on_bootstrap = p4[p4["data_date"].dt.date.isin(bootstrap)]
    assert set(on_bootstrap["status"]) == {"skipped"}
    assert on_bootstrap["skipped"].all() and (on_bootstrap["records_processed"] == 0).all()
    assert len(on_bootstrap) == 28 * len(phase4.tables)


def test_partial_and_extra_dates(con, nba, schedule, expected):
    at(con, 1e9)
    games = schedule[schedule["game_status"] == 3].groupby(schedule["game_date"].dt.date)["game_id"].nunique()
    partial = {}
    for table in nba.tables:
        if table.min_rows_per_game:
            rows = con.execute(f"SELECT {table.date_column}, count(*) FROM {table.key} GROUP BY 1").fetchall()  # noqa: S608
            partial[table.name] = sorted(
                x for x, n in rows if x in games.index and n < table.min_rows_per_game * games[x]
            )
    assert len(partial["team_defense_game_summary"]) == 2 and len(partial["team_offense_game_summary"]) == 2
    assert partial["upcoming_team_game_context"] == []
    upcoming = next(t for t in nba.tables if t.name == "upcoming_player_game_context")
    extra = dates(con, upcoming) - set(expected)
    assert d("2021-11-25") in extra  # a postponed game's day, inside the window
    assert d("2024-11-30") in extra  # the day after the window
    logged = history(con)
    assert (logged["status"] == "partial").sum() == 2


def test_records_processed_match_rows(con, nba):
    at(con, 1e9)
    runs = history(con)
    done = runs[runs["status"].isin(["success", "partial"])]
    table = nba.tables[0]
    rows = dict(con.execute(f"SELECT {table.date_column}, count(*) FROM {table.key} GROUP BY 1").fetchall())  # noqa: S608
    mine = done[done["output_table"] == table.name]
    assert {x.date(): n for x, n in zip(mine["data_date"], mine["records_processed"], strict=True)} == rows


def test_speed_compresses_the_timestamps(con):
    speed = 3600.0
    at(con, 10 * 3600, speed)  # 10 demo hours = 10 wall-clock seconds
    t0 = demo.read_meta(con).t0
    view = history(con)
    base = con.sql(
        "SELECT run_id, _started FROM _demo.nba_reference__processor_run_history WHERE status = 'running'"
    ).df()
    merged = view[view["status"] == "running"].merge(base, on="run_id")
    assert len(merged) == (view["status"] == "running").sum() > 0
    expected_start = [t0 + dt.timedelta(seconds=s / speed) for s in merged["_started"]]
    assert (merged["started_at"] - pd.Series(expected_start)).abs().max() < pd.Timedelta(milliseconds=1)
    assert view["started_at"].max() <= t0 + dt.timedelta(seconds=10)


def test_two_read_only_connections_with_their_own_clocks(sandbox, nba):
    table = nba.tables[0]
    with (
        duckdb.connect(str(sandbox["path"]), read_only=True) as a,
        duckdb.connect(str(sandbox["path"]), read_only=True) as b,
    ):
        t0 = demo.read_meta(a).t0
        demo.set_clock(a, t0 + dt.timedelta(hours=1), 1.0)
        demo.set_clock(b, t0 + dt.timedelta(hours=5), 1.0)
        early, late = len(dates(a, table)), len(dates(b, table))
        assert 0 < early < late
        cursor = a.cursor()  # a cursor does not inherit its connection's variables
        assert dates(cursor, table) == set()
        demo.set_clock(cursor, t0 + dt.timedelta(hours=5), 1.0)
        assert len(dates(cursor, table)) == late


def test_ensure_is_idempotent(sandbox, monkeypatch):
    path = sandbox["path"]
    before = path.stat()
    messages = []
    monkeypatch.setenv(demo.DEMO_PATH_ENV, str(path))
    assert demo.ensure(now=NOW + dt.timedelta(days=3), progress=lambda f, m: messages.append(f)) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert messages == []  # nothing built, nothing reported (no "Building the demo warehouse" on every start)


def test_concurrent_ensure_builds_once_then_restart_moves_t0(tmp_path, nba):
    path = tmp_path / "demo.duckdb"
    builds = []

    def build(_):
        return demo.ensure(path, now=NOW, config=nba, progress=lambda f, m: builds.append(m) if f == 0.05 else None)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert list(pool.map(build, range(2))) == [path, path]
    assert len(builds) == 1
    with duckdb.connect(str(path), read_only=True) as old:
        inode = path.stat().st_ino
        later = NOW + dt.timedelta(days=1)
        demo.restart(path, now=later, config=nba)
        assert path.stat().st_ino != inode
        assert demo.read_meta(old).t0 == NOW - dt.timedelta(hours=6)  # an open connection keeps the old file
    with duckdb.connect(str(path), read_only=True) as new:
        assert demo.read_meta(new).t0 == later - dt.timedelta(hours=6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb", "demo.duckdb.lock"]


def test_ensure_never_overwrites_a_users_file(tmp_path, nba):
    """$BACKFILL_DEMO_PATH naming someone's database (or any file that is not a demo) is refused, untouched."""
    mine = tmp_path / "mine.duckdb"
    with duckdb.connect(str(mine)) as con:
        con.execute("CREATE TABLE important AS SELECT 42 AS answer")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    for path, reason in ((mine, "exists and is not a demo warehouse: the demo never overwrites it"),
                         (notes, "is not a DuckDB database .*: the demo never overwrites it; if it is a damaged demo, "
                                 "remove it")):
        before = path.read_bytes()
        with pytest.raises(ValueError, match=f"{path} {reason}"):
            demo.ensure(path, now=NOW, config=nba)
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.duckdb", "notes.txt"]  # not even a lock file
    with pytest.raises(ValueError, match="must name a file"):
        demo.ensure(tmp_path, now=NOW, config=nba)


def test_ensure_replaces_what_is_not_a_demo_in_its_own_folder_or_when_repairing(tmp_path, nba, monkeypatch):
    monkeypatch.setenv(demo.SPEED_ENV, "3600")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    own = demo.default_demo_path()
    own.parent.mkdir(parents=True)
    own.write_text("not a database")
    demo.ensure(own, now=NOW, config=nba)
    with duckdb.connect(str(own), read_only=True) as fresh:
        assert demo.read_meta(fresh).t0 == NOW - dt.timedelta(seconds=6 * 3600 / 3600)
        assert demo.status(fresh, NOW, 3600).elapsed_s == pytest.approx(6 * 3600)
    damaged = tmp_path / "elsewhere.duckdb"
    damaged.write_text("a demo file that a bad copy damaged")
    demo.ensure(damaged, now=NOW, config=nba, repair=True)
    with duckdb.connect(str(damaged), read_only=True) as fresh:
        assert demo.read_meta(fresh).seed == 7


# --- static fixtures -----------------------------------------------------------------------


def open_state(tmp_path, nba, state):
    path = fixtures.guide_state(tmp_path / f"{state}.duckdb", nba, state, NOW)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{state}.duckdb"]
    return duckdb.connect(str(path), read_only=True)


def test_guide_state_complete(tmp_path, nba, expected):
    with open_state(tmp_path, nba, "complete") as con:
        phase3, phase4 = nba.phases
        eligible = set(demo.eligible_dates(nba, phase4, expected))
        for table in phase3.tables:
            assert dates(con, table) == set(expected)
        for table in phase4.tables:
            assert dates(con, table) == eligible
        runs = history(con)
        assert set(runs.loc[~cleanup_rows(runs), "status"]) == {"running", "success"}
        assert runs["run_id"].nunique() == 5 * 675 + 4 * 647
        assert runs["processed_at"].max() <= NOW and runs.loc[
            ~cleanup_rows(runs), "processed_at"
        ].max() <= NOW - dt.timedelta(hours=2)
        kinds = {r[0] for r in con.execute("SELECT DISTINCT table_type FROM information_schema.tables").fetchall()}
        assert kinds == {"BASE TABLE"}
        assert "_demo" not in {
            r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
        }


def test_guide_state_start(tmp_path, nba, expected):
    with open_state(tmp_path, nba, "start") as con:
        tables = {t.name: t for t in nba.tables}
        loaded = dates(con, tables["player_game_summary"])
        assert len(loaded) == 348
        assert per_season(nba, loaded) == {"2021-22": 75, "2022-23": 117, "2023-24": 119, "2024-25": 37}
        assert sorted(dates(con, tables["upcoming_player_game_context"])) == expected[-5:]
        for name in ("team_defense_game_summary", "team_offense_game_summary", "upcoming_team_game_context"):
            assert con.execute(f"SELECT count(*) FROM {tables[name].key}").fetchall() == [(0,)]  # noqa: S608
        columns = {
            (r[0], r[1])
            for r in con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'nba_precompute'"
            ).fetchall()
        }
        names = {t for t, _ in columns}
        assert "team_defense_zone_analysis" not in names
        assert ("player_shot_zone_analysis", "player_lookup") in columns
        assert ("player_shot_zone_analysis", "analysis_date") not in columns
        for name in ("player_composite_factors", "player_daily_cache"):
            assert con.execute(f"SELECT count(*) FROM {tables[name].key}").fetchall() == [(0,)]  # noqa: S608
        runs = history(con)
        assert runs["run_id"].nunique() == 348 + 5
        hour = runs[(runs["status"] == "success") & (runs["processed_at"] > NOW - dt.timedelta(hours=1))]
        assert hour["data_date"].nunique() == 45


def test_guide_state_phase3_only(tmp_path, nba, expected):
    with open_state(tmp_path, nba, "phase3_only") as con:
        for table in nba.phases[0].tables:
            assert dates(con, table) == set(expected)
        for table in nba.phases[1].tables:
            assert con.execute(f"SELECT count(*) FROM {table.key}").fetchall() == [(0,)]  # noqa: S608
            assert table.date_column in {r[0] for r in con.execute(f"DESCRIBE {table.key}").fetchall()}


def test_guide_state_rejects_unknown_state(tmp_path, nba):
    with pytest.raises(ValueError, match="valid states"):
        fixtures.guide_state(tmp_path / "x.duckdb", nba, "halfway", NOW)


def test_write_warehouse_types(tmp_path):
    frames = {
        "nba_raw.nbac_schedule": pd.DataFrame(
            {
                "game_date": pd.to_datetime(["2021-10-19"]),
                "game_id": ["0022100001"],
                "game_status": [3],
                "is_playoffs": [False],
            }
        ),
        "nba_reference.processor_run_history": pd.DataFrame(
            {
                "run_id": ["r1"],
                "started_at": pd.to_datetime(["2025-01-01T00:00:00Z"]),
                "errors": ['[{"error_type": "X"}]'],
            }
        ),
        "custom.things": pd.DataFrame({"day": pd.to_datetime(["2024-01-01"]), "n": [1], "label": ["a"]}),
    }
    path = fixtures.write_warehouse(tmp_path / "w.duckdb", frames, {"custom.things": {"n": "DOUBLE"}})
    with duckdb.connect(str(path), read_only=True) as con:
        assert column_types(con, "nba_raw.nbac_schedule") == {
            "game_date": "DATE", "game_id": "VARCHAR", "game_status": "BIGINT", "is_playoffs": "BOOLEAN",
        }  # fmt: skip
        assert column_types(con, "nba_reference.processor_run_history") == {
            "run_id": "VARCHAR", "started_at": "TIMESTAMP WITH TIME ZONE", "errors": "JSON",
        }  # fmt: skip
        assert column_types(con, "custom.things") == {"day": "DATE", "n": "DOUBLE", "label": "VARCHAR"}


def test_nothing_written_outside_tmp(tmp_path, nba, monkeypatch):
    """Fixtures and the demo write only the files they are given (plus the demo's lock)."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.chdir(cwd)
    fixtures.guide_state(tmp_path / "out" / "s.duckdb", nba, "start", NOW)
    assert os.listdir(home) == [] and os.listdir(cwd) == []
    assert os.listdir(tmp_path / "out") == ["s.duckdb"]


def test_phase_tag(nba):
    assert [demo.phase_tag(p) for p in nba.phases] == ["phase_3_analytics", "phase_4_precompute"]
    assert re.fullmatch(r"[a-z0-9_]+", demo.phase_tag(config.Phase("Backfill", "", 0, ())))


def test_the_demo_file_opened_as_a_plain_duckdb_warehouse_says_how_to_open_it(sandbox):
    """Its tables are views that show rows only at the demo's clock: as `duckdb:` it would read as all zeros."""
    from monitor.warehouse import WarehouseError, open_warehouse

    path = sandbox["path"]
    with pytest.raises(WarehouseError, match=f"{path} is the demo warehouse's file: open it with --warehouse demo "
                                             f"and BACKFILL_DEMO_PATH={path}"):
        open_warehouse(f"duckdb:{path}")
