"""What BigQuery would bill (on-demand) for a refresh, estimated from the same rows held in DuckDB.

Neither engine here reports real BigQuery bytes: DuckDB reports none and the emulator reports 0 for every job.
This model applies BigQuery's documented rules to the warehouse's actual rows:

- a query is billed for the columns it references, over the partitions it reads: every table here is
  partitioned by its date column (the run history by data_date, the schedule by game_date), so a filter on
  that column prunes partitions, a filter on anything else (e.g. started_at) reads them all;
- logical sizes: DATE, INT64, FLOAT64, TIMESTAMP 8 bytes, BOOL 1, STRING 2 + its UTF-8 bytes, JSON its text;
- on-demand minimums: 10 MB per table referenced and per query; a query on INFORMATION_SCHEMA views
  bills its 10 MB minimum (they are metadata: no table bytes);
- a table referenced twice in one query is counted once, with the union of the columns (as a dry run counts).
Clustering (the run history is clustered by processor_name, status) can only lower real figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from monitor.config import Config

MIN_BYTES = 10 * 1024 * 1024
FIXED = {"DATE": 8, "BIGINT": 8, "INTEGER": 8, "DOUBLE": 8, "FLOAT": 8, "TIMESTAMP WITH TIME ZONE": 8,
         "TIMESTAMP": 8, "BOOLEAN": 1}

RUNS_RECENT = ["run_id", "processor_name", "data_date", "status", "started_at", "processed_at", "failure_category", "errors"]
RUNS_LAST = ["processor_name", "data_date", "status", "started_at", "processed_at"]
RUNS_UNRESOLVED = ["processor_name", "data_date", "status", "started_at", "errors", "failure_category"]


@dataclass
class Job:
    reads: dict[str, tuple[set[str], tuple[dt.date, dt.date] | None]] = field(default_factory=dict)
    information_schema: bool = False

    def read(self, key: str, columns, window: tuple[dt.date, dt.date] | None) -> Job:
        cols, win = self.reads.get(key, (set(), window))
        if win is not None and window is not None:
            win = (min(win[0], window[0]), max(win[1], window[1]))
        else:
            win = None
        self.reads[key] = (cols | set(columns), win)
        return self


class Model:
    def __init__(self, path: Path, config: Config):
        self.config = config
        self.con = duckdb.connect(str(path), read_only=True)
        rows = self.con.execute(
            "SELECT table_schema || '.' || table_name, column_name, data_type FROM information_schema.columns").fetchall()
        self.types: dict[str, dict[str, str]] = {}
        for key, column, kind in rows:
            self.types.setdefault(key, {})[column] = kind
        self.partition_column = {config.schedule.key: config.schedule.date_column, config.runs.key: "data_date",
                                 **{t.key: t.date_column for t in config.tables}}
        self._memo: dict[tuple, int] = {}

    def close(self) -> None:
        self.con.close()

    def _size(self, key: str, column: str) -> str:
        kind = self.types[key][column].upper()
        if kind in FIXED:
            return f'CASE WHEN "{column}" IS NULL THEN 0 ELSE {FIXED[kind]} END'
        if kind == "JSON":
            return f'coalesce(strlen(CAST("{column}" AS VARCHAR)), 0)'
        return f'coalesce(2 + strlen(CAST("{column}" AS VARCHAR)), 0)'

    def table_bytes(self, key: str, columns: set[str], window: tuple[dt.date, dt.date] | None) -> int:
        """Bytes of `columns` of table `key` over the partitions inside `window` (None: all), before minimums."""
        if key not in self.types:
            return 0  # the table does not exist: the query fails and bills nothing
        columns = {c for c in columns if c in self.types[key]}
        memo = (key, frozenset(columns), window)
        if memo not in self._memo:
            schema, name = key.split(".")
            total = " + ".join(self._size(key, c) for c in sorted(columns)) or "0"
            where, params = "", []
            part = self.partition_column.get(key)
            if window is not None and part in self.types[key]:
                where, params = f' WHERE "{part}" BETWEEN ? AND ?', list(window)
            sql = f'SELECT coalesce(sum({total}), 0) FROM "{schema}"."{name}"{where}'
            self._memo[memo] = int(self.con.execute(sql, params).fetchone()[0])
        return self._memo[memo]

    def billed(self, jobs: list[Job]) -> int:
        out = 0
        for job in jobs:
            if job.information_schema and not job.reads:
                out += MIN_BYTES
                continue
            tables = [max(MIN_BYTES, self.table_bytes(k, cols, win)) for k, (cols, win) in job.reads.items()
                      if k in self.types]
            out += max(MIN_BYTES, sum(tables)) if tables or job.information_schema else 0
        return out

    # --- the two query patterns ------------------------------------------------------

    def baseline_jobs(self) -> list[Job]:
        c = self.config
        s = c.schedule
        jobs = []
        scopes = [(c.start, c.end)] + [(max(x.start, c.start), min(x.end, c.end)) for x in c.seasons]
        for window in scopes:
            for phase in c.phases:
                jobs.append(Job().read(s.key, [s.date_column, s.status_column], window))
                jobs += [Job().read(t.key, [t.date_column], window) for t in phase.tables]
        for _ in c.phases:  # rate: filtered on started_at, so every partition is read
            jobs.append(Job().read(c.runs.key, ["data_date", "processor_name", "status", "started_at"], None))
        jobs.append(Job().read(c.runs.key, ["processor_name", "data_date", "started_at", "errors", "status"], None))
        return jobs

    def ours_jobs(self, scanned: list[str], catalog: bool, partitions_job: bool) -> list[Job]:
        """Ours: catalog (if not cached; it carries the partition metadata when any table uses it), a separate
        partition-metadata job (cached catalog), coverage over the schedule and the `scanned` table keys, runs."""
        c = self.config
        s = c.schedule
        window = (c.start, c.end)
        jobs = []
        if catalog or partitions_job:
            jobs.append(Job(information_schema=True))
        coverage = Job().read(s.key, [s.date_column, s.game_id_column, s.status_column], window)
        for t in c.tables:
            if t.key in scanned:
                coverage.read(t.key, [t.date_column], window)
        jobs.append(coverage)
        jobs.append(Job().read(c.runs.key, RUNS_RECENT, window).read(c.runs.key, RUNS_LAST, window)
                    .read(c.runs.key, RUNS_UNRESOLVED, window))
        return jobs
