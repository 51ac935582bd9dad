"""The embedded demo warehouse: an NBA backfill that moves forward while you watch.

The whole backfill is generated once, deterministically from a seed, into one DuckDB
file in the real warehouse layout (warehouse.md): each BigQuery dataset is a schema of
the same name. Rows live in base tables of the private schema `_demo`, each with an
`_at` column (demo seconds after the timeline start t0 when the row appears); the
real-named tables are VIEWS that show only the rows whose time has come, using three
DuckDB variables set by the reader (`set_clock`):

- `demo_elapsed` (DOUBLE): demo seconds since t0, i.e. (now - t0) * speed;
- `demo_t0` (TIMESTAMPTZ) and `demo_speed` (DOUBLE): a run-history row stored at offset
  `off` shows the timestamp t0 + off / speed.

So the file never changes after it is built, and any number of processes can open it
read-only at once, each with its own clock (SET VARIABLE works on read-only
connections). Variables belong to one connection: a `cursor()` of a connection does
not inherit them, so call `set_clock` on every connection or cursor that queries.
Unset variables make the views empty.

The module also holds the synthetic NBA world the demo and the test fixtures share:
the schedule (`schedule_frame`), the rows of each table (`table_rows`) and the
backfill planner (`plan`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import math
import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from monitor import config as config_module
from monitor.config import Config, Phase, Season, Table
from monitor.identifiers import checked
from monitor.warehouse.duckdb import is_interrupt

DEMO_PATH_ENV = "BACKFILL_DEMO_PATH"
SPEED_ENV = "BACKFILL_DEMO_SPEED"
HEAD_START_HOURS = 6
PRIVATE_SCHEMA = "_demo"
LAYOUT_VERSION = 2  # bump when the file layout changes: older demo files are rebuilt

Progress = Callable[[float, str], None]
UTC = dt.UTC

# --- the NBA calendar ---------------------------------------------------------------

TEAMS = (
    "ATL", "BKN", "BOS", "CHA", "CHI", "CLE", "DAL", "DEN", "DET", "GSW",
    "HOU", "IND", "LAC", "LAL", "MEM", "MIA", "MIL", "MIN", "NOP", "NYK",
    "OKC", "ORL", "PHI", "PHX", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
)  # fmt: skip
ROSTER_SIZE = 15
_FIRST_NAMES = (
    "jalen", "marcus", "tyrese", "devin", "jaylen", "anthony", "kevin", "luka", "jamal", "darius",
    "scottie", "paolo", "evan", "franz", "josh", "desmond", "mikal", "cade", "zion", "trae",
    "donovan", "lamelo", "keegan", "jarrett", "alperen", "domantas", "deaaron", "tyler", "brandon", "derrick",
)  # fmt: skip
_LAST_NAMES = (
    "brooks", "walker", "james", "green", "mitchell", "barnes", "allen", "murray", "harris", "holiday",
    "young", "bridges", "mobley", "hunter", "payton", "porter", "jackson", "white", "robinson", "johnson",
    "thompson", "williams", "davis", "morris", "wright", "carter", "smith", "ball", "hayes", "lopez",
)  # fmt: skip


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _span(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class SeasonCalendar:
    """The real shape of one NBA season, as far as the schedule table shows it."""

    regular_end: dt.date
    off_days: tuple[dt.date, ...] = ()  # no games: Thanksgiving, Christmas Eve, All-Star break
    final_dates: int | None = None  # Final game dates of the whole season (fixes the postseason length)
    playoffs_end: dt.date | None = None  # the last game of the Finals
    final_through: dt.date | None = None  # games after this day are still only scheduled
    scheduled_until: dt.date | None = None  # the schedule table holds nothing later
    postponed: tuple[dt.date, ...] = ()  # one postponed game (status 1) on each of these days


NBA_CALENDAR: dict[str, SeasonCalendar] = {
    "2021-22": SeasonCalendar(
        regular_end=_d("2022-04-10"),
        off_days=(_d("2021-11-25"), _d("2021-12-24"), *_span(_d("2022-02-18"), _d("2022-02-23"))),
        final_dates=215,
        playoffs_end=_d("2022-06-16"),
        postponed=(_d("2021-11-25"), _d("2021-12-19")),
    ),
    "2022-23": SeasonCalendar(
        regular_end=_d("2023-04-09"),
        off_days=(_d("2022-11-24"), _d("2022-12-24"), *_span(_d("2023-02-17"), _d("2023-02-22"))),
        final_dates=214,
        playoffs_end=_d("2023-06-12"),
    ),
    "2023-24": SeasonCalendar(
        regular_end=_d("2024-04-14"),
        off_days=(_d("2023-11-23"), _d("2023-12-24"), *_span(_d("2024-02-16"), _d("2024-02-21"))),
        final_dates=209,
        playoffs_end=_d("2024-06-17"),
        postponed=(_d("2024-01-10"),),
    ),
    "2024-25": SeasonCalendar(
        regular_end=_d("2025-04-13"),
        off_days=(_d("2024-11-05"), _d("2024-11-28")),
        final_through=_d("2024-11-29"),
        scheduled_until=_d("2024-12-05"),
        postponed=(_d("2024-11-05"),),
    ),
}
PLAY_IN_DAYS = 4
FIRST_ROUND_DAILY = 14  # the first two weeks of the playoffs have games every day
WEEKDAY_GAMES = (8, 5, 9, 6, 8, 7, 6)  # mean regular-season games, Monday..Sunday
DUPLICATE_SHARE = 0.08  # games also stored from the second source


def season_calendar(season: Season) -> SeasonCalendar:
    """The NBA calendar of `season`; a plain one (games every day, no postseason) for unknown seasons."""
    known = NBA_CALENDAR.get(season.name)
    if known and season.opener < known.regular_end:
        return known
    return SeasonCalendar(regular_end=min(season.end, season.opener + dt.timedelta(days=173)))


def season_fields(day: dt.date) -> tuple[int, str, str]:
    """(season_year, season, season_nba_format) of a game date: October starts a season."""
    year = day.year if day.month >= 10 else day.year - 1
    return year, str(year), f"{year}-{(year + 1) % 100:02d}"


def _game_days(season: Season, cal: SeasonCalendar) -> list[tuple[dt.date, str]]:
    """(date, kind) of every day with games: kind is regular, play_in or playoffs."""
    off = set(cal.off_days)
    regular = [(d, "regular") for d in _span(season.opener, cal.regular_end) if d not in off]
    days = regular + _postseason_days(cal, len(regular))
    last = cal.scheduled_until or cal.final_through or dt.date.max
    return [(d, kind) for d, kind in days if d <= last]


def _postseason_days(cal: SeasonCalendar, regular_days: int) -> list[tuple[dt.date, str]]:
    """Play-in then playoffs, with rest days spread over the later rounds so that the
    season has exactly `cal.final_dates` game dates."""
    if not cal.final_dates or not cal.playoffs_end:
        return []
    play_in = _span(cal.regular_end + dt.timedelta(days=2), cal.regular_end + dt.timedelta(days=1 + PLAY_IN_DAYS))
    playoffs = _span(play_in[-1] + dt.timedelta(days=1), cal.playoffs_end)
    rest = len(playoffs) - (cal.final_dates - regular_days - PLAY_IN_DAYS)
    candidates = playoffs[FIRST_ROUND_DAILY:-1]
    if not 0 <= rest <= len(candidates):
        raise ValueError(f"calendar cannot give {cal.final_dates} game dates")
    picks = np.linspace(0, len(candidates) - 1, rest).round().astype(int) if rest else []
    rest_days = {candidates[i] for i in picks}
    return [(d, "play_in") for d in play_in] + [(d, "playoffs") for d in playoffs if d not in rest_days]


def _games_per_day(days: list[tuple[dt.date, str]], cal: SeasonCalendar, rng: np.random.Generator) -> list[int]:
    playoff_days = [d for d, kind in days if kind == "playoffs"]
    counts = []
    for i, (day, kind) in enumerate(days):
        if kind == "play_in":
            n = 2
        elif kind == "playoffs":
            progress = playoff_days.index(day) / max(len(playoff_days), 1)
            n = int(rng.integers(2, 5)) if progress < 0.3 else int(rng.integers(1, 3)) if progress < 0.6 else 1
        elif i == 0:
            n = 2  # opening night
        elif day == cal.regular_end:
            n = 15  # every team plays on the last day
        elif (day.month, day.day) == (12, 25):
            n = 5
        else:
            n = int(np.clip(rng.poisson(WEEKDAY_GAMES[day.weekday()]), 1, 15))
        counts.append(n)
    return counts


_ID_PREFIX = {"regular": "002", "play_in": "005", "playoffs": "004"}


def _season_games(season: Season, rng: np.random.Generator) -> list[dict]:
    """One dict per game of the season (postponed ones included), before duplication."""
    cal = season_calendar(season)
    days = _game_days(season, cal)
    games, sequence = [], dict.fromkeys(_ID_PREFIX, 0)

    def add(day: dt.date, kind: str, away: int, home: int, final: bool) -> None:
        sequence[kind] += 1
        year, season_text, nba_format = season_fields(day)
        games.append(
            {
                "game_date": day,
                "game_id": f"{_ID_PREFIX[kind]}{year % 100:02d}{sequence[kind]:05d}",
                "game_code": f"{day:%Y%m%d}/{TEAMS[away]}{TEAMS[home]}",
                "game_status": 3 if final else 1,
                "game_status_text": "Final" if final else "Scheduled",
                "season": season_text,
                "season_nba_format": nba_format,
                "season_year": year,
                "home_team_tricode": TEAMS[home],
                "away_team_tricode": TEAMS[away],
                "is_regular_season": kind == "regular",
                "is_playoffs": kind == "playoffs",
            }
        )

    for (day, kind), n in zip(days, _games_per_day(days, cal, rng), strict=True):
        final = cal.final_through is None or day <= cal.final_through
        teams = rng.permutation(len(TEAMS))[: 2 * n]
        for away, home in zip(teams[:n], teams[n:], strict=True):
            add(day, kind, int(away), int(home), final)
    for day in cal.postponed:
        away, home = rng.permutation(len(TEAMS))[:2]
        add(day, "regular", int(away), int(home), final=False)
    return games


def schedule_frame(config: Config, seed: int = 7) -> pd.DataFrame:
    """The rows of `nba_raw.nbac_schedule` for every configured season, with the real
    quirks: some games stored twice (api_stats and cdn_static), postponed games with
    status 1 (one on a day without any Final game), scheduled games after the window."""
    frames = []
    for season in config.seasons:
        rng = np.random.default_rng([seed, season.opener.toordinal()])
        games = pd.DataFrame(_season_games(season, rng))
        games["data_source"] = np.where(rng.random(len(games)) < 0.9, "api_stats", "cdn_static")
        twice = games[(games["game_status"] == 3) & (rng.random(len(games)) < DUPLICATE_SHARE)]
        other = twice.assign(data_source=np.where(twice["data_source"] == "api_stats", "cdn_static", "api_stats"))
        frames += [games, other]
    schedule = pd.concat(frames, ignore_index=True)
    schedule["game_date"] = pd.to_datetime(schedule["game_date"]).astype("datetime64[s]")
    schedule = schedule.sort_values(["game_date", "game_id", "data_source"], ignore_index=True)
    return schedule[list(SCHEDULE_COLUMNS)]


# --- dates the monitor expects (DESIGN.md definitions) ----------------------------------


def expected_dates(config: Config, schedule: pd.DataFrame) -> list[dt.date]:
    """Distinct Final game dates inside the window."""
    final = schedule.loc[schedule[config.schedule.status_column] == config.schedule.final_status]
    days = sorted(set(final[config.schedule.date_column].dt.date))
    return [d for d in days if config.start <= d <= config.end]


def is_bootstrap(config: Config, phase: Phase, day: dt.date) -> bool:
    season = config.season_of(day)
    return season is not None and 0 <= (day - season.opener).days < phase.bootstrap_days


def eligible_dates(config: Config, phase: Phase, days: Sequence[dt.date]) -> list[dt.date]:
    return [d for d in days if not is_bootstrap(config, phase, d)]


def _games(schedule: pd.DataFrame) -> pd.DataFrame:
    """One row per game (date, game_id, teams, final), duplicates of sources dropped."""
    games = schedule.drop_duplicates(["game_date", "game_id"]).rename(
        columns={"home_team_tricode": "home", "away_team_tricode": "away"}
    )
    games = games.assign(date=games["game_date"].dt.date, final=games["game_status"] == 3)
    return games[["date", "game_id", "home", "away", "season_year", "final"]].reset_index(drop=True)


def _games_on(games: pd.DataFrame, days: Sequence[dt.date]) -> pd.DataFrame:
    """The games a processor sees on each day: the Final ones, or the scheduled ones on
    a day without any Final game (the upcoming-context tables are built from the schedule)."""
    games = games[games["date"].isin(set(days))]
    has_final = games.groupby("date")["final"].transform("any")
    return games[games["final"] | ~has_final].reset_index(drop=True)


# --- columns and rows of each table ----------------------------------------------------

SCHEDULE_COLUMNS = {
    "game_date": "DATE",
    "game_id": "VARCHAR",
    "game_code": "VARCHAR",
    "game_status": "BIGINT",
    "game_status_text": "VARCHAR",
    "season": "VARCHAR",
    "season_nba_format": "VARCHAR",
    "season_year": "BIGINT",
    "home_team_tricode": "VARCHAR",
    "away_team_tricode": "VARCHAR",
    "is_regular_season": "BOOLEAN",
    "is_playoffs": "BOOLEAN",
    "data_source": "VARCHAR",
}
RUN_HISTORY_COLUMNS = {
    "processor_name": "VARCHAR",
    "run_id": "VARCHAR",
    "phase": "VARCHAR",
    "output_table": "VARCHAR",
    "output_dataset": "VARCHAR",
    "data_date": "DATE",
    "status": "VARCHAR",
    "started_at": "TIMESTAMPTZ",
    "processed_at": "TIMESTAMPTZ",
    "duration_seconds": "DOUBLE",
    "records_processed": "BIGINT",
    "errors": "JSON",
    "warnings": "JSON",
    "summary": "JSON",
    "failure_category": "VARCHAR",
    "skipped": "BOOLEAN",
    "skip_reason": "VARCHAR",
    "backfill_mode": "BOOLEAN",
    "season_year": "BIGINT",
}
# Extra columns of the data tables, by column name: (type, low, high) for the numbers.
DATA_COLUMNS: dict[str, tuple[str, float, float]] = {
    "game_date": ("DATE", 0, 0),
    "analysis_date": ("DATE", 0, 0),
    "cache_date": ("DATE", 0, 0),
    "game_id": ("VARCHAR", 0, 0),
    "player_lookup": ("VARCHAR", 0, 0),
    "team_abbr": ("VARCHAR", 0, 0),
    "defending_team_abbr": ("VARCHAR", 0, 0),
    "opponent_team_abbr": ("VARCHAR", 0, 0),
    "home_game": ("BOOLEAN", 0, 0),
    "season_year": ("BIGINT", 0, 0),
    "minutes_played": ("DOUBLE", 4, 42),
    "points": ("BIGINT", 0, 45),
    "points_allowed": ("BIGINT", 86, 138),
    "defensive_rating": ("DOUBLE", 98, 124),
    "points_scored": ("BIGINT", 86, 138),
    "offensive_rating": ("DOUBLE", 100, 126),
    "days_rest": ("BIGINT", 0, 4),
    "points_line": ("DOUBLE", 4.5, 34.5),
    "paint_pct_allowed": ("DOUBLE", 0.52, 0.68),
    "three_pt_pct_allowed": ("DOUBLE", 0.31, 0.40),
    "paint_rate": ("DOUBLE", 0.1, 0.7),
    "three_pt_rate": ("DOUBLE", 0.05, 0.6),
    "games_in_sample": ("BIGINT", 5, 15),
    "fatigue_score": ("DOUBLE", 0, 100),
    "shot_zone_mismatch_score": ("DOUBLE", -10, 10),
    "points_avg_last_10": ("DOUBLE", 2, 34),
    "games_played_season": ("BIGINT", 1, 82),
}


@dataclass(frozen=True)
class Shape:
    """How a table's rows are made: `grain` is one row per team per game (team_game),
    per team per day (team_day, all 30), per player per game or per player per day."""

    grain: str
    columns: tuple[str, ...]


KNOWN_SHAPES = {
    "player_game_summary": Shape(
        "player_game", ("game_id", "player_lookup", "team_abbr", "opponent_team_abbr", "minutes_played", "points")
    ),
    "team_defense_game_summary": Shape(
        "team_game", ("game_id", "defending_team_abbr", "opponent_team_abbr", "points_allowed", "defensive_rating")
    ),
    "team_offense_game_summary": Shape(
        "team_game", ("game_id", "team_abbr", "opponent_team_abbr", "points_scored", "offensive_rating")
    ),
    "upcoming_player_game_context": Shape(
        "player_game", ("game_id", "player_lookup", "team_abbr", "opponent_team_abbr", "days_rest", "points_line")
    ),
    "upcoming_team_game_context": Shape(
        "team_game", ("game_id", "team_abbr", "opponent_team_abbr", "home_game", "days_rest")
    ),
    "team_defense_zone_analysis": Shape(
        "team_day", ("team_abbr", "paint_pct_allowed", "three_pt_pct_allowed", "games_in_sample")
    ),
    "player_shot_zone_analysis": Shape(
        "player_day", ("player_lookup", "team_abbr", "paint_rate", "three_pt_rate", "games_in_sample")
    ),
    "player_composite_factors": Shape(
        "player_game", ("analysis_date", "game_id", "player_lookup", "fatigue_score", "shot_zone_mismatch_score")
    ),
    "player_daily_cache": Shape(
        "player_day", ("player_lookup", "team_abbr", "points_avg_last_10", "games_played_season")
    ),
}
MISSING_ANALYSIS_DATE = 0.1  # share of player_composite_factors rows with a NULL analysis_date


def table_shape(table: Table) -> Shape:
    if table.name in KNOWN_SHAPES:
        return KNOWN_SHAPES[table.name]
    if table.min_rows_per_game:
        return Shape("team_game", ("game_id", "team_abbr", "opponent_team_abbr"))
    if table.name.startswith("team_"):
        return Shape("team_day", ("team_abbr",))
    return Shape("player_game", ("game_id", "player_lookup", "team_abbr"))


def table_columns(table: Table) -> dict[str, str]:
    """Column name -> DuckDB type of a data table, its date column first."""
    extra = [c for c in table_shape(table).columns if c != table.date_column]
    return {table.date_column: "DATE", **{c: DATA_COLUMNS[c][0] for c in extra}}


def _roster() -> np.ndarray:
    """30 x 15 distinct player_lookup values, one row per team."""
    p = np.arange(len(TEAMS) * ROSTER_SIZE)
    first = np.array(_FIRST_NAMES)[p % 30]
    last = np.array(_LAST_NAMES)[(p // 30 + 3 * (p % 30)) % 30]
    return np.char.add(first, last).reshape(len(TEAMS), ROSTER_SIZE)


_TEAM_INDEX = {t: i for i, t in enumerate(TEAMS)}


def _team_game_rows(games: pd.DataFrame) -> pd.DataFrame:
    home = games.assign(team_abbr=games["home"], opponent_team_abbr=games["away"], is_home=True)
    away = games.assign(team_abbr=games["away"], opponent_team_abbr=games["home"], is_home=False)
    return pd.concat([home, away], ignore_index=True).sort_values(["date", "game_id", "is_home"], ignore_index=True)


def _team_day_rows(games: pd.DataFrame) -> pd.DataFrame:
    days = games.drop_duplicates("date")[["date", "season_year"]]
    return days.merge(pd.DataFrame({"team_abbr": TEAMS}), how="cross")


def _player_game_rows(games: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """3 to 8 players per game, alternating home and away, distinct within a team."""
    per_game = rng.integers(3, 9, size=len(games))
    rows = games.loc[games.index.repeat(per_game)].reset_index(drop=True)
    slot = np.arange(len(rows)) - np.repeat(np.cumsum(per_game) - per_game, per_game)
    is_home = slot % 2 == 0
    teams = np.where(is_home, rows["home"], rows["away"])
    opponents = np.where(is_home, rows["away"], rows["home"])
    start = np.repeat(rng.integers(0, ROSTER_SIZE, size=len(games)), per_game)
    team_index = np.array([_TEAM_INDEX[t] for t in teams], dtype=int)
    players = _roster()[team_index, (start + slot // 2) % ROSTER_SIZE]
    return rows.assign(team_abbr=teams, opponent_team_abbr=opponents, is_home=is_home, player_lookup=players)


def _grain_rows(grain: str, games: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    if grain == "team_game":
        return _team_game_rows(games)
    if grain == "team_day":
        return _team_day_rows(games)
    rows = _player_game_rows(games, rng)
    if grain == "player_day":
        rows = rows.drop_duplicates(["date", "player_lookup"], ignore_index=True)
    return rows


def _column_values(column: str, rows: pd.DataFrame, rng: np.random.Generator) -> np.ndarray | pd.Series:
    kind, low, high = DATA_COLUMNS[column]
    if column == "analysis_date":  # the secondary, nullable date of player_composite_factors
        dates = rows["date_value"].copy()
        return dates.mask(rng.random(len(rows)) < MISSING_ANALYSIS_DATE)
    if column == "defending_team_abbr":
        return rows["team_abbr"].to_numpy()
    if column == "home_game":
        return rows["is_home"].to_numpy(dtype=bool)
    if column in rows.columns:
        return rows[column].to_numpy()
    if kind == "BIGINT":
        return rng.integers(int(low), int(high) + 1, size=len(rows))
    return rng.uniform(low, high, size=len(rows)).round(3)


def table_rows(table: Table, games: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The rows `table` holds for `games` (one row per game: date, game_id, home, away,
    season_year), with the columns of `table_columns(table)`."""
    rows = _grain_rows(table_shape(table).grain, games, rng)
    rows = rows.assign(date_value=pd.to_datetime(rows["date"]).astype("datetime64[s]"))
    data = {table.date_column: rows["date_value"]}
    for column in list(table_columns(table))[1:]:
        data[column] = _column_values(column, rows, rng)
    return pd.DataFrame(data)


