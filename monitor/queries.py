"""The few SQL texts of a refresh, in BigQuery Standard SQL.

Every value is an @named parameter. Names come only from the validated config and
reach the text through the engine's `table_ref` / `columns_ref`, which quote them
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


def catalog(config: Config, wh: Warehouse) -> Query:
    """Which configured tables exist, and their columns: one job over every dataset."""
    wanted: dict[str, list[str]] = {}
    for source in (config.schedule, config.runs, *config.tables):
        table = source.name if isinstance(source, Table) else source.table
        wanted.setdefault(source.dataset, []).append(table)
    branches, params = [], {}
    for i, (dataset, tables) in enumerate(wanted.items()):
        params[f"dataset_{i}"] = dataset
        params[f"tables_{i}"] = tables
        branches.append(
            f"SELECT table_schema AS dataset, table_name, column_name FROM {wh.columns_ref(dataset)}\n"
            f"WHERE table_schema = @dataset_{i} AND table_name IN UNNEST(@tables_{i})"
        )
    return Query("catalog", "\nUNION ALL\n".join(branches), params)


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
    AND started_at <= @now
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
)
SELECT 'run' AS kind, run_id, processor_name, data_date, started_at, has_success, has_failure, has_partial,
       has_skipped, has_cleanup, succeeded_at, errors_json, failure_category, cleanup_reason
FROM runs
WHERE started_at > @since
UNION ALL
SELECT 'last_success', CAST(NULL AS STRING), processor_name, CAST(NULL AS DATE), CAST(NULL AS TIMESTAMP),
       TRUE, FALSE, FALSE, FALSE, FALSE, MAX(succeeded_at), CAST(NULL AS STRING), CAST(NULL AS STRING),
       CAST(NULL AS STRING)
FROM runs
WHERE has_success
GROUP BY processor_name
"""


def runs(config: Config, wh: Warehouse, now: dt.datetime) -> Query:
    """Run history collapsed by run_id: recent runs in full, plus each processor's last success."""
    r: Source = config.runs
    params = {
        "start": config.start,
        "end": config.end,
        "now": now,
        "since": now - dt.timedelta(hours=config.thresholds.history_hours),
        "processors": [t.processor for t in config.tables],
    }
    return Query("runs", RUNS_SQL.format(runs_table=wh.table_ref(r.dataset, r.table)), params)
