"""The few SQL texts of a refresh, in BigQuery Standard SQL.

Every value is an @named parameter. Names come only from the validated config and
reach the text through the engine's `table_ref` / `columns_ref` / `partitions_ref`, which quote them
after checking them against the identifier pattern. Nothing else is formatted in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from monitor.config import Config, Source, Table
from monitor.identifiers import checked
from monitor.warehouse.base import Warehouse


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


STREAMING_PARTITION = "__UNPARTITIONED__"  # BigQuery's partition of rows still in the streaming buffer
DAY_PARTITION_ID = "%Y%m%d"  # a day partition's id; month, year and hour ids are shorter or longer


def partition_metadata(wh: Warehouse) -> bool:
    """Whether the engine keeps per-partition row counts (BigQuery); DuckDB does not, so it always scans."""
    ref = getattr(wh, "partitions_ref", None)
    return ref is not None and bool(getattr(wh, "partition_metadata", False))


def partition_candidates(config: Config, wh: Warehouse) -> list[Table]:
    """Tables whose row counts may come from partition metadata: all but those configured to scan."""
    return [t for t in config.tables if t.coverage != "scan"] if partition_metadata(wh) else []


def _by_dataset(sources) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {}
    for source in sources:
        table = source.name if isinstance(source, Table) else source.table
        wanted.setdefault(source.dataset, []).append(table)
    return wanted


def catalog(config: Config, wh: Warehouse, partition_tables: list[Table] | tuple = ()) -> Query:
    """Which configured tables exist, and their columns with their types: one job over every dataset.

    On an engine with partition metadata each column row also says whether it is the table's partitioning
    column, and the same job reads the partitions of `partition_tables` (see `partitions`): one
    INFORMATION_SCHEMA job per refresh instead of two, since each one bills a minimum.
    """
    metadata = partition_metadata(wh)
    extra = "is_partitioning_column, CAST(NULL AS STRING) AS partition_id, CAST(NULL AS INT64) AS total_rows" if metadata else ""
    branches, params = [], {}
    for i, (dataset, tables) in enumerate(_by_dataset((config.schedule, config.runs, *config.tables)).items()):
        params[f"dataset_{i}"] = dataset
        params[f"tables_{i}"] = tables
        branches.append(
            f"SELECT table_schema AS dataset, table_name, column_name, data_type{', ' + extra if extra else ''} FROM {wh.columns_ref(dataset)}\n"
            f"WHERE table_schema = @dataset_{i} AND table_name IN UNNEST(@tables_{i})"
        )
    if metadata and partition_tables:
        part = _partition_branches(config, wh, partition_tables, columns=True)
        branches += part.sql.split(_UNION)
        params.update(part.params)
    return Query("catalog", _UNION.join(branches), params)


_UNION = "\nUNION ALL\n"


def partitions(config: Config, wh: Warehouse, tables: list[Table]) -> Query:
    """Per-date row counts of `tables` from partition metadata (BigQuery INFORMATION_SCHEMA.PARTITIONS), one job.

    Returns each table's day partitions inside the window, its streaming-buffer partition (rows not yet in a
    day partition), and any partition whose id is not a day (month or year partitioning, or an unpartitioned
    table's NULL id), so the snapshot can tell which tables these counts describe exactly.
    """
    return _partition_branches(config, wh, tables, columns=False)


def _partition_branches(config: Config, wh: Warehouse, tables, *, columns: bool) -> Query:
    params: dict[str, Any] = {
        "streaming_partition": STREAMING_PARTITION,
        "day_id_length": len(config.start.strftime(DAY_PARTITION_ID)),
        "first_partition": config.start.strftime(DAY_PARTITION_ID),
        "last_partition": config.end.strftime(DAY_PARTITION_ID),
    }
    filler = "CAST(NULL AS STRING) AS column_name, CAST(NULL AS STRING) AS data_type, CAST(NULL AS STRING) AS is_partitioning_column, " if columns else ""
    branches = []
    for i, (dataset, names) in enumerate(_by_dataset(tables).items()):
        params[f"pdataset_{i}"] = dataset
        params[f"ptables_{i}"] = names
        branches.append(
            f"SELECT table_schema AS dataset, table_name, {filler}partition_id, total_rows\n"
            f"FROM {wh.partitions_ref(dataset)}\n"
            f"WHERE table_schema = @pdataset_{i} AND table_name IN UNNEST(@ptables_{i})\n"
            f"  AND (partition_id IS NULL OR partition_id = @streaming_partition OR LENGTH(partition_id) < @day_id_length\n"
            f"       OR (LENGTH(partition_id) = @day_id_length AND partition_id BETWEEN @first_partition AND @last_partition))"
        )
    return Query("partitions", _UNION.join(branches), params)


def coverage(config: Config, wh: Warehouse, tables: list[Table], include_schedule: bool = True) -> Query:
    """Per source and date inside the window: Final games (schedule) or row counts (tables)."""
    s = config.schedule
    params: dict[str, Any] = {"start": config.start, "end": config.end}
    branches = []
    if include_schedule:
        params.update(source_schedule=s.key, final_status=s.final_status)
        branches.append(
            f"SELECT @source_schedule AS source, {checked(s.date_column)} AS day, "
            f"COUNT(DISTINCT {checked(s.game_id_column)}) AS n\n"
            f"FROM {wh.table_ref(s.dataset, s.table)}\n"
            f"WHERE {checked(s.date_column)} BETWEEN @start AND @end AND {checked(s.status_column)} = @final_status\n"
            f"GROUP BY 1, 2"
        )
    for i, t in enumerate(tables):
        params[f"source_{i}"] = t.key
        col = checked(t.date_column)
        branches.append(
            f"SELECT @source_{i} AS source, {col} AS day, COUNT(*) AS n\n"
            f"FROM {wh.table_ref(t.dataset, t.name)}\n"
            f"WHERE {col} BETWEEN @start AND @end\n"
            f"GROUP BY 1, 2"
        )
    return Query("coverage", "\nUNION ALL\n".join(branches), params)


RUNS_SQL = """
WITH run_rows AS (
  SELECT run_id, processor_name, data_date, status, started_at, processed_at, failure_category,
         JSON_VALUE(errors, '$.cleanup_reason') AS cleanup_reason,
         TO_JSON_STRING(errors) AS errors_json
  FROM {runs_table}
  WHERE data_date BETWEEN @start AND @end
    AND started_at > @since AND started_at <= @now
    AND processor_name IN UNNEST(@processors)
),
runs AS (
  SELECT run_id, processor_name, data_date,
    MIN(started_at) AS started_at,
    LOGICAL_OR(status = 'success') AS has_success,
    LOGICAL_OR(status = 'failed' AND cleanup_reason IS NULL) AS has_failure,
    LOGICAL_OR(status = 'partial') AS has_partial,
    LOGICAL_OR(status = 'skipped') AS has_skipped,
    LOGICAL_OR(status = 'failed' AND cleanup_reason IS NOT NULL) AS has_cleanup,
    MAX(IF(status = 'success', COALESCE(processed_at, started_at), NULL)) AS succeeded_at,
    COALESCE(MAX(IF(status = 'failed' AND cleanup_reason IS NULL, errors_json, NULL)),
             MAX(IF(status = 'failed', errors_json, NULL))) AS errors_json,
    MAX(IF(status = 'failed' AND cleanup_reason IS NULL, failure_category, NULL)) AS failure_category,
    MAX(cleanup_reason) AS cleanup_reason
  FROM run_rows
  GROUP BY run_id, processor_name, data_date
),
unresolved_dates AS (
  -- (processor, data_date) of the whole window whose latest final run failed: every row of a run carries the
  -- run's started_at, so a success's phantom cleanup row ties with it and never counts as a later failure
  SELECT processor_name, data_date, MAX(IF(status = 'failed', started_at, NULL)) AS last_failed_at
  FROM {runs_table}
  WHERE data_date BETWEEN @start AND @end
    AND started_at <= @now
    AND processor_name IN UNNEST(@processors)
  GROUP BY processor_name, data_date
  HAVING MAX(IF(status = 'failed', started_at, NULL)) IS NOT NULL
     AND (MAX(IF(status IN ('success', 'partial', 'skipped'), started_at, NULL)) IS NULL
          OR MAX(IF(status = 'failed', started_at, NULL)) > MAX(IF(status IN ('success', 'partial', 'skipped'), started_at, NULL)))
)
SELECT 'run' AS kind, run_id, processor_name, data_date, started_at, has_success, has_failure, has_partial,
       has_skipped, has_cleanup, succeeded_at, errors_json, failure_category, cleanup_reason
FROM runs
UNION ALL
SELECT 'last_success', CAST(NULL AS STRING), processor_name, CAST(NULL AS DATE), CAST(NULL AS TIMESTAMP),
       TRUE, FALSE, FALSE, FALSE, FALSE, MAX(COALESCE(processed_at, started_at)), CAST(NULL AS STRING),
       CAST(NULL AS STRING), CAST(NULL AS STRING)
FROM {runs_table}
WHERE data_date BETWEEN @start AND @end
  AND started_at <= @now
  AND status = 'success'
  AND processor_name IN UNNEST(@processors)
GROUP BY processor_name
UNION ALL
SELECT 'unresolved', CAST(NULL AS STRING), u.processor_name, u.data_date, u.last_failed_at,
       FALSE, LOGICAL_OR(JSON_VALUE(r.errors, '$.cleanup_reason') IS NULL), FALSE, FALSE,
       LOGICAL_OR(JSON_VALUE(r.errors, '$.cleanup_reason') IS NOT NULL), CAST(NULL AS TIMESTAMP),
       COALESCE(MAX(IF(JSON_VALUE(r.errors, '$.cleanup_reason') IS NULL, TO_JSON_STRING(r.errors), NULL)),
                MAX(TO_JSON_STRING(r.errors))),
       MAX(IF(JSON_VALUE(r.errors, '$.cleanup_reason') IS NULL, r.failure_category, NULL)),
       MAX(JSON_VALUE(r.errors, '$.cleanup_reason'))
FROM unresolved_dates u
JOIN {runs_table} r
  ON r.processor_name = u.processor_name AND r.data_date = u.data_date AND r.started_at = u.last_failed_at
WHERE r.data_date BETWEEN @start AND @end
  AND r.status = 'failed'
GROUP BY u.processor_name, u.data_date, u.last_failed_at
"""
# Why two reads of the run history instead of one collapse of the whole window (it was one before): only the
# runs of the last `history_hours` are needed in full, and every row of a run carries the run's started_at (the
# final and cleanup rows repeat it; warehouse.md), so filtering rows on started_at keeps exactly the runs that
# started inside the history window, with all their rows. A processor's last success is the latest success
# row's time, which needs no collapse by run_id. Collapsing millions of old runs to keep a few thousand cost
# seconds and gigabytes on a 10-million-row history (benchmarks/README.md); this grows with the recent runs only.
# Unresolved failures need the whole window (a date that failed last week and was never rerun is still to do), but
# not the collapse: a GROUP BY (processor, data_date) of two MAXes finds them, and only those few rows are joined
# back for their error.


def runs(config: Config, wh: Warehouse, now: dt.datetime) -> Query:
    """Run history collapsed by run_id: recent runs in full, each processor's last success, and the unresolved
    (processor, data_date) pairs of the whole window with their last failure."""
    r: Source = config.runs
    params = {
        "start": config.start,
        "end": config.end,
        "now": now,
        "since": now - dt.timedelta(hours=config.thresholds.history_hours),
        "processors": [t.processor for t in config.tables],
    }
    return Query("runs", RUNS_SQL.format(runs_table=wh.table_ref(r.dataset, r.table)), params)