def empty_table(columns: Mapping[str, str]) -> pd.DataFrame:
    """A frame with no rows and a dtype per DuckDB type, so writers keep the types."""
    dtypes = {"DATE": "datetime64[s]", "BIGINT": "Int64", "DOUBLE": "float64", "BOOLEAN": "boolean"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(t, "str")) for c, t in columns.items()})


# --- the backfill timeline ----------------------------------------------------------------

DEFAULT_PACES = {  # dates per demo hour; Phase 3 tables 50-110, Phase 4 80-150
    "player_game_summary": 58,
    "team_defense_game_summary": 74,
    "team_offense_game_summary": 88,
    "upcoming_player_game_context": 104,
    "upcoming_team_game_context": 67,
    "team_defense_zone_analysis": 140,
    "player_shot_zone_analysis": 96,
    "player_composite_factors": 112,
    "player_daily_cache": 128,
}
CLEANUP_AFTER_S = 4 * 3600  # the stale-running cleanup turns older `running` rows into `failed`
CLEANUP_EVERY_S = 900  # ... and runs every 15 minutes
STUCK_TIMEOUT_S = 900  # a job gives up on a hung run after 15 minutes and moves on
MAX_RETRY_PASSES = 3  # the last retry pass always succeeds, so the backfill completes
ERRORS = (  # (failure_category, error_type, error_message)
    ("no_data_available", "ValidationError", "Missing required data: no boxscore rows for {date}"),
    ("upstream_failure", "DependencyError", "Upstream nba_raw.nbac_gamebook_player_stats incomplete for {date}"),
    ("processing_error", "BigQueryError", "403 Quota exceeded: Your table exceeded quota for imports or query appends per table"),
    ("timeout", "TimeoutError", "Query exceeded the 600 s deadline while loading {date}"),
    ("processing_error", "KeyError", "'opponent_team_abbr'"),
    ("unknown", "RuntimeError", "Worker exited unexpectedly (signal 9)"),
)  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One backfill job: walks `dates` in order, one run per date, at `pace` dates per hour.
    Dates in `skip` are logged as skipped runs that write nothing (bootstrap)."""

    table: Table
    phase: str  # run-history phase, e.g. phase_3_analytics
    dates: tuple[dt.date, ...]
    pace: float
    skip: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class Mishaps:
    """What goes wrong in a realistic backfill; `plan(..., mishaps=None)` is a clean one."""

    failure_rate: float = 0.015
    retry_failure_rate: float = 0.15
    stuck_every_s: float = 2 * 3600
    partial_dates: int = 2  # per team-per-game table: dates left with too few rows
    late_rows_s: float = 30  # run-history rows arrive up to this late
    cleanup_missed: float = 0.02  # share of finished runs whose `running` row is never cleaned up


@dataclass(frozen=True)
class Timeline:
    """A planned backfill: data rows and run-history rows, each with `_at` (demo seconds)."""

    tables: dict[str, pd.DataFrame]  # 'dataset.table' -> rows + _at
    runs: pd.DataFrame  # processor_run_history base rows (offsets, not timestamps) + _at
    finish_offset_s: float


def phase_tag(phase: Phase) -> str:
    """The run-history phase of a config phase: "Phase 3" + "Analytics" -> phase_3_analytics."""
    words = re.findall(r"[a-z0-9]+", phase.name.lower())
    number = next((w for w in words if w.isdigit()), None)
    label = "_".join(re.findall(r"[a-z0-9]+", phase.label.lower()))
    base = f"phase_{number}" if number else "_".join(words)
    return f"{base}_{label}" if label else base


def demo_jobs(config: Config, schedule: pd.DataFrame, seed: int = 7) -> list[list[Job]]:
    """The demo's stages: every phase's stages in order; a table walks the expected dates
    (upcoming-context tables also the other schedule days up to the day after the window),
    skipping its phase's bootstrap dates."""
    expected = expected_dates(config, schedule)
    scheduled = set(schedule["game_date"].dt.date)
    lookahead = {d for d in scheduled if config.start <= d <= config.end + dt.timedelta(days=1)}
    rng = np.random.default_rng([seed, 2])
    stages = []
    for index, phase in enumerate(config.phases):
        low, high = (50, 110) if index == 0 else (80, 150)
        skip = frozenset(d for d in expected if is_bootstrap(config, phase, d))
        for stage in phase.stages:
            jobs = []
            for table in stage:
                dates = sorted(lookahead | set(expected)) if table.name.startswith("upcoming_") else expected
                pace = DEFAULT_PACES.get(table.name) or float(rng.uniform(low, high))
                jobs.append(Job(table, phase_tag(phase), tuple(dates), pace, skip))
            stages.append(jobs)
    return stages


