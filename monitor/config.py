"""Pipeline config: a TOML file read with tomllib into frozen dataclasses.

Every key is checked once here (type, range, identifier pattern, unknown keys), so
the rest of the monitor can trust the config. A bad file raises ConfigError whose
message is one line naming the key and the reason.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.identifiers import IDENTIFIER, JOB_PATH, PROJECT_ID, SEASON_NAME

DEFAULT_CONFIG = Path(__file__).parent / "pipelines" / "nba.toml"
CONFIG_ENV = "BACKFILL_CONFIG"
# Where a table's per-date row counts come from: "scan" counts rows (COUNT(*) per date inside the window);
# "partitions" reads them from the warehouse's partition metadata (BigQuery's INFORMATION_SCHEMA.PARTITIONS)
# when the table is partitioned by day on its date column, else falls back to the scan; "auto" (default) is
# "partitions" wherever the engine keeps partition metadata and the catalog shows the table partitioned by
# day on its date column. Engines without partition metadata (DuckDB) always scan.
COVERAGE_MODES = ("auto", "scan", "partitions")
MAX_INT = 1_000_000_000  # any count or window beyond this is a typo (and would overflow dates and timers)
MAX_HISTORY_HOURS = 7 * 24
MAX_CONFIG_BYTES = 1024 * 1024  # the runs query reads every row of these hours in full


class ConfigError(ValueError):
    """A config file that cannot be used; str() is one line naming the key."""

    def __init__(self, key: str, reason: str, source: str = ""):
        self.key, self.reason, self.source = key, reason, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {reason}")


@dataclass(frozen=True)
class Season:
    name: str
    start: dt.date
    end: dt.date
    opener: dt.date

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Table:
    name: str
    dataset: str
    date_column: str
    processor: str
    backfill_job: str
    min_rows_per_game: int = 0
    coverage: str = "auto"  # one of COVERAGE_MODES

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.name}"


@dataclass(frozen=True)
class Phase:
    name: str
    label: str
    bootstrap_days: int
    stages: tuple[tuple[Table, ...], ...]

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for stage in self.stages for t in stage)


@dataclass(frozen=True)
class Source:
    dataset: str
    table: str

    @property
    def key(self) -> str:
        return f"{self.dataset}.{self.table}"


@dataclass(frozen=True)
class Schedule(Source):
    date_column: str = "game_date"
    game_id_column: str = "game_id"
    status_column: str = "game_status"
    final_status: int = 3


@dataclass(frozen=True)
class Thresholds:
    rate_window_minutes: int = 60
    failure_window_minutes: int = 120
    stuck_after_minutes: int = 120
    history_hours: int = 24
    many_failures: int = 20
    max_date_spread: int = 7


@dataclass(frozen=True)
class Config:
    name: str
    project: str | None
    start: dt.date
    end: dt.date
    schedule: Schedule
    runs: Source
    seasons: tuple[Season, ...]
    phases: tuple[Phase, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    source: str = ""

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(t for p in self.phases for t in p.tables)

    @property
    def datasets(self) -> tuple[str, ...]:
        names = [self.schedule.dataset, self.runs.dataset, *(t.dataset for t in self.tables)]
        return tuple(dict.fromkeys(names))

    def season(self, name: str | None) -> Season | None:
        """The season called `name` (None, "" or "all" in any case: all seasons); ValueError listing valid names.

        Surrounding spaces are ignored (a pasted `--season " 2023-24"`, a `?season=all` typed by hand)."""
        name = (name or "").strip()
        if name.lower() in ("", "all"):
            return None
        for s in self.seasons:
            if s.name == name:
                return s
        valid = ", ".join(["All", *(s.name for s in self.seasons)])
        raise ValueError(f"unknown season {name[:40]!r}; valid seasons: {valid}")

    def season_of(self, day: dt.date) -> Season | None:
        for s in self.seasons:
            if s.contains(day):
                return s
        return None

    def table_for_processor(self, processor: str) -> Table | None:
        return next((t for t in self.tables if t.processor == processor), None)

    def phase_of(self, table: Table) -> Phase:
        return next(p for p in self.phases if table in p.tables)


# --- reading -----------------------------------------------------------------


class _Reader:
    """Pulls typed values out of one TOML table, tracking the key path for messages."""

    def __init__(self, data: Any, path: str, source: str):
        self.path, self.source = path, source
        if not isinstance(data, dict):
            self.fail(path, "must be a table")
        self.data, self.used = data, set()

    def fail(self, key: str, reason: str):
        raise ConfigError(key, reason, self.source)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *, what: str = ""):
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                self.fail(self.key(name), "missing")
            return default
        value = self.data[name]
        # bool is an int in Python; a config that says `true` for a number is wrong.
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            self.fail(self.key(name), f"must be {what or _kind_name(kind)}, got {_toml_type(value)}")
        if isinstance(value, str) and any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
            self.fail(self.key(name), "must not contain control or invisible format characters "
                                      "(newlines, escape codes, zero-width spaces, direction marks)")
        return value

    def identifier(self, name: str, pattern=IDENTIFIER, default: Any = ...) -> str:
        value = self.get(name, str, default)
        if value is not None and not pattern.fullmatch(value):
            self.fail(self.key(name), f"{value!r} is not a valid name (expected {pattern.pattern})")
        return value

    def int(self, name: str, default: Any = ..., minimum: int | None = None, maximum: int = MAX_INT, why: str = "") -> int:
        value = self.get(name, int, default)
        if minimum is not None and value < minimum:
            self.fail(self.key(name), f"must be >= {minimum}, got {value}")
        if value > maximum:
            self.fail(self.key(name), f"must be <= {maximum}{why}, got {value}")
        return value

    def date(self, name: str) -> dt.date:
        value = self.get(name, dt.date, what="a date (YYYY-MM-DD)")
        if isinstance(value, dt.datetime):
            self.fail(self.key(name), "must be a date (YYYY-MM-DD), not a date-time")
        return value

    def sub(self, name: str, default: Any = ...) -> _Reader:
        value = self.get(name, dict, {} if default is not ... else ..., what="a table")
        return _Reader(value, self.key(name), self.source)

    def done(self):
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(self.key(unknown[0]), "unknown key")


def _kind_name(kind) -> str:
    names = {str: "a string", int: "an integer", dict: "a table", list: "an array", bool: "true or false"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def _toml_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return _kind_name(type(value)) if type(value) in (str, int, dict, list) else type(value).__name__


def _read_source(r: _Reader, cls=Source, **extra) -> Source:
    return cls(dataset=r.identifier("dataset"), table=r.identifier("table"), **extra)


def _read_table(name: str, r: _Reader) -> Table:
    if not IDENTIFIER.fullmatch(name):
        r.fail(r.path, f"{name!r} is not a valid table name (expected {IDENTIFIER.pattern})")
    table = Table(
        name=name,
        dataset=r.identifier("dataset"),
        date_column=r.identifier("date_column"),
        processor=r.identifier("processor"),
        backfill_job=r.identifier("backfill_job", JOB_PATH),
        min_rows_per_game=r.int("min_rows_per_game", 0, minimum=0),
        coverage=r.get("coverage", str, "auto"),
    )
    if table.coverage not in COVERAGE_MODES:
        r.fail(r.key("coverage"), f"must be one of {', '.join(COVERAGE_MODES)}, got {table.coverage!r}")
    r.done()
    return table


def parse(data: dict, source: str = "") -> Config:
    root = _Reader(data, "", source)

    p = root.sub("pipeline")
    name = p.get("name", str, "backfill")
    project = p.identifier("project", PROJECT_ID, None)
    start, end = p.date("start"), p.date("end")
    if end < start:
        p.fail("pipeline.end", f"{end} is before pipeline.start {start}")
    p.done()

    s = root.sub("schedule")
    schedule = _read_source(
        s,
        Schedule,
        date_column=s.identifier("date_column", default="game_date"),
        game_id_column=s.identifier("game_id_column", default="game_id"),
        status_column=s.identifier("status_column", default="game_status"),
        final_status=s.int("final_status", 3),
    )
    s.done()

    r = root.sub("runs")
    runs = _read_source(r)
    r.done()

    t = root.sub("thresholds", default={})
    # Recent runs are read for `history_hours` only, so every window that looks at them must fit inside it.
    history_hours = t.int("history_hours", 24, minimum=1, maximum=MAX_HISTORY_HOURS)
    within = f" (thresholds.history_hours = {history_hours}: only those hours of runs are read)"
    thresholds = Thresholds(
        rate_window_minutes=t.int("rate_window_minutes", 60, minimum=1, maximum=history_hours * 60, why=within),
        failure_window_minutes=t.int("failure_window_minutes", 120, minimum=1, maximum=history_hours * 60, why=within),
        stuck_after_minutes=t.int("stuck_after_minutes", 120, minimum=1),
        history_hours=history_hours,
        many_failures=t.int("many_failures", 20, minimum=0),
        max_date_spread=t.int("max_date_spread", 7, minimum=0),
    )
    if thresholds.stuck_after_minutes >= 240:
        t.fail("thresholds.stuck_after_minutes", "must be below 240 (the 4 h cleanup turns older running rows into failures)")
    if thresholds.stuck_after_minutes >= history_hours * 60:
        t.fail("thresholds.stuck_after_minutes", f"must be below {history_hours * 60}{within}")
    t.done()

    seasons = _read_seasons(root.get("seasons", list, what="an array of tables"), start, end, source)

    tables_r = root.sub("tables")
    tables = {n: _read_table(n, tables_r.sub(n)) for n in tables_r.data}
    tables_r.used.update(tables)
    if not tables:
        tables_r.fail("tables", "must define at least one table")
    phases = _read_phases(root.get("phases", list, what="an array of tables"), tables, source)
    root.done()

    config = Config(name, project, start, end, schedule, runs, seasons, phases, thresholds, source)
    processors = [tb.processor for tb in config.tables]
    dup = next((x for x in processors if processors.count(x) > 1), None)
    if dup:
        raise ConfigError("tables", f"processor {dup!r} is used by more than one table", source)
    return config


def _read_seasons(items: list, start: dt.date, end: dt.date, source: str) -> tuple[Season, ...]:
    seasons: list[Season] = []
    for i, item in enumerate(items):
        r = _Reader(item, f"seasons[{i}]", source)
        season = Season(r.identifier("name", SEASON_NAME), r.date("start"), r.date("end"), r.date("opener"))
        r.done()
        if season.end < season.start:
            r.fail(r.key("end"), f"{season.end} is before start {season.start}")
        if not season.contains(season.opener):
            r.fail(r.key("opener"), f"{season.opener} lies outside the season {season.start}..{season.end}")
        if season.end < start or season.start > end:
            r.fail(r.key("start"), f"season {season.name} lies outside the pipeline window {start}..{end}")
        for other in seasons:
            if other.name == season.name:
                r.fail(r.key("name"), f"season {season.name} is defined twice")
            if season.start <= other.end and other.start <= season.end:
                r.fail(r.key("start"), f"season {season.name} overlaps season {other.name}")
        seasons.append(season)
    if not seasons:
        raise ConfigError("seasons", "must define at least one season", source)
    return tuple(sorted(seasons, key=lambda s: s.start))


def spoken(name: str) -> str:
    """A phase name as `--check` matches it: case and runs of spaces do not count."""
    return " ".join(name.split()).casefold()


def _read_phases(items: list, tables: dict[str, Table], source: str) -> tuple[Phase, ...]:
    phases: list[Phase] = []
    placed: dict[str, str] = {}
    for i, item in enumerate(items):
        r = _Reader(item, f"phases[{i}]", source)
        name = r.get("name", str)
        if not name.strip() or len(name) > 64:
            r.fail(r.key("name"), "must be 1 to 64 characters")
        label = r.get("label", str, "")
        bootstrap = r.int("bootstrap_days", 0, minimum=0, maximum=366)  # days after a season's opener: at most a year
        raw_stages = r.get("stages", list, what="an array of arrays of table names")
        stages = []
        for j, stage in enumerate(raw_stages):
            key = r.key(f"stages[{j}]")
            if not isinstance(stage, list) or not stage:
                r.fail(key, "must be a non-empty array of table names")
            members = []
            for tname in stage:
                if not isinstance(tname, str) or tname not in tables:
                    r.fail(key, f"{tname!r} is not a table defined under [tables]")
                if tname in placed:
                    r.fail(key, f"{tname!r} is already in {placed[tname]}")
                placed[tname] = name
                members.append(tables[tname])
            stages.append(tuple(members))
        if not stages:
            r.fail(r.key("stages"), "a phase needs at least one table")
        if any(spoken(p.name) == spoken(name) for p in phases):  # `--check NAME` matches as a person types it
            r.fail(r.key("name"), f"phase {name!r} is defined twice (names are compared ignoring case and spacing)")
        r.done()
        phases.append(Phase(name, label, bootstrap, tuple(stages)))
    if not phases:
        raise ConfigError("phases", "must define at least one phase", source)
    unused = sorted(set(tables) - set(placed))
    if unused:
        raise ConfigError(f"tables.{unused[0]}", "is not in any phase's stages", source)
    return tuple(phases)


def load(path: str | os.PathLike | None = None) -> Config:
    """Load `path`, else $BACKFILL_CONFIG, else the packaged NBA pipeline."""
    path = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    source = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)  # a bounded read: /dev/zero or a huge file is refused, not read
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError("file", "not found", source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("file", f"cannot be read ({exc.__class__.__name__})", source) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError("file", f"larger than {MAX_CONFIG_BYTES // 1024} KiB: not a pipeline config", source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("toml", str(exc).splitlines()[0], source) from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ConfigError("toml", "nested too deeply", source) from None
    return parse(data, source)
