"""One refresh: run at most four queries, normalise their types once, return a Snapshot.

`now` is taken once per snapshot (or pinned by $BACKFILL_NOW) and passed to SQL as a
parameter, so every figure of a snapshot agrees. A section whose query fails keeps its
error instead of a frame; it never turns into zeros.

The queries: catalog (which tables exist, with their columns; on BigQuery it also reads the
partition metadata of the tables that may use it), runs, and coverage (the schedule, plus a
scan of every table whose per-date row counts the partition metadata does not give exactly).
With a CatalogCache the catalog is reused for a while (tables rarely appear); the partition
metadata then is a job of its own, run beside coverage and runs, and a fourth query scans the
tables it could not serve (rows still in the streaming buffer). Without partition metadata
(DuckDB, or every table `coverage = "scan"`) a refresh is catalog + coverage + runs, or
coverage + runs with the catalog cached.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from monitor import queries
from monitor.config import Config, Table
from monitor.errors import parse_errors
from monitor.warehouse.base import QueryError, Warehouse, one_line

NOW_ENV = "BACKFILL_NOW"
EARLIEST_NOW, LATEST_NOW = dt.datetime(1970, 1, 1), dt.datetime(9000, 1, 1)
DEFAULT_DEADLINE_S = 30.0  # the whole refresh: a page that waits longer is broken anyway
MIN_QUERY_DEADLINE_S = 1.0

CATALOG_COLUMNS = ["key", "dataset", "table", "exists", "has_date_column", "date_type"]
SCHEDULE_COLUMNS = ["day", "games"]
COVERAGE_COLUMNS = ["table", "day", "rows"]
RUN_COLUMNS = [
    "run_id", "processor_name", "data_date", "started_at", "outcome", "succeeded_at",
    "error_type", "error_message",
]
LAST_SUCCESS_COLUMNS = ["processor_name", "last_success_at"]
UNRESOLVED_COLUMNS = ["processor_name", "data_date", "last_failed_at", "outcome", "error_type", "error_message"]

# Where a table's per-date row counts came from (Snapshot.coverage_sources, the JSON's tables[].coverage_source).
SOURCE_SCAN = "scan"  # COUNT(*) per date: configured so, or an engine without partition metadata
SOURCE_PARTITIONS = "partitions"  # INFORMATION_SCHEMA.PARTITIONS: no bytes scanned, whatever the table's size
SOURCE_STREAMING = "scan (streaming buffer)"  # partitioned by day, but rows still in the streaming buffer
SOURCE_NOT_DAILY = "scan (not partitioned by day)"  # not partitioned by day on its date column


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
    unresolved: Section  # (processor, data_date) of the whole window whose latest final run failed
    queries: int = 0
    elapsed_s: float = 0.0
    bytes_processed: int | None = None
    errors: dict[str, str] = field(default_factory=dict)
    coverage_sources: dict[str, str] = field(default_factory=dict)  # table key -> SOURCE_*, for tables read


def resolve_now(now: dt.datetime | None = None) -> dt.datetime:
    """`now`, else $BACKFILL_NOW (ISO-8601, naive means UTC), else the clock; always UTC."""
    if now is None:
        pinned = os.environ.get(NOW_ENV, "").strip()
        if pinned:
            try:
                now = dt.datetime.fromisoformat(pinned.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{NOW_ENV}={pinned[:40]!r} is not an ISO-8601 time") from None
            if not EARLIEST_NOW <= now.replace(tzinfo=None) <= LATEST_NOW:  # every window is taken back from it
                raise ValueError(f"{NOW_ENV}={pinned!r} is out of range ({EARLIEST_NOW.year} to {LATEST_NOW.year})")
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
    if pd.api.types.is_datetime64_dtype(series.dtype):  # DuckDB's dates: no trip through Python objects
        converted = series
    else:
        converted = pd.to_datetime(series.astype("object"), errors="coerce")
    return converted.dt.normalize().astype("datetime64[s]")


def as_timestamps(series: pd.Series) -> pd.Series:
    """Any timestamp column to datetime64[us, UTC] (DuckDB returns the local zone)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return pd.to_datetime(series.astype("object"), errors="coerce", utc=True).astype("datetime64[us, UTC]")