def plan(
    config: Config, schedule: pd.DataFrame, stages: list[list[Job]], seed: int = 7, mishaps: Mishaps | None = None
) -> Timeline:
    """Simulate the jobs (a stage's jobs side by side from the end of the previous stage)
    and generate their rows. With `mishaps=None` every run succeeds on time, runs follow
    each other exactly 3600/pace seconds apart and rows arrive without delay."""
    rng = np.random.default_rng([seed, 3])
    runs = _simulate(stages, rng, mishaps)
    games = _games(schedule)
    tables = {job.table.key: _written_rows(job.table, runs, games, rng) for stage in stages for job in stage}
    runs = runs.merge(_records(tables, stages), on=["table_key", "data_date"], how="left")
    history = _history_rows(runs, rng, mishaps)
    finished = [t["_at"].max() for t in tables.values() if len(t)]
    finished.append(history.loc[~is_cleanup(history), "_at"].max())
    return Timeline(tables, history, float(math.ceil(np.nanmax(finished))))  # whole seconds: exact timestamps


def _simulate(stages: list[list[Job]], rng: np.random.Generator, mishaps: Mishaps | None) -> pd.DataFrame:
    stuck_times = _stuck_times(rng, mishaps)
    start, runs = 0.0, []
    for jobs in stages:
        assigned = rng.integers(0, len(jobs), size=len(stuck_times))
        stage_end = start
        for i, job in enumerate(jobs):
            mine = [t for t, owner in zip(stuck_times, assigned, strict=True) if owner == i and t >= start]
            job_runs, end = _walk(job, start, rng, mishaps, mine)
            runs += job_runs
            stage_end = max(stage_end, end)
        start = stage_end + (float(rng.uniform(120, 600)) if mishaps else 300.0)
    return pd.DataFrame(runs)


