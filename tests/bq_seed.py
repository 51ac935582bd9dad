"""Writes small warehouses into the BigQuery emulator, in the real layout, from the same rows as warehouse_builder.

Tables are created with `CREATE TABLE ... PARTITION BY` (real column types, JSON as JSON) and filled with
`insert_rows_json` (JSON columns take JSON text). Each warehouse goes into a project of its own, so tests
sharing one emulator never see each other's tables.
"""

from __future__ import annotations

import json

from tests.warehouse_builder import d, ts

RUN_HISTORY_DDL = """
CREATE TABLE `{name}` (
  processor_name STRING NOT NULL, run_id STRING NOT NULL, phase STRING, output_table STRING,
  output_dataset STRING, data_date DATE NOT NULL, status STRING NOT NULL, started_at TIMESTAMP NOT NULL,
  processed_at TIMESTAMP, duration_seconds FLOAT64, records_processed INT64, errors JSON,
  failure_category STRING, backfill_mode BOOL
)
PARTITION BY data_date
CLUSTER BY processor_name, status"""


def client_for(endpoint: str, project: str):
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=endpoint))


def _ddl(client, sql: str) -> None:
    client.query(sql).result(timeout=60)


def _insert(client, table: str, rows: list[dict], chunk: int = 20000) -> None:
    for i in range(0, len(rows), chunk):
        errors = client.insert_rows_json(table, rows[i:i + chunk], timeout=60)
        if errors:
            raise RuntimeError(f"insert into {table} failed: {errors[:3]}")


def seed(
    endpoint: str,
    project: str,
    *,
    schedule: tuple[str, str],
    schedule_rows: list[tuple[str, str, int]],
    tables: dict[str, tuple[str, dict[str, int]]],
    runs: tuple[str, str] | None,
    run_rows: list[dict],
    extra_columns: dict[str, str] | None = None,
) -> None:
    """Same arguments as warehouse_builder.build; `extra_columns` adds 'ds.t' -> 'col TYPE' to a table."""
    client = client_for(endpoint, project)
    try:
        datasets = {schedule[0], *(k.split(".")[0] for k in tables)} | ({runs[0]} if runs else set())
        for ds in sorted(datasets):
            client.create_dataset(f"{project}.{ds}", exists_ok=True, timeout=60)
        sched = f"{project}.{schedule[0]}.{schedule[1]}"
        _ddl(client, f"CREATE TABLE `{sched}` (game_date DATE NOT NULL, game_id STRING NOT NULL, game_status INT64, "
                     "data_source STRING) PARTITION BY game_date")
        _insert(client, sched, [{"game_date": a, "game_id": b, "game_status": c, "data_source": "api_stats"}
                                for a, b, c in schedule_rows])
        for key, (column, counts, *column_type) in tables.items():
            name = f"{project}.{key}"
            extra = f", {extra_columns[key]}" if extra_columns and key in extra_columns else ""
            kind = column_type[0] if column_type else "DATE"
            partition = f" PARTITION BY {column}" if kind == "DATE" else ""
            _ddl(client, f"CREATE TABLE `{name}` ({column} {kind}, player_lookup STRING{extra}){partition}")
            rows = [{column: d(day).isoformat(), "player_lookup": f"p{i}"} for day, n in counts.items() for i in range(n)]
            if rows:
                _insert(client, name, rows)
        if runs:
            name = f"{project}.{runs[0]}.{runs[1]}"
            _ddl(client, RUN_HISTORY_DDL.format(name=name))
            rows = []
            for r in run_rows:
                errors = r.get("errors")
                rows.append({
                    "processor_name": r["processor_name"], "run_id": r["run_id"], "data_date": r["data_date"],
                    "status": r["status"], "started_at": ts(r["started_at"]).isoformat(),
                    "processed_at": ts(r["processed_at"]).isoformat() if r.get("processed_at") else None,
                    "errors": None if errors is None else (errors if r.get("raw_errors") else json.dumps(errors)),
                    "failure_category": r.get("failure_category"),
                })
            _insert(client, name, rows)
    finally:
        client.close()


BQ_TYPES = {
    "VARCHAR": "STRING", "DATE": "DATE", "TIMESTAMP WITH TIME ZONE": "TIMESTAMP", "BIGINT": "INT64",
    "INTEGER": "INT64", "DOUBLE": "FLOAT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "JSON": "JSON",
}


def copy_duckdb(path, endpoint: str, project: str, partition_by: dict[str, str]) -> dict[str, int]:
    """Copy every table of a DuckDB warehouse file (each schema a dataset) into `project` on the emulator,
    with BigQuery column types and `PARTITION BY` the column named in `partition_by['ds.t']`.
    Returns the row count per 'ds.t'."""
    import datetime as dt

    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    client = client_for(endpoint, project)
    counts = {}
    try:
        con.execute("SET TimeZone = 'UTC'")
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' ORDER BY 1, 2"
        ).fetchall()
        for ds in sorted({s for s, _ in tables}):
            client.create_dataset(f"{project}.{ds}", exists_ok=True, timeout=60)
        for ds, name in tables:
            cols = con.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [ds, name]).fetchall()
            spec = ", ".join(f"{c} {BQ_TYPES[t]}{'' if n == 'YES' else ' NOT NULL'}" for c, t, n in cols)
            key = f"{ds}.{name}"
            part = partition_by.get(key)
            part_sql = f" PARTITION BY {part}" if part and part in {c for c, _, _ in cols} else ""
            _ddl(client, f"CREATE TABLE `{project}.{key}` ({spec}){part_sql}")
            names = [c for c, _, _ in cols]
            select = ", ".join(f'CAST("{c}" AS VARCHAR)' if t == "JSON" else f'"{c}"' for c, t, _ in cols)
            raw = con.execute(f'SELECT {select} FROM "{ds}"."{name}"').fetchall()

            def value(v):
                if isinstance(v, dt.datetime):
                    return v.astimezone(dt.UTC).isoformat() if v.tzinfo else v.isoformat()
                if isinstance(v, dt.date):
                    return v.isoformat()
                return v

            rows = [{c: value(v) for c, v in zip(names, r, strict=True)} for r in raw]
            if rows:
                _insert(client, f"{project}.{key}", rows)
            counts[key] = len(rows)
    finally:
        client.close()
        con.close()
    return counts
