"""One refresh: run the three queries, normalise their types once, return a Snapshot.

`now` is taken once per snapshot (or pinned by $BACKFILL_NOW) and passed to SQL as a
parameter, so every figure of a snapshot agrees. A section whose query fails keeps its
error instead of a frame; it never turns into zeros.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from monitor import queries
from monitor.config import Config, Table
from monitor.errors import parse_errors
from monitor.warehouse.base import QueryError, Warehouse, one_line

NOW_ENV = "BACKFILL_NOW"
DEFAULT_DEADLINE_S = 30.0  # the whole refresh: a page that waits longer is broken anyway
MIN_QUERY_DEADLINE_S = 1.0

CATALOG_COLUMNS = ["key", "dataset", "table", "exists", "has_date_column"]
SCHEDULE_COLUMNS = ["day", "games"]
COVERAGE_COLUMNS = ["table", "day", "rows"]
RUN_COLUMNS = [
    "run_id", "processor_name", "data_date", "started_at", "outcome", "succeeded_at",
    "error_type", "error_message",
]
LAST_SUCCESS_COLUMNS = ["processor_name", "last_success_at"]


@dataclass(frozen=True)
class Section:
    """One query's share of a snapshot: its frame, or the reason it has none."""

    frame: pd.DataFrame | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Snapshot:
    checked_at: dt.datetime
    warehouse: str
    catalog: Section
    schedule: Section
    coverage: Section
    runs: Section
    last_success: Section
    queries: int = 0
    elapsed_s: float = 0.0
    bytes_processed: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


def resolve_now(now: dt.datetime | None = None) -> dt.datetime:
    """`now`, else $BACKFILL_NOW (ISO-8601, naive means UTC), else the clock; always UTC."""
    if now is None:
        pinned = os.environ.get(NOW_ENV)
        if pinned:
            try:
                now = dt.datetime.fromisoformat(pinned.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{NOW_ENV}={pinned!r} is not an ISO-8601 time") from None
        else:
            now = dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC)


# --- type normalisation: once, right after each query ------------------------


def as_dates(series: pd.Series) -> pd.Series:
    """Any date-ish column (DuckDB datetime64, BigQuery dbdate, objects) to datetime64[s]."""
    if hasattr(series, "dt") and isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    converted = pd.to_datetime(series.astype("object"), errors="coerce")
    return converted.dt.normalize().astype("datetime64[s]")


def as_timestamps(series: pd.Series) -> pd.Series:
    """Any timestamp column to datetime64[us, UTC] (DuckDB returns the local zone)."""
    return pd.to_datetime(series.astype("object"), errors="coerce", utc=True).astype("datetime64[us, UTC]")


def _flag(series: pd.Series) -> pd.Series:
    return series.astype("boolean").fillna(False).astype(bool)


def normalise_catalog(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    present = {(str(r.dataset), str(r.table_name)): set() for r in frame.itertuples()}
    for r in frame.itertuples():
        present[(str(r.dataset), str(r.table_name))].add(str(r.column_name).lower())
    rows = []
    for source, table, column in _sources(config):
        cols = present.get((source.dataset, table))
        rows.append((f"{source.dataset}.{table}", source.dataset, table, cols is not None, bool(cols and column.lower() in cols)))
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS)


def _sources(config: Config):
    s = config.schedule
    yield s, s.table, s.date_column
    yield config.runs, config.runs.table, "data_date"
    for t in config.tables:
        yield t, t.name, t.date_column