def _stuck_times(rng: np.random.Generator, mishaps: Mishaps | None) -> list[float]:
    """About one hung run every `stuck_every_s` demo seconds, over the first 100 hours."""
    if not mishaps:
        return []
    every = mishaps.stuck_every_s
    count = int(100 * 3600 / every)
    return [k * every + float(rng.uniform(-every / 4, every / 4)) for k in range(1, count)]


def _walk(
    job: Job, start: float, rng: np.random.Generator, mishaps: Mishaps | None, stuck_times: list[float]
) -> tuple[list[dict], float]:
    """The main pass over the job's dates, then retry passes over the failed and hung ones."""
    interval = 3600.0 / job.pace
    partial = _partial_dates(job, rng, mishaps)
    t = start + (float(rng.uniform(5, 60)) if mishaps else 2.0)
    runs, retry = [], []
    for day in job.dates:
        if day in job.skip:
            outcome = "skipped"
        elif stuck_times and stuck_times[0] <= t:
            stuck_times.pop(0)
            outcome = "stuck"
        elif mishaps and rng.random() < mishaps.failure_rate:
            outcome = "failed"
        else:
            outcome = partial.get(day, "success")
        run, t = _run(job, day, outcome, t, interval, rng, mishaps)
        runs.append(run)
        if outcome in ("failed", "stuck"):
            retry.append(day)
    for attempt in range(1, MAX_RETRY_PASSES + 1):
        if not retry:
            break
        t += float(rng.uniform(60, 300))
        failed = []
        for day in retry:
            fails = bool(mishaps and attempt < MAX_RETRY_PASSES and rng.random() < mishaps.retry_failure_rate)
            run, t = _run(job, day, "failed" if fails else partial.get(day, "success"), t, interval, rng, mishaps)
            runs.append(run)
            if fails:
                failed.append(day)
        retry = failed
    return runs, t


