"""Static DuckDB warehouses for tests and benchmarks.

Same layout as the demo (each dataset a schema, real columns and types) but plain
tables: no views, no `_demo` schema, no clock. They are built from the demo's own
schedule generator and backfill planner (a clean plan: every run succeeds on time), so
their figures can be worked out by hand from the schedule.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd

from monitor import demo
from monitor.config import Config, Table

STATES = ("complete", "start", "phase3_only")

# The usage guide's starting point: player_game_summary holds the first N expected
# dates of each season (75 + 117 + 119 + 37 = 348, the guide's season breakdown),
# upcoming_player_game_context the last 5 expected dates of the window.
START_DATES_PER_SEASON = {"2021-22": 75, "2022-23": 117, "2023-24": 119, "2024-25": 37}
START_TABLE = "player_game_summary"
START_UPCOMING_TABLE = "upcoming_player_game_context"
START_UPCOMING_DATES = 5
START_PACE = 45  # dates/hour: the guide's "Phase 3: 45 dates/hour (last 1 hour)"
START_LAST_RUN_AGO_S = 10  # the last player_game_summary run ended 10 s before `now`
QUIET_AFTER_S = 3 * 3600  # complete states: the last run ended 3 h before `now`
UNDATED_TABLE = "player_shot_zone_analysis"  # "start": exists without its date column
ABSENT_TABLE = "team_defense_zone_analysis"  # "start": does not exist


def schedule_frame(config: Config, seed: int = 7) -> pd.DataFrame:
    """The rows of the schedule table (see `demo.schedule_frame`)."""
    return demo.schedule_frame(config, seed)


def write_warehouse(
    path: str | os.PathLike,
    frames: Mapping[str, pd.DataFrame],
    types: Mapping[str, Mapping[str, str]] | None = None,
) -> Path:
    """Write each frame as table 'dataset.table' (its key) into the DuckDB file `path`,
    creating schemas as needed and replacing tables of the same name. Column types come
    from `types[key]`, else from the real layout's column names, else from the dtype
    (naive datetimes become DATE, tz-aware ones TIMESTAMPTZ)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    types = types or {}
    with duckdb.connect(str(path), config={"temp_directory": ""}) as con:
        for key, frame in frames.items():
            demo.create_table(con, key, frame, types.get(key))
        con.execute("CHECKPOINT")
    return path


def guide_state(path: str | os.PathLike, config: Config, state: str, now: dt.datetime, seed: int = 7) -> Path:
    """A static warehouse in one of the usage guide's states, as seen at `now`:

    - "complete": every Phase 3 table holds all expected dates, every Phase 4 table all
      eligible ones (no bootstrap dates); the run history has only successful runs, the
      last one ended 3 h before `now` (plus the phantom cleanup rows due by then).
    - "start": player_game_summary holds the first 75 / 117 / 119 / 37 expected dates of
      the four seasons (348), upcoming_player_game_context the window's last 5; the other
      Phase 3 tables are empty. Phase 4: team_defense_zone_analysis does not exist,
      player_shot_zone_analysis exists without analysis_date, the others are empty. The
      runs for the loaded dates are successful; player_game_summary ran at 45 dates/hour
      up to 10 s before `now`, so its rate over the last hour is 45.
    - "phase3_only": Phase 3 complete, Phase 4 tables exist and are empty.

    The first two phases of `config` are taken as Phase 3 and Phase 4."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; valid states: {', '.join(STATES)}")
    schedule = demo.schedule_frame(config, seed)
    stages, quiet_after = _stages(config, schedule, state)
    timeline = demo.plan(config, schedule, stages, seed, mishaps=None)
    last_end = _last_run_end(timeline)
    frames = _frozen(config, schedule, timeline, now=now, elapsed=last_end + quiet_after, seed=seed)
    frames = _shape_state(config, frames, state)
    types = {t.key: demo.table_columns(t) for t in config.tables}
    return write_warehouse(path, frames, types)


def _stages(config: Config, schedule: pd.DataFrame, state: str) -> tuple[list[list[demo.Job]], float]:
    """The clean backfill behind `state`, and how long before `now` its last run ended."""
    expected = demo.expected_dates(config, schedule)
    if state == "start":
        tables = {t.name: t for t in config.phases[0].tables}
        tag = demo.phase_tag(config.phases[0])
        loaded = [
            demo.Job(tables[START_TABLE], tag, tuple(_first_dates_per_season(config, expected)), START_PACE),
            demo.Job(tables[START_UPCOMING_TABLE], tag, tuple(expected[-START_UPCOMING_DATES:]), START_PACE),
        ]
        return [loaded], START_LAST_RUN_AGO_S
    stages = []
    for phase in config.phases if state == "complete" else config.phases[:1]:
        eligible = tuple(demo.eligible_dates(config, phase, expected))
        tag = demo.phase_tag(phase)
        for stage in phase.stages:
            stages.append([demo.Job(t, tag, eligible, demo.DEFAULT_PACES.get(t.name, 100)) for t in stage])
    return stages, QUIET_AFTER_S


def _first_dates_per_season(config: Config, expected: list[dt.date]) -> list[dt.date]:
    dates = []
    for season in config.seasons:
        in_season = [d for d in expected if season.contains(d)]
        dates += in_season[: START_DATES_PER_SEASON.get(season.name, len(in_season))]
    return dates


def _last_run_end(timeline: demo.Timeline) -> float:
    runs = timeline.runs
    return float(runs.loc[(runs["status"] != "running") & ~demo.is_cleanup(runs), "_processed"].max())


def _frozen(
    config: Config, schedule: pd.DataFrame, timeline: demo.Timeline, *, now: dt.datetime, elapsed: float, seed: int
) -> dict[str, pd.DataFrame]:
    """The timeline as its views show it at `now`, when `elapsed` demo seconds (speed 1)
    have passed: the demo's own views do the work, in an in-memory database."""
    t0 = demo.as_utc(now) - dt.timedelta(seconds=elapsed)
    with duckdb.connect(":memory:", config={"temp_directory": ""}) as con:
        demo.install(con, config, schedule, timeline, t0=t0, seed=seed)
        demo.set_clock(con, now, 1.0)
        keys = [config.schedule.key, config.runs.key, *(t.key for t in config.tables)]
        return {key: con.sql(f"SELECT * FROM {key}").df() for key in keys}  # noqa: S608 (config-validated names)


def _shape_state(config: Config, frames: dict[str, pd.DataFrame], state: str) -> dict[str, pd.DataFrame]:
    """Drop, empty or strip the tables the state wants that way."""
    tables: dict[str, Table] = {t.name: t for t in config.tables}
    if state == "phase3_only":
        for table in config.phases[1].tables if len(config.phases) > 1 else ():
            frames[table.key] = demo.empty_table(demo.table_columns(table))
    if state == "start":
        for table in config.tables:
            if table.name not in (START_TABLE, START_UPCOMING_TABLE):
                frames[table.key] = demo.empty_table(demo.table_columns(table))
        if UNDATED_TABLE in tables:
            undated = tables[UNDATED_TABLE]
            frames[undated.key] = frames[undated.key].drop(columns=[undated.date_column])
        if ABSENT_TABLE in tables:
            del frames[tables[ABSENT_TABLE].key]
    return frames
