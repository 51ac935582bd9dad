"""Writes small real DuckDB warehouses for tests: schedule, tables and run history in the real layout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb

RUN_HISTORY_DDL = """
CREATE TABLE {name} (
  processor_name VARCHAR NOT NULL, run_id VARCHAR NOT NULL, phase VARCHAR, output_table VARCHAR,
  output_dataset VARCHAR, data_date DATE NOT NULL, status VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL,
  processed_at TIMESTAMPTZ, duration_seconds DOUBLE, records_processed BIGINT, errors JSON,
  failure_category VARCHAR, backfill_mode BOOLEAN
)"""


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def build(
    path: Path,
    *,
    schedule: tuple[str, str],
    schedule_rows: list[tuple[str, str, int]],
    tables: dict[str, tuple[str, dict[str, int]]],
    runs: tuple[str, str] | None,
    run_rows: list[dict],
) -> Path:
    """schedule_rows: (game_date, game_id, game_status); tables: 'ds.t' -> (date column, {date: rows}[, its type]);
    run_rows: dicts with processor_name, run_id, data_date, status, started_at, processed_at, errors (Python value)."""
    con = duckdb.connect(str(path))
    schemas = {schedule[0], *(k.split(".")[0] for k in tables)} | ({runs[0]} if runs else set())
    for schema in sorted(schemas):
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    sched = f'"{schedule[0]}"."{schedule[1]}"'
    con.execute(f"CREATE TABLE {sched} (game_date DATE NOT NULL, game_id VARCHAR NOT NULL, game_status BIGINT, data_source VARCHAR)")
    con.executemany(f"INSERT INTO {sched} VALUES (?, ?, ?, 'api_stats')", [(d(a), b, c) for a, b, c in schedule_rows])
    for key, (column, counts, *column_type) in tables.items():
        ds, name = key.split(".")
        con.execute(f'CREATE TABLE "{ds}"."{name}" ({column} {column_type[0] if column_type else "DATE"}, player_lookup VARCHAR)')
        rows = [(d(day), f"p{i}") for day, n in counts.items() for i in range(n)]
        if rows:
            con.executemany(f'INSERT INTO "{ds}"."{name}" VALUES (?, ?)', rows)
    if runs:
        name = f'"{runs[0]}"."{runs[1]}"'
        con.execute(RUN_HISTORY_DDL.format(name=name))
        for r in run_rows:
            errors = r.get("errors")
            con.execute(
                f"INSERT INTO {name} (processor_name, run_id, data_date, status, started_at, processed_at, errors, failure_category) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [r["processor_name"], r["run_id"], d(r["data_date"]), r["status"], ts(r["started_at"]),
                 ts(r["processed_at"]) if r.get("processed_at") else None,
                 None if errors is None else (errors if r.get("raw_errors") else json.dumps(errors)),
                 r.get("failure_category")],
            )
    con.close()
    return path


def run(processor: str, run_id: str, data_date: str, started: str, final: str | None, finished: str | None = None,
        errors=None, failure_category=None, cleanup: bool = False) -> list[dict]:
    """The rows one run writes: a `running` row, then its final row, then (cleanup) the phantom failed row."""
    base = {"processor_name": processor, "run_id": run_id, "data_date": data_date, "started_at": started}
    rows = [{**base, "status": "running"}]
    if final:
        rows.append({**base, "status": final, "processed_at": finished or started, "errors": errors,
                     "failure_category": failure_category})
    if cleanup:
        rows.append({**base, "status": "failed", "processed_at": finished or started,
                     "errors": {"cleanup_reason": "stale_running_cleanup", "message": "stuck", "hours_stuck": 4.1}})
    return rows