def _partial_dates(job: Job, rng: np.random.Generator, mishaps: Mishaps | None) -> dict[dt.date, str]:
    """Dates a team-per-game table loads only partly: the first logged `partial`, the
    others (silently) `success`."""
    if not mishaps or table_shape(job.table).grain != "team_game" or job.table.name.startswith("upcoming_"):
        return {}
    candidates = [d for d in job.dates if d not in job.skip]
    picks = sorted(rng.choice(len(candidates), size=min(mishaps.partial_dates, len(candidates)), replace=False))
    return {candidates[i]: "partial" if n == 0 else "silent_partial" for n, i in enumerate(picks)}


def _run(
    job: Job, day: dt.date, outcome: str, t: float, interval: float, rng: np.random.Generator, mishaps: Mishaps | None
) -> tuple[dict, float]:
    """One run starting at `t`; returns it and the time the job starts its next run."""
    gap = float(rng.uniform(1, 4)) if mishaps else 2.0
    if outcome == "skipped":
        duration = float(rng.uniform(3, 12)) if mishaps else 5.0
    else:
        duration = (interval * float(rng.uniform(0.75, 1.25)) if mishaps else interval) - gap
    error = ERRORS[int(rng.integers(len(ERRORS)))] if outcome == "failed" else (None, None, None)
    if outcome == "failed":
        duration *= float(rng.uniform(0.2, 0.9))
    end = None if outcome == "stuck" else t + duration
    run = {
        "run_id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
        "table_key": job.table.key,
        "processor_name": job.table.processor,
        "phase": job.phase,
        "output_table": job.table.name,
        "output_dataset": job.table.dataset,
        "data_date": day,
        "outcome": outcome,
        "start": t,
        "end": end,
        "failure_category": error[0],
        "error_type": error[1],
        "error_message": error[2].format(date=day) if error[2] else None,
    }
    return run, (t + STUCK_TIMEOUT_S if end is None else end + gap)