def normalise_coverage(frame: pd.DataFrame, schedule_key: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = frame.assign(day=as_dates(frame["day"]), n=pd.to_numeric(frame["n"]).astype("int64"))
    frame = frame[frame["day"].notna()]
    is_schedule = frame["source"] == schedule_key
    schedule = frame[is_schedule].rename(columns={"n": "games"})[SCHEDULE_COLUMNS]
    coverage = frame[~is_schedule].rename(columns={"source": "table", "n": "rows"})[COVERAGE_COLUMNS]
    return (
        schedule.sort_values("day").reset_index(drop=True),
        coverage.astype({"table": "str"}).sort_values(["table", "day"]).reset_index(drop=True),
    )


def outcome_of(row) -> str:
    """A run's outcome from its collapsed flags, first match wins (see DESIGN.md, Runs)."""
    if row.has_success:
        return "success"
    if row.has_failure:
        return "failed"
    if row.has_partial:
        return "partial"
    if row.has_skipped:
        return "skipped"
    if row.has_cleanup:
        return "failed_cleanup"
    return "running"


def normalise_runs(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = frame.copy()
    for col in ("has_success", "has_failure", "has_partial", "has_skipped", "has_cleanup"):
        frame[col] = _flag(frame[col])
    frame["started_at"] = as_timestamps(frame["started_at"])
    frame["succeeded_at"] = as_timestamps(frame["succeeded_at"])
    frame["data_date"] = as_dates(frame["data_date"])
    last = frame[frame["kind"] == "last_success"]
    last_success = pd.DataFrame(
        {"processor_name": last["processor_name"].astype("str"), "last_success_at": last["succeeded_at"]}
    ).sort_values("processor_name").reset_index(drop=True)
    runs = frame[frame["kind"] == "run"].reset_index(drop=True)
    parsed = [
        parse_errors(_none(r.errors_json), _none(r.failure_category), _none(r.cleanup_reason))
        if r.has_failure or r.has_cleanup
        else ("", "")
        for r in runs.itertuples()
    ]
    runs["outcome"] = [outcome_of(r) for r in runs.itertuples()]
    runs["error_type"] = pd.Series([p[0] for p in parsed], dtype="str")
    runs["error_message"] = pd.Series([p[1] for p in parsed], dtype="str")
    runs = runs.astype({"run_id": "str", "processor_name": "str"})[RUN_COLUMNS]
    # SQL gives no row order: sort fully (ties on started_at by run_id), so every engine yields the same frame.
    runs = runs.sort_values(["started_at", "run_id"], ascending=[False, True], kind="stable")
    return runs.reset_index(drop=True), last_success


def _none(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else value


# --- fetch ---------------------------------------------------------------------


class _Counter:
    def __init__(self, wh: Warehouse, now: dt.datetime, deadline_s: float):
        self.wh, self.now = wh, now
        self.deadline_at = time.monotonic() + deadline_s  # one budget for the whole refresh, not per query
        self.queries, self.bytes = 0, None

    def run(self, q: queries.Query) -> pd.DataFrame:
        self.queries += 1
        left = max(MIN_QUERY_DEADLINE_S, self.deadline_at - time.monotonic())
        result = self.wh.query(q.sql, q.params, now=self.now, deadline_s=left)
        if result.bytes_processed is not None:
            self.bytes = (self.bytes or 0) + result.bytes_processed
        return result.frame


def _attempt(fn):
    try:
        return fn(), None
    except QueryError as exc:
        return None, str(exc)
    except Exception as exc:  # a driver error we did not foresee still becomes a reason, not a crash
        return None, f"{exc.__class__.__name__}: {one_line(exc)}"


def fetch(config: Config, wh: Warehouse, now: dt.datetime | None = None, deadline_s: float | None = None) -> Snapshot:
    """Run catalog and runs side by side, then coverage over the tables that exist."""
    now = resolve_now(now)
    started = time.perf_counter()
    counter = _Counter(wh, now, DEFAULT_DEADLINE_S if deadline_s is None else deadline_s)
    with ThreadPoolExecutor(max_workers=2) as pool:
        catalog_f = pool.submit(_attempt, lambda: normalise_catalog(counter.run(queries.catalog(config, wh)), config))
        runs_f = pool.submit(_attempt, lambda: normalise_runs(counter.run(queries.runs(config, wh, now))))
        catalog_frame, catalog_error = catalog_f.result()
        tables, schedule_ok, errors = _readable(config, catalog_frame)
        coverage_frames, coverage_error = (None, None)
        if schedule_ok or tables:
            q = queries.coverage(config, wh, tables, include_schedule=schedule_ok)
            coverage_frames, coverage_error = _attempt(lambda: normalise_coverage(counter.run(q), config.schedule.key))
        run_frames, runs_error = runs_f.result()

    catalog_section = Section(catalog_frame, catalog_error)
    if coverage_error:
        schedule = coverage = Section(error=coverage_error)
    else:
        sched_frame, cov_frame = coverage_frames or (pd.DataFrame(columns=SCHEDULE_COLUMNS), pd.DataFrame(columns=COVERAGE_COLUMNS))
        schedule = Section(sched_frame) if schedule_ok else Section(error=errors[config.schedule.key])
        coverage = Section(cov_frame)
    if config.runs.key in errors:  # the catalog's short reason beats the engine's long one
        runs_error, run_frames = errors[config.runs.key], None
    runs_section = Section(run_frames[0], runs_error) if run_frames else Section(error=runs_error)
    last_section = Section(run_frames[1]) if run_frames else Section(error=runs_error)
    return Snapshot(
        checked_at=now,
        warehouse=wh.label,
        catalog=catalog_section,
        schedule=schedule,
        coverage=coverage,
        runs=runs_section,
        last_success=last_section,
        queries=counter.queries,
        elapsed_s=round(time.perf_counter() - started, 3),
        bytes_processed=counter.bytes,
        errors=errors,
    )


def _readable(config: Config, catalog: pd.DataFrame | None) -> tuple[list[Table], bool, dict[str, str]]:
    """Tables that coverage may read, whether the schedule is readable, and a reason per unreadable source.

    Without a catalog (its query failed) every source is tried, and coverage reports what fails.
    """
    if catalog is None:
        return list(config.tables), True, {}
    errors = {}
    for row in catalog.itertuples():
        if not row.exists:
            errors[row.key] = f"table not found: {row.key}"
        elif not row.has_date_column:
            errors[row.key] = f"date column missing: {row.key} has no column {_date_column(config, row.key)}"
    tables = [t for t in config.tables if t.key not in errors]
    return tables, config.schedule.key not in errors, errors


def _date_column(config: Config, key: str) -> str:
    if key == config.schedule.key:
        return config.schedule.date_column
    if key == config.runs.key:
        return "data_date"
    return next(t.date_column for t in config.tables if t.key == key)