def _flag(series: pd.Series) -> pd.Series:
    return series.astype("boolean").fillna(False).astype(bool)


def normalise_catalog(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    if "partition_id" in frame.columns:  # the same job's partition rows (see normalise_partitions) have no column
        frame = frame[frame["column_name"].notna()]
    present: dict[tuple[str, str], dict[str, str]] = {(str(r.dataset), str(r.table_name)): {} for r in frame.itertuples()}
    for r in frame.itertuples():
        present[(str(r.dataset), str(r.table_name))][str(r.column_name).lower()] = str(r.data_type).upper()
    rows = []
    for source, table, column in _sources(config):
        cols = present.get((source.dataset, table))
        date_type = (cols or {}).get(column.lower())
        rows.append((f"{source.dataset}.{table}", source.dataset, table, cols is not None, date_type is not None, date_type))
    return pd.DataFrame(rows, columns=CATALOG_COLUMNS)


@dataclass(frozen=True)
class Partitions:
    """What partition metadata says about one table, inside the window."""

    days: pd.DataFrame  # COVERAGE_COLUMNS: day partitions with rows
    streaming_rows: int = 0  # rows in the streaming buffer (__UNPARTITIONED__), not yet in a day partition
    daily: bool = True  # False when some partition id is not a day (month/year partitioning, unpartitioned)


def partition_columns(frame: pd.DataFrame, config: Config) -> dict[str, tuple[str, str]]:
    """Table key -> (column, type) of its partitioning column, per the catalog's column rows (tables partitioned
    by ingestion time, or not at all, have none)."""
    if "is_partitioning_column" not in frame.columns:
        return {}
    frame = frame[frame["column_name"].notna()]
    marked = {
        (str(r.dataset), str(r.table_name)): (str(r.column_name).lower(), str(r.data_type).upper())
        for r in frame.itertuples()
        if str(r.is_partitioning_column).upper() == "YES"
    }
    return {t.key: marked[(t.dataset, t.name)] for t in config.tables if (t.dataset, t.name) in marked}


def normalise_partitions(frame: pd.DataFrame, config: Config, tables: list[Table]) -> dict[str, Partitions]:
    """Partition rows (dataset, table_name, partition_id, total_rows) -> what they say per table key, for `tables`."""
    if "column_name" in frame.columns:
        frame = frame[frame["column_name"].isna()]
    day_len = len(config.start.strftime(queries.DAY_PARTITION_ID))
    key = frame["dataset"].astype("str") + "." + frame["table_name"].astype("str")
    pid = frame["partition_id"].astype("object")
    text = pid.where(pid.notna(), "").astype("str")
    n = pd.to_numeric(frame["total_rows"]).astype("Float64")
    streaming = (text == queries.STREAMING_PARTITION).to_numpy()
    day = (pid.notna() & (text.str.len() == day_len) & text.str.isdigit() & n.notna()).to_numpy(dtype=bool)
    # unpartitioned (NULL id), partitioned by month or year, or a day partition without its row count
    not_daily = set(key[~streaming & ~day])
    buffered = n[streaming].fillna(0).groupby(key[streaming]).sum()
    keep = day & (n.fillna(0) > 0).to_numpy(dtype=bool)
    days = pd.DataFrame({
        "table": key[keep].to_numpy(),
        "day": pd.to_datetime(text[keep], format=queries.DAY_PARTITION_ID).astype("datetime64[s]").to_numpy(),
        "rows": n[keep].astype("int64").to_numpy(),
    })
    out = {}
    for t in tables:
        mine = days[days["table"] == t.key].reset_index(drop=True).astype({"table": "str"})
        out[t.key] = Partitions(mine, int(buffered.get(t.key, 0)), t.key not in not_daily)
    return out


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


def normalise_runs(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The runs query's rows as (recent runs, each processor's last success, unresolved failures)."""
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
    runs = _with_outcomes(frame[frame["kind"] == "run"].reset_index(drop=True))
    runs = runs.astype({"run_id": "str", "processor_name": "str"})[RUN_COLUMNS]
    # SQL gives no row order: sort fully (ties on started_at by run_id), so every engine yields the same frame.
    runs = runs.sort_values(["started_at", "run_id"], ascending=[False, True], kind="stable")
    unresolved = _with_outcomes(frame[frame["kind"] == "unresolved"].reset_index(drop=True))
    unresolved = unresolved.rename(columns={"started_at": "last_failed_at"}).astype({"processor_name": "str"})
    unresolved = unresolved[UNRESOLVED_COLUMNS].sort_values(
        ["last_failed_at", "processor_name", "data_date"], ascending=[False, True, True], kind="stable")
    return runs.reset_index(drop=True), last_success, unresolved.reset_index(drop=True)


def _with_outcomes(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` (collapsed rows of the runs query) with their outcome, error type and error message."""
    # Column-wise, not row by row: a day of a large backfill is tens of thousands of runs (benchmarks/README.md).
    flags = [runs[c].to_numpy(dtype=bool) for c in ("has_success", "has_failure", "has_partial", "has_skipped", "has_cleanup")]
    outcomes = ["success", "failed", "partial", "skipped", "failed_cleanup"]  # first match wins, as outcome_of
    parsed, seen = [], {}
    for need, raw, category, reason in zip(
        (flags[1] | flags[4]).tolist(), runs["errors_json"].tolist(), runs["failure_category"].tolist(),
        runs["cleanup_reason"].tolist(), strict=True,
    ):
        if not need:
            parsed.append(("", ""))
            continue
        key = (_none(raw), _none(category), _none(reason))
        if key not in seen:  # phantom cleanup rows repeat the same few texts
            seen[key] = parse_errors(*key)
        parsed.append(seen[key])
    return runs.assign(
        outcome=pd.Series(np.select(flags, outcomes, default="running").tolist(), dtype="str"),
        error_type=pd.Series([p[0] for p in parsed], dtype="str"),
        error_message=pd.Series([p[1] for p in parsed], dtype="str"),
    )


def _none(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA else value


# --- fetch ---------------------------------------------------------------------


class _Counter:
    def __init__(self, wh: Warehouse, now: dt.datetime, deadline_s: float):
        self.wh, self.now = wh, now
        self.deadline_at = time.monotonic() + deadline_s  # one budget for the whole refresh, not per query
        # a query started late in the refresh still gets a moment, but never more than the whole budget
        self.floor_s = min(MIN_QUERY_DEADLINE_S, deadline_s)
        self.queries, self.bytes = 0, None

    def run(self, q: queries.Query) -> pd.DataFrame:
        self.queries += 1
        left = max(self.floor_s, round(self.deadline_at - time.monotonic(), 3))  # whole ms: it shows in messages
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


@dataclass(frozen=True)
class _Catalog:
    frame: pd.DataFrame  # CATALOG_COLUMNS
    metadata_tables: frozenset[str]  # table keys whose row counts partition metadata may give


class CatalogCache:
    """The catalog of a warehouse and config, reused for `ttl_s` (default 10 min): tables rarely appear.

    Only a catalog in which every configured source exists with its date column is kept, so a table that is
    still missing is looked for on every refresh and shows up as soon as it is created. A refresh whose
    coverage or partition metadata fails drops the entry. One per process (the app keeps it next to its
    warehouse connection); thread-safe.
    """

    def __init__(self, ttl_s: float = 600.0, clock=time.monotonic):
        self.ttl_s, self._clock = ttl_s, clock
        self._entries: dict[tuple, tuple[float, _Catalog]] = {}
        self._lock = threading.Lock()

    def get(self, wh: Warehouse, config: Config) -> _Catalog | None:
        with self._lock:
            hit = self._entries.get((wh.label, config))
            if hit is None or self._clock() - hit[0] > self.ttl_s:
                self._entries.pop((wh.label, config), None)
                return None
            return hit[1]

    def put(self, wh: Warehouse, config: Config, catalog: _Catalog) -> None:
        with self._lock:
            self._entries[(wh.label, config)] = (self._clock(), catalog)

    def drop(self, wh: Warehouse, config: Config) -> None:
        with self._lock:
            self._entries.pop((wh.label, config), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _metadata_tables(config: Config, wh: Warehouse, columns: dict[str, tuple[str, str]], parts: dict[str, Partitions] | None) -> frozenset[str]:
    """Tables whose row counts partition metadata may give, if their partitions are days (per the metadata):
    `auto` ones whose DATE date column is their partitioning column (per the catalog); `partitions` ones unless
    the catalog names another partitioning column (so ingestion-time partitions written per date qualify)."""
    out = set()
    for t in queries.partition_candidates(config, wh):
        column = columns.get(t.key)
        if t.coverage == "auto" and column != (t.date_column.lower(), "DATE"):
            continue
        if t.coverage == "partitions" and column is not None and column[0] != t.date_column.lower():
            continue
        if parts is not None and t.key in parts and not parts[t.key].daily:
            continue
        out.add(t.key)
    return frozenset(out)


def _split(tables: list[Table], metadata: frozenset[str], parts: dict[str, Partitions] | None, config: Config, wh: Warehouse):
    """Which readable tables partition metadata serves (their rows), which need a scan, and each one's source."""
    candidates = {t.key for t in queries.partition_candidates(config, wh)}
    served, scan, sources = [], [], {}
    for t in tables:
        if t.key in metadata and parts is not None and t.key in parts and parts[t.key].daily:
            if parts[t.key].streaming_rows:
                scan.append(t)
                sources[t.key] = SOURCE_STREAMING
            else:
                served.append(parts[t.key].days)
                sources[t.key] = SOURCE_PARTITIONS
        else:
            scan.append(t)
            sources[t.key] = SOURCE_NOT_DAILY if t.key in candidates else SOURCE_SCAN
    return served, scan, sources


def fetch(
    config: Config,
    wh: Warehouse,
    now: dt.datetime | None = None,
    deadline_s: float | None = None,
    catalog_cache: CatalogCache | None = None,
) -> Snapshot:
    """Run catalog and runs side by side, then coverage over the tables that exist (see the module's docstring)."""
    now = resolve_now(now)
    started = time.perf_counter()
    counter = _Counter(wh, now, DEFAULT_DEADLINE_S if deadline_s is None else deadline_s)
    cached = catalog_cache.get(wh, config) if catalog_cache else None
    schedule_key = config.schedule.key
    served: list[pd.DataFrame] = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs_f = pool.submit(_attempt, lambda: normalise_runs(counter.run(queries.runs(config, wh, now))))
        if cached is None:
            candidates = queries.partition_candidates(config, wh)

            def read_catalog():
                raw = counter.run(queries.catalog(config, wh, candidates))
                parts = normalise_partitions(raw, config, candidates) if candidates else None
                return normalise_catalog(raw, config), partition_columns(raw, config), parts

            found, catalog_error = _attempt(read_catalog)
            catalog_frame, columns, parts = found or (None, {}, None)
            metadata = _metadata_tables(config, wh, columns, parts) if found else frozenset()
            tables, schedule_ok, errors = _readable(config, catalog_frame)
            served, scan, sources = _split(tables, metadata, parts, config, wh)
            if not found:  # no catalog, so nothing is known about partitioning: every table is scanned
                sources = dict.fromkeys(sources, SOURCE_SCAN)
            coverage_frames, coverage_error = (None, None)
            if schedule_ok or scan:
                q = queries.coverage(config, wh, scan, include_schedule=schedule_ok)
                coverage_frames, coverage_error = _attempt(lambda: normalise_coverage(counter.run(q), schedule_key))
            if catalog_cache and found and not errors and not coverage_error:
                catalog_cache.put(wh, config, _Catalog(catalog_frame, metadata))
        else:
            catalog_frame, catalog_error = cached.frame, None
            tables, schedule_ok, errors = _readable(config, catalog_frame)
            wanted = [t for t in tables if t.key in cached.metadata_tables]
            first_scan = [t for t in tables if t.key not in cached.metadata_tables]
            parts_f = None
            if wanted:
                parts_q = queries.partitions(config, wh, wanted)
                parts_f = pool.submit(_attempt, lambda: normalise_partitions(counter.run(parts_q), config, wanted))
            q = queries.coverage(config, wh, first_scan, include_schedule=schedule_ok)
            coverage_frames, coverage_error = _attempt(lambda: normalise_coverage(counter.run(q), schedule_key))
            parts, parts_error = parts_f.result() if parts_f else ({}, None)
            parts = parts or {}
            served, late_scan, sources = _split(wanted, cached.metadata_tables, parts, config, wh)
            if parts_error:  # scan them all instead, and read the catalog again next time
                served, late_scan = [], wanted
                sources.update(dict.fromkeys((t.key for t in wanted), SOURCE_SCAN))
            sources.update(_split(first_scan, frozenset(), None, config, wh)[2])
            if late_scan and not coverage_error:  # the fourth query: tables partition metadata could not serve
                q = queries.coverage(config, wh, late_scan, include_schedule=False)
                more, coverage_error = _attempt(lambda: normalise_coverage(counter.run(q), schedule_key))
                if more:
                    served.append(more[1])
            if parts_error or coverage_error or any(not p.daily for p in parts.values()):
                catalog_cache.drop(wh, config)
        run_frames, runs_error = runs_f.result()

    catalog_section = Section(catalog_frame, catalog_error)
    if coverage_error:
        schedule = coverage = Section(error=coverage_error)
        sources = {}
    else:
        sched_frame, cov_frame = coverage_frames or (pd.DataFrame(columns=SCHEDULE_COLUMNS), pd.DataFrame(columns=COVERAGE_COLUMNS))
        schedule = Section(sched_frame) if schedule_ok else Section(error=errors[schedule_key])
        coverage = Section(_merged_coverage(cov_frame, served))
    if config.runs.key in errors:  # the catalog's short reason beats the engine's long one
        runs_error, run_frames = errors[config.runs.key], None
    runs_section = Section(run_frames[0], runs_error) if run_frames else Section(error=runs_error)
    last_section = Section(run_frames[1]) if run_frames else Section(error=runs_error)
    unresolved_section = Section(run_frames[2]) if run_frames else Section(error=runs_error)
    return Snapshot(
        checked_at=now,
        warehouse=wh.label,
        catalog=catalog_section,
        schedule=schedule,
        coverage=coverage,
        runs=runs_section,
        last_success=last_section,
        unresolved=unresolved_section,
        queries=counter.queries,
        elapsed_s=round(time.perf_counter() - started, 3),
        bytes_processed=counter.bytes,
        errors=errors,
        coverage_sources=sources,
    )


def _merged_coverage(scanned: pd.DataFrame, served: list[pd.DataFrame]) -> pd.DataFrame:
    """The scan's rows and the partition metadata's (or a later scan's), in one frame shaped as normalise_coverage's."""
    if not served:
        return scanned
    frame = pd.concat([scanned.astype({"day": "datetime64[s]", "rows": "int64"}), *served], ignore_index=True)
    frame = frame.astype({"table": "str", "day": "datetime64[s]", "rows": "int64"})
    return frame.sort_values(["table", "day"]).reset_index(drop=True)


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
        elif row.date_type != "DATE":  # compared with DATE parameters and counted per value: a DATE it must be
            errors[row.key] = f"date column {row.key}.{_date_column(config, row.key)} is {row.date_type}, not DATE"
    tables = [t for t in config.tables if t.key not in errors]
    return tables, config.schedule.key not in errors, errors


def _date_column(config: Config, key: str) -> str:
    if key == config.schedule.key:
        return config.schedule.date_column
    if key == config.runs.key:
        return "data_date"
    return next(t.date_column for t in config.tables if t.key == key)