def _written_rows(table: Table, runs: pd.DataFrame, games: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The rows of `table`, each appearing (`_at`) when the run that wrote its date ends."""
    writes = runs[(runs["table_key"] == table.key) & runs["outcome"].isin(["success", "partial", "silent_partial"])]
    if writes.empty:
        return empty_table(table_columns(table)).assign(_at=pd.Series(dtype="float64"))
    writes = writes.drop_duplicates("data_date", keep="last")  # a date is written once; be safe anyway
    rows = table_rows(table, _games_on(games, list(writes["data_date"])), rng)
    days = pd.to_datetime(writes["data_date"]).astype("datetime64[s]")
    rows = _trim_partial(rows, table.date_column, set(days[writes["outcome"].ne("success").to_numpy()]))
    rows["_at"] = rows[table.date_column].map(pd.Series(writes["end"].to_numpy(), index=days.to_numpy()))
    return rows.sort_values("_at", kind="stable", ignore_index=True)


def _trim_partial(rows: pd.DataFrame, date_column: str, partial: set) -> pd.DataFrame:
    """On partial dates keep only the first third of the rows (at least one, never all:
    a date has at least 2 rows of a team-per-game table)."""
    rank = rows.groupby(date_column).cumcount()
    count = rows.groupby(date_column)[date_column].transform("size")
    keep = ~rows[date_column].isin(partial) | (rank < np.maximum(1, count // 3))
    return rows[keep].reset_index(drop=True)


def _records(tables: dict[str, pd.DataFrame], stages: list[list[Job]]) -> pd.DataFrame:
    frames = []
    for job in (j for stage in stages for j in stage):
        rows = tables[job.table.key]
        counts = rows.groupby(rows[job.table.date_column].dt.date).size()
        frames.append(pd.DataFrame({"table_key": job.table.key, "data_date": counts.index, "rows": counts.values}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["table_key", "data_date", "rows"])


def _history_rows(runs: pd.DataFrame, rng: np.random.Generator, mishaps: Mishaps | None) -> pd.DataFrame:
    """The rows each run writes, the real way: a `running` row at the start, the final
    row at the end, and the stale-running cleanup's `failed` row 4 h after the start
    (for hung runs, and for almost every finished run: the phantom failure)."""
    runs = runs.assign(season_year=[season_fields(d)[0] for d in runs["data_date"]])

    def late(n: int) -> np.ndarray:
        return rng.uniform(0, mishaps.late_rows_s, size=n) if mishaps else np.zeros(n)

    running = runs.assign(status="running", _processed=np.nan, _at=runs["start"] + late(len(runs)))
    final = runs[runs["outcome"] != "stuck"]
    final = final.assign(
        status=final["outcome"].replace({"silent_partial": "success"}),
        _processed=final["end"],
        _at=final["end"] + late(len(final)),
        _errors=[_failure_json(r) for r in final.itertuples()],
        records_processed=np.where(final["outcome"].isin(["failed", "skipped"]), 0, final["rows"].fillna(0)),
        skipped=final["outcome"] == "skipped",
        skip_reason=np.where(final["outcome"] == "skipped", "bootstrap_period", None),
        warnings=np.where(final["outcome"] == "partial", _PARTIAL_WARNING, None),
        summary=[_summary_json(r) for r in final.itertuples()],
    )
    missed = rng.random(len(runs)) < (mishaps.cleanup_missed if mishaps else 0.0)
    cleaned = runs[(runs["outcome"] == "stuck") | ~missed]
    cleanup_at = (
        cleaned["start"] + CLEANUP_AFTER_S + (rng.uniform(0, CLEANUP_EVERY_S, len(cleaned)) if mishaps else 300)
    )
    cleanup = cleaned.assign(
        status="failed", _processed=cleanup_at, _at=cleanup_at, _errors=_CLEANUP_JSON, failure_category=None
    )
    rows = pd.concat([running, final, cleanup], ignore_index=True)
    rows = rows.assign(
        _started=rows["start"],
        skipped=rows["skipped"].fillna(False).astype(bool),
        backfill_mode=True,
        data_date=pd.to_datetime(rows["data_date"]).astype("datetime64[s]"),
    )
    rows.loc[rows["status"] == "running", "failure_category"] = None
    return rows[list(RUN_BASE_COLUMNS)].sort_values("_at", ignore_index=True)


_PARTIAL_WARNING = json.dumps([{"warning_type": "IncompleteData", "message": "boxscores missing for some games"}])
_CLEANUP_JSON = json.dumps(
    {
        "cleanup_reason": "stale_running_cleanup",
        "message": "Run stuck in 'running' for more than 4 hours; marked failed by cleanup",
        "hours_stuck": "{{hours_stuck}}",
    }
).replace('"{{hours_stuck}}"', "{{hours_stuck}}")


def is_cleanup(history: pd.DataFrame) -> pd.Series:
    """Which base run-history rows are the stale-running cleanup's."""
    return history["_errors"] == _CLEANUP_JSON


def _failure_json(run) -> str | None:
    """A real failure's `errors`: a JSON array; its timestamp is filled in by the view."""
    if run.outcome != "failed":
        return None
    return json.dumps(
        [{"error_type": run.error_type, "error_message": run.error_message, "timestamp": "{{processed_at}}"}]
    )


def _summary_json(run) -> str:
    records = 0 if run.outcome in ("failed", "skipped") or pd.isna(run.rows) else int(run.rows)
    return json.dumps({"data_date": run.data_date.isoformat(), "records_processed": records, "backfill": True})


# Base columns of _demo.processor_run_history: offsets instead of timestamps, a
# template instead of errors; the view turns them into the real columns.
RUN_BASE_COLUMNS = {
    "processor_name": "VARCHAR",
    "run_id": "VARCHAR",
    "phase": "VARCHAR",
    "output_table": "VARCHAR",
    "output_dataset": "VARCHAR",
    "data_date": "DATE",
    "status": "VARCHAR",
    "_started": "DOUBLE",
    "_processed": "DOUBLE",
    "records_processed": "BIGINT",
    "_errors": "VARCHAR",
    "warnings": "JSON",
    "summary": "JSON",
    "failure_category": "VARCHAR",
    "skipped": "BOOLEAN",
    "skip_reason": "VARCHAR",
    "backfill_mode": "BOOLEAN",
    "season_year": "BIGINT",
    "_at": "DOUBLE",
}


# --- writing DuckDB --------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return f'"{checked(name)}"'


def _relation(key: str) -> str:
    schema, name = key.split(".")
    return f"{_quoted(schema)}.{_quoted(name)}"


def _column_type(column: str, series: pd.Series) -> str:
    """The DuckDB type of a frame column this layout doesn't know: from its dtype (naive
    datetimes are dates here; timestamps are always time-zone aware)."""
    if pd.api.types.is_bool_dtype(series):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(series):
        return "BIGINT"
    if pd.api.types.is_float_dtype(series):
        return "DOUBLE"
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return "TIMESTAMPTZ"
    if pd.api.types.is_datetime64_dtype(series):
        return "DATE"
    return "VARCHAR"


KNOWN_TYPES = {**SCHEDULE_COLUMNS, **RUN_HISTORY_COLUMNS, **{c: t for c, (t, _, _) in DATA_COLUMNS.items()}}


def create_table(
    con: duckdb.DuckDBPyConnection, key: str, frame: pd.DataFrame, types: Mapping[str, str] | None = None
) -> None:
    """(Re)create table `key` ('schema.table') with the rows of `frame`. A column's type
    comes from `types`, else from the layout's known columns, else from its dtype."""
    schema = key.split(".")[0]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}")
    types = types or {}
    column_types = {c: types.get(c) or KNOWN_TYPES.get(c) or _column_type(c, frame[c]) for c in frame.columns}
    definition = ", ".join(f"{_quoted(c)} {t}" for c, t in column_types.items())
    con.execute(f"CREATE OR REPLACE TABLE {_relation(key)} ({definition})")
    if frame.empty:
        return
    casts = ", ".join(f"CAST({_quoted(c)} AS {t})" for c, t in column_types.items())
    con.register("_frame", frame)
    try:
        con.execute(f"INSERT INTO {_relation(key)} SELECT {casts} FROM _frame")  # noqa: S608 (checked names)
    finally:
        con.unregister("_frame")


