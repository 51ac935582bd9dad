"""The usage guide's query pattern, re-implemented from its description, for the benchmark's baseline.

The guide's monitor (seed/000_*.txt, "Data Sources" and "Query performance") takes 20-30 s per refresh
because it fires its queries one after another, each answering one number:

- for the whole window and again for each season, and within that for each phase: the schedule is
  queried for the expected dates (COUNT(DISTINCT game_date) of Final games), then every table of the phase
  with its own COUNT(DISTINCT date) query: (1 + 4 seasons) x (1 + 5 + 1 + 4) = 55 queries;
- the processing rate, per phase: distinct dates with a successful run, run history filtered on
  started_at (last hour) and the phase's processors: 2 queries;
- recent failures: failed rows of the run history filtered on started_at (last 2 hours): 1 query.

58 queries in all for the default pipeline, sequential, with no shared state between them. They run
through the same engine as ours (the Warehouse protocol's `query`), so engine cost is the same per query.
On BigQuery the benchmark also runs them the way a script like the guide's calls the client
(`PlainClient`: `client.query(sql).result()`, three HTTP round trips per query where our engine makes two).
A table that is missing or lacks its date column makes its query fail (the guide printed "Error: 400
Unrecognized name"): the failure is counted like any other query and the report carries on.
The figures it computes follow the guide (best table's count as the phase's); they are not compared
with ours, which the tests pin separately.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from monitor.config import Config
from monitor.identifiers import checked
from monitor.warehouse.base import QueryError, Warehouse

DEADLINE_S = 60.0


@dataclass
class BaselineResult:
    queries: int = 0
    failed: int = 0
    bytes_processed: int | None = None
    figures: dict = field(default_factory=dict)


class _Runner:
    def __init__(self, wh: Warehouse, now: dt.datetime):
        self.wh, self.now = wh, now
        self.result = BaselineResult()

    def scalar(self, sql: str, params: dict):
        self.result.queries += 1
        try:
            res = self.wh.query(sql, params, now=self.now, deadline_s=DEADLINE_S)
        except QueryError as exc:
            self.result.failed += 1
            return f"Error: {exc}"
        if res.bytes_processed is not None:
            self.result.bytes_processed = (self.result.bytes_processed or 0) + res.bytes_processed
        frame = res.frame
        return frame if frame.shape != (1, 1) else frame.iat[0, 0]


def _expected_sql(config: Config, wh: Warehouse) -> str:
    s = config.schedule
    return (
        f"SELECT COUNT(DISTINCT {checked(s.date_column)}) AS n FROM {wh.table_ref(s.dataset, s.table)}\n"
        f"WHERE {checked(s.date_column)} BETWEEN @start AND @end AND {checked(s.status_column)} = @final_status"
    )


def _table_sql(wh: Warehouse, dataset: str, table: str, column: str) -> str:
    col = checked(column)
    return f"SELECT COUNT(DISTINCT {col}) AS n FROM {wh.table_ref(dataset, table)}\nWHERE {col} BETWEEN @start AND @end"


def run(config: Config, wh: Warehouse, now: dt.datetime) -> BaselineResult:
    """One refresh of the guide's monitor (all seasons, --detailed): every query, one after another."""
    r = _Runner(wh, now)
    scopes = [("all", config.start, config.end)] + [
        (s.name, max(s.start, config.start), min(s.end, config.end)) for s in config.seasons
    ]
    for scope, start, end in scopes:
        for phase in config.phases:
            params = {"start": start, "end": end}
            expected = r.scalar(_expected_sql(config, wh), {**params, "final_status": config.schedule.final_status})
            counts = {t.name: r.scalar(_table_sql(wh, t.dataset, t.name, t.date_column), params) for t in phase.tables}
            r.result.figures[(scope, phase.name)] = (expected, counts)
    runs = wh.table_ref(config.runs.dataset, config.runs.table)
    for phase in config.phases:
        r.result.figures[("rate", phase.name)] = r.scalar(
            f"SELECT COUNT(DISTINCT data_date) AS n FROM {runs}\n"
            "WHERE processor_name IN UNNEST(@processors) AND status = 'success'\n"
            "  AND started_at >= TIMESTAMP_SUB(@now, INTERVAL 1 HOUR) AND started_at <= @now",
            {"processors": [t.processor for t in phase.tables], "now": now},
        )
    r.result.figures["failures"] = r.scalar(
        f"SELECT processor_name, data_date, started_at, TO_JSON_STRING(errors) AS errors FROM {runs}\n"
        "WHERE status = 'failed' AND started_at >= TIMESTAMP_SUB(@now, INTERVAL 2 HOUR) AND started_at <= @now\n"
        "ORDER BY started_at DESC LIMIT 5",
        {"now": now},
    )
    return r.result


class PlainClient:
    """The guide's way of calling BigQuery: `client.query(sql, job_config).result()`, then the rows.

    Quacks like the Warehouse protocol as far as `run` needs (table_ref, query), so the same 58 queries go
    through it. The job is inserted, waited for and its rows listed: three HTTP round trips per query.
    """

    def __init__(self, project: str, endpoint: str):
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        self.project = project
        self._bigquery = bigquery
        self._client = bigquery.Client(project=project, credentials=AnonymousCredentials(),
                                       client_options=ClientOptions(api_endpoint=endpoint))

    def table_ref(self, dataset: str, table: str) -> str:
        return f"`{self.project}.{checked(dataset)}.{checked(table)}`"

    def query(self, sql: str, params: dict, *, now: dt.datetime, deadline_s: float):
        from monitor.warehouse.base import Result
        from monitor.warehouse.bigquery import describe, to_parameters

        config = self._bigquery.QueryJobConfig(query_parameters=to_parameters(params))
        try:
            rows = self._client.query(sql, job_config=config).result(timeout=deadline_s)
            return Result(rows.to_dataframe(create_bqstorage_client=False), None)
        except Exception as exc:  # the guide printed the error and went on
            raise QueryError(describe(exc)) from None

    def close(self) -> None:
        self._client.close()