_ELAPSED = "CAST(getvariable('demo_elapsed') AS DOUBLE)"


def _base_name(key: str) -> str:
    return f"{PRIVATE_SCHEMA}.{_quoted(key.replace('.', '__'))}"


def _create_data_view(con: duckdb.DuckDBPyConnection, key: str, columns: Sequence[str]) -> None:
    selected = ", ".join(_quoted(c) for c in columns)
    con.execute(
        f"CREATE VIEW {_relation(key)} AS SELECT {selected} FROM {_base_name(key)} WHERE _at <= {_ELAPSED}"  # noqa: S608
    )


_RUN_HISTORY_VIEW = """
CREATE VIEW {view} AS
WITH clock AS (
    SELECT CAST(getvariable('demo_t0') AS TIMESTAMPTZ) AS t0,
           CAST(getvariable('demo_speed') AS DOUBLE) AS speed,
           {elapsed} AS elapsed
), timed AS (
    SELECT r.*, clock.speed,
           clock.t0 + to_microseconds(CAST(round(r._started / clock.speed * 1e6) AS BIGINT)) AS started_at,
           clock.t0 + to_microseconds(CAST(round(r._processed / clock.speed * 1e6) AS BIGINT)) AS processed_at
    FROM {base} AS r, clock
    WHERE r._at <= clock.elapsed
)
SELECT processor_name, run_id, phase, output_table, output_dataset, data_date, status,
       started_at, processed_at,
       (_processed - _started) / speed AS duration_seconds,
       records_processed,
       CAST(replace(replace(_errors,
            '{{{{processed_at}}}}', strftime(processed_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')),
            '{{{{hours_stuck}}}}', CAST(round((_processed - _started) / speed / 3600, 2) AS VARCHAR)) AS JSON) AS errors,
       warnings, summary, failure_category, skipped, skip_reason, backfill_mode, season_year
FROM timed
"""


def install(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    schedule: pd.DataFrame,
    timeline: Timeline,
    *,
    t0: dt.datetime,
    seed: int,
    speed: float = 1.0,
) -> None:
    """Write the schedule, the timeline's base tables, the views and the meta table."""
    create_table(con, config.schedule.key, schedule)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {PRIVATE_SCHEMA}")
    for table in config.tables:
        rows = timeline.tables.get(table.key)
        if rows is None:
            rows = empty_table(table_columns(table)).assign(_at=pd.Series(dtype="float64"))
        create_table(con, f"{PRIVATE_SCHEMA}.{table.key.replace('.', '__')}", rows, {"_at": "DOUBLE"})
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(table.dataset)}")
        _create_data_view(con, table.key, list(table_columns(table)))
    create_table(con, f"{PRIVATE_SCHEMA}.{config.runs.key.replace('.', '__')}", timeline.runs, RUN_BASE_COLUMNS)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quoted(config.runs.dataset)}")
    con.execute(
        _RUN_HISTORY_VIEW.format(view=_relation(config.runs.key), base=_base_name(config.runs.key), elapsed=_ELAPSED)
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {PRIVATE_SCHEMA}.meta "
        "(t0 TIMESTAMPTZ, seed BIGINT, finish_offset_s DOUBLE, layout_version INTEGER, config_name VARCHAR, speed DOUBLE)"
    )
    con.execute(
        f"INSERT INTO {PRIVATE_SCHEMA}.meta VALUES (?, ?, ?, ?, ?, ?)",  # noqa: S608
        [t0, seed, timeline.finish_offset_s, LAYOUT_VERSION, config.name, speed],
    )


# --- the clock ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoMeta:
    t0: dt.datetime
    seed: int
    finish_offset_s: float
    speed: float = 1.0  # fixed when the demo is built, so every process reading the file sees the same clock


@dataclass(frozen=True)
class DemoStatus:
    t0: dt.datetime
    elapsed_s: float  # demo seconds since t0
    finished: bool
    finishes_at: dt.datetime  # wall-clock time the backfill finishes at this speed


def as_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def demo_path() -> Path:
    """$BACKFILL_DEMO_PATH, else `default_demo_path()`."""
    explicit = os.environ.get(DEMO_PATH_ENV)
    return Path(explicit).expanduser() if explicit else default_demo_path()


def default_demo_path() -> Path:
    """$XDG_CACHE_HOME (or ~/.cache)/backfill-monitor/demo.duckdb: a folder that holds nothing but the demo."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "backfill-monitor" / "demo.duckdb"


def speed() -> float:
    """$BACKFILL_DEMO_SPEED (default 1): how many demo seconds pass per wall-clock second."""
    raw = os.environ.get(SPEED_ENV, "").strip() or "1"
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{SPEED_ENV} must be a positive number, got {raw!r}")
    return value


def clock_variables(t0: dt.datetime, now: dt.datetime, speed: float) -> dict[str, object]:
    elapsed = (as_utc(now) - as_utc(t0)).total_seconds() * speed
    return {"demo_t0": as_utc(t0), "demo_elapsed": elapsed, "demo_speed": float(speed)}


_VARIABLE_TYPES = {"demo_t0": "TIMESTAMPTZ", "demo_elapsed": "DOUBLE", "demo_speed": "DOUBLE"}


def read_meta(con: duckdb.DuckDBPyConnection) -> DemoMeta:
    # fetchall, not fetchone: duckdb 2.0 refuses con.sql() while a result is unfinished
    rows = con.execute(f"SELECT t0, seed, finish_offset_s, speed FROM {PRIVATE_SCHEMA}.meta").fetchall()  # noqa: S608
    if len(rows) != 1:
        raise ValueError("the demo meta table must hold exactly one row")
    t0, seed, finish, built_speed = rows[0]
    return DemoMeta(as_utc(t0), int(seed), float(finish), float(built_speed))


def set_clock(con: duckdb.DuckDBPyConnection, now: dt.datetime, speed: float | None = None) -> None:
    """Point this connection's views at `now` (SET VARIABLE works on read-only connections).
    `speed` None: the speed the file was built with."""
    meta = read_meta(con)
    for name, value in clock_variables(meta.t0, now, speed or meta.speed).items():
        con.execute(f"SET VARIABLE {name} = CAST(? AS {_VARIABLE_TYPES[name]})", [value])


def status(con: duckdb.DuckDBPyConnection, now: dt.datetime, speed: float | None = None) -> DemoStatus:
    meta = read_meta(con)
    speed = speed or meta.speed
    elapsed = clock_variables(meta.t0, now, speed)["demo_elapsed"]
    finishes_at = meta.t0 + dt.timedelta(seconds=meta.finish_offset_s / speed)
    return DemoStatus(meta.t0, elapsed, elapsed >= meta.finish_offset_s, finishes_at)


# --- the demo file --------------------------------------------------------------------------------


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress:
        progress(fraction, message)


@dataclass(frozen=True)
class _Found:
    """What stands at the demo's path: missing, not_a_file, demo, old_demo (an earlier layout), database (a DuckDB
    database that is not a demo), locked (another process holds it for writing) or unreadable (not DuckDB)."""

    kind: str
    reason: str = ""


def _inspect(path: Path) -> _Found:
    if not os.path.lexists(path):
        return _Found("missing")
    if not path.is_file():
        return _Found("not_a_file")
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            try:
                rows = con.execute(f"SELECT max(layout_version) FROM {PRIVATE_SCHEMA}.meta").fetchall()  # noqa: S608
            except duckdb.CatalogException:
                return _Found("database")
    except (duckdb.Error, OSError) as exc:
        if is_interrupt(exc):  # the user's Ctrl+C, not a damaged file
            raise KeyboardInterrupt from None
        reason = " ".join(str(exc).split())
        return _Found("locked" if "lock" in reason.lower() else "unreadable", reason)
    return _Found("demo" if rows == [(LAYOUT_VERSION,)] else "old_demo")


def is_demo_file(path: Path) -> bool:
    """Whether `path` is a demo warehouse file (of any layout version)."""
    return _inspect(path).kind in ("demo", "old_demo")


def _refusal(path: Path, found: _Found, repair: bool) -> str | None:
    """Why the demo may not be built over what stands at `path` now, or None when it may.

    Nothing, or a demo of any layout, may be replaced; so may anything inside the demo's own cache folder. With
    `repair` (this process had its demo open at this very path) a locked or unreadable file is that demo, held
    by a writer or damaged. A DuckDB database that is not a demo is someone's data: never replaced."""
    if found.kind in ("missing", "demo", "old_demo"):
        return None
    if found.kind == "not_a_file":
        return f"{DEMO_PATH_ENV} must name a file, and {path} is not a file"
    if path.parent.resolve() == default_demo_path().parent.resolve():
        return None
    if repair and found.kind in ("locked", "unreadable"):
        return None
    if found.kind == "locked":
        return f"the demo file {path} is held by another process: {found.reason}"
    if found.kind == "unreadable":
        return (f"{path} is not a DuckDB database ({found.reason[:120]}): the demo never overwrites it; "
                f"if it is a damaged demo, remove it and a new one is built, or point {DEMO_PATH_ENV} at a new file")
    return (f"{path} exists and is not a demo warehouse: the demo never overwrites it; "
            f"point {DEMO_PATH_ENV} at a new file")


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive fcntl lock on `<file>.lock`, so only one process builds at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _remove(*paths: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _build(path: Path, *, now: dt.datetime, seed: int, progress: Progress | None, config: Config | None) -> None:
    """Build the demo into a temp file beside `path`, then move it into place atomically."""
    config = config or config_module.load()
    built_speed = speed()
    t0 = as_utc(now) - dt.timedelta(seconds=HEAD_START_HOURS * 3600 / built_speed)
    _report(progress, 0.05, "Generating the schedule")
    schedule = schedule_frame(config, seed)
    _report(progress, 0.2, "Planning the backfill")
    timeline = plan(config, schedule, demo_jobs(config, schedule, seed), seed, Mishaps())
    _report(progress, 0.6, "Writing the demo warehouse")
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp_wal = temp.with_name(temp.name + ".wal")
    _remove(temp, temp_wal)
    try:
        with duckdb.connect(str(temp), config={"temp_directory": ""}) as con:
            try:
                install(con, config, schedule, timeline, t0=t0, seed=seed, speed=built_speed)
                con.execute("CHECKPOINT")
            except (duckdb.Error, RuntimeError) as exc:
                if is_interrupt(exc):
                    raise KeyboardInterrupt from None
                raise
        _remove(path.with_name(path.name + ".wal"))
        os.replace(temp, path)
    finally:
        _remove(temp, temp_wal)
    _report(progress, 1.0, "Demo warehouse ready")


def ensure(
    path: Path | None = None,
    *,
    now: dt.datetime,
    progress: Progress | None = None,
    seed: int = 7,
    config: Config | None = None,
    repair: bool = False,
) -> Path:
    """The demo file at `path` (default `demo_path()`), built first if it is missing or an older demo (with a
    progress report only then). An existing demo is kept as it is (its t0 and seed). What else may be replaced,
    and when it is refused with a ValueError instead, is `_refusal`'s."""
    path = Path(path) if path else demo_path()
    if _ready(path, repair):
        return path
    with _lock(path):
        if not _ready(path, repair):  # another process may have built it while we waited
            _build(path, now=now, seed=seed, progress=progress, config=config)
    return path


def _ready(path: Path, repair: bool) -> bool:
    """True when a demo of this layout stands at `path`; False when one may be built there; else ValueError."""
    found = _inspect(path)
    if found.kind == "demo":
        return True
    refusal = _refusal(path, found, repair)
    if refusal:
        raise ValueError(refusal)
    return False


def restart(
    path: Path | None = None,
    *,
    now: dt.datetime,
    progress: Progress | None = None,
    seed: int = 7,
    config: Config | None = None,
) -> Path:
    """Rebuild the demo with a new t0 = now - head start. Connections opened before keep
    seeing the old file until they reconnect."""
    path = Path(path) if path else demo_path()
    with _lock(path):
        _build(path, now=now, seed=seed, progress=progress, config=config)
    return path


if __name__ == "__main__":  # python -m monitor.demo load ...: see monitor/demo_load.py
    from monitor.demo_load import main

    raise SystemExit(main())
