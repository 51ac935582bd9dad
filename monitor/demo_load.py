"""`python -m monitor.demo load bigquery://PROJECT[?endpoint=..&location=..] [--at TIME] [--replace] [--config PATH]`

Writes the demo warehouse, frozen at one clock, into a BigQuery project (a sandbox project, a
scratch project, or the local emulator), so the app can be tried on real BigQuery without a
pipeline of one's own. It is the only command of the monitor that writes anywhere but its own
demo file.

What it writes: the pipeline config's schedule, tables and run history (for the NBA pipeline:
nba_raw.nbac_schedule, nba_analytics.*, nba_precompute.*, nba_reference.processor_run_history),
with the real BigQuery column types, each table partitioned by day on its date column, the
partition filter required where the production warehouse requires it, the run history clustered
by processor_name, status, season_year. The rows are what the demo's views show at the clock
(`--at`, else $BACKFILL_NOW, else now; at the speed the demo file was built with, as for
`--warehouse demo`), with the run history's timestamps written out. Reading that project with
the same clock (BACKFILL_NOW) then gives the same figures as `--warehouse demo`.

Safety: it refuses the project named in the pipeline config (`pipeline.project`, the production
warehouse; also the default pipeline's) and a project where any of the datasets exist already,
unless `--replace` is given: then only the demo's tables in those datasets are dropped and
written again, other tables are left alone.

Rows go in with load jobs (newline-delimited JSON, one job per table): unlike streaming inserts
they work in the BigQuery sandbox, cost nothing, and the emulator accepts them too. Credentials
are the engine's: anonymous with `endpoint` (an emulator on loopback), else Application Default
Credentials. Errors are one line on stderr (exit 2 for bad input or a refusal, 1 when the load
fails); progress goes to stderr too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor import config as config_module
from monitor.config import Config, ConfigError
from monitor.identifiers import checked
from monitor.warehouse.base import WarehouseError, one_line

PROG = "python -m monitor.demo"
JOB_TIMEOUT_S = 300.0  # one load job
CALL_TIMEOUT_S = 60.0  # one metadata call (datasets, tables)
LABELS = {"app": "backfill-monitor"}  # the monitor's job label, also put on what the loader creates

# Facts of the production warehouse (reference/warehouse.md) the loader reproduces.
PARTITION_FILTER_REQUIRED = frozenset({  # besides the schedule, which every query must filter on its date
    "nba_analytics.team_offense_game_summary",
    "nba_predictions.ml_feature_store_v2",
})
RUN_HISTORY_DATE = "data_date"
RUN_HISTORY_CLUSTERING = ("processor_name", "status", "season_year")
RUN_HISTORY_REQUIRED = ("processor_name", "run_id", "data_date", "status", "started_at")

# DuckDB column types of the demo -> BigQuery types.
BIGQUERY_TYPES = {
    "VARCHAR": "STRING",
    "DATE": "DATE",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "JSON": "JSON",
}

EPILOG = """\
examples:
  python -m monitor.demo load "bigquery://my-sandbox-project?location=US"
  python -m monitor.demo load "bigquery://demo-sandbox?endpoint=http://127.0.0.1:9050" --at 2025-11-30T14:30:00Z
  python -m monitor.demo load bigquery://my-sandbox-project --replace     # load it again, at a new clock

then: BACKFILL_NOW=<the clock it printed> python -m monitor --warehouse "bigquery://my-sandbox-project"

credentials: anonymous with endpoint= (a local emulator), else Application Default Credentials
(`gcloud auth application-default login`); BigQuery User on the project is enough to load.
exit codes: 0 loaded, 1 the load failed, 2 bad input or refused
"""


class Refused(ValueError):
    """Bad input or a target the loader will not write to (exit 2)."""


class LoadFailed(RuntimeError):
    """The load could not be completed (exit 1)."""


@dataclass(frozen=True)
class Target:
    project: str
    location: str | None = None
    endpoint: str | None = None

    @property
    def label(self) -> str:
        where = f" (emulator at {self.endpoint})" if self.endpoint else ""
        return f"bigquery://{self.project}{where}"


@dataclass(frozen=True)
class FrozenTable:
    """One table as the demo shows it at the clock: BigQuery columns and JSON-ready rows."""

    key: str  # dataset.table
    columns: tuple[tuple[str, str], ...]  # (name, BigQuery type)
    rows: list[dict[str, Any]]
    partition: str | None  # the DATE column it is partitioned by
    require_partition_filter: bool = False
    clustering: tuple[str, ...] = ()
    required: tuple[str, ...] = ()  # NOT NULL columns

    @property
    def dataset(self) -> str:
        return self.key.split(".")[0]

    @property
    def name(self) -> str:
        return self.key.split(".")[1]


# --- reading the demo at a clock ----------------------------------------------------------------


def _quoted(key: str) -> str:
    return ".".join(f'"{checked(part)}"' for part in key.split("."))


def _json_value(value: Any, bq_type: str) -> Any:
    """A DuckDB value as newline-delimited JSON wants it for a load job."""
    if value is None:
        return None
    if bq_type == "JSON":  # a JSON column takes the JSON value itself (an object stays an object)
        return json.loads(value) if isinstance(value, str) else value
    if isinstance(value, dt.datetime):
        moment = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return moment.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        raise LoadFailed(f"a FLOAT64 value {value!r} cannot be loaded")
    return value


def table_layout(config: Config, key: str, columns: dict[str, str]) -> dict[str, Any]:
    """Partitioning, partition filter, clustering and NOT NULL columns of `key`, as in the production warehouse."""
    if key == config.schedule.key:
        date, required = config.schedule.date_column, (config.schedule.date_column, config.schedule.game_id_column)
        require_filter, clustering = True, ()
    elif key == config.runs.key:
        date, required, require_filter = RUN_HISTORY_DATE, RUN_HISTORY_REQUIRED, False
        clustering = tuple(c for c in RUN_HISTORY_CLUSTERING if c in columns)
    else:
        table = next(t for t in config.tables if t.key == key)
        date, required, clustering = table.date_column, (), ()
        require_filter = key in PARTITION_FILTER_REQUIRED
    partition = date if columns.get(date) == "DATE" else None
    return {
        "partition": partition,
        "require_partition_filter": require_filter and partition is not None,
        "clustering": clustering,
        "required": tuple(c for c in required if c in columns),
    }


def demo_keys(config: Config) -> list[str]:
    """The tables the loader writes, in order: schedule, the phases' tables, run history."""
    return list(dict.fromkeys([config.schedule.key, *(t.key for t in config.tables), config.runs.key]))


def frozen_tables(path: Path, config: Config, at: dt.datetime, speed: float | None = None) -> list[FrozenTable]:
    """Every table of `config` as the demo file at `path` shows it at clock `at` (at `speed`, default the file's)."""
    import duckdb

    from monitor import demo

    out = []
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        demo.set_clock(con, at, speed)
        for key in demo_keys(config):
            relation = _quoted(key)
            try:
                described = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()  # noqa: S608 (checked names)
            except duckdb.CatalogException:
                raise LoadFailed(
                    f"the demo file {path} has no table {key}: it was built for another pipeline config; "
                    f"delete it (or point {demo.DEMO_PATH_ENV} elsewhere) and it is rebuilt"
                ) from None
            duck_types = {name: kind for name, kind, *_ in described}
            unknown = {n: k for n, k in duck_types.items() if k not in BIGQUERY_TYPES}
            if unknown:
                name, kind = next(iter(unknown.items()))
                raise LoadFailed(f"{key}.{name} has type {kind}, which the loader cannot map to BigQuery")
            columns = {name: BIGQUERY_TYPES[kind] for name, kind in duck_types.items()}
            raw = con.execute(f"SELECT * FROM {relation}").fetchall()  # noqa: S608 (checked names)
            names = list(columns)
            rows = [{n: _json_value(v, columns[n]) for n, v in zip(names, r, strict=True)} for r in raw]
            layout = table_layout(config, key, columns)
            for column in layout["required"]:
                if any(row[column] is None for row in rows):
                    raise LoadFailed(f"{key}.{column} is NOT NULL in BigQuery but the demo has NULLs in it")
            out.append(FrozenTable(key, tuple(columns.items()), rows, **layout))
    return out


# --- BigQuery ------------------------------------------------------------------------------------


def table_resource(project: str, table: FrozenTable, description: str) -> dict[str, Any]:
    """The REST resource of `table` (tables.insert): schema with modes, day partitioning, filter, clustering."""
    resource: dict[str, Any] = {
        "tableReference": {"projectId": project, "datasetId": table.dataset, "tableId": table.name},
        "description": description,
        "labels": dict(LABELS),
        "schema": {"fields": [
            {"name": name, "type": kind, "mode": "REQUIRED" if name in table.required else "NULLABLE"}
            for name, kind in table.columns
        ]},
    }
    if table.partition:
        resource["timePartitioning"] = {"type": "DAY", "field": table.partition}
        if table.require_partition_filter:
            resource["requirePartitionFilter"] = True
            # The older place of the same setting: the emulator only keeps (and shows) this one.
            resource["timePartitioning"]["requirePartitionFilter"] = True
    if table.clustering:
        resource["clustering"] = {"fields": list(table.clustering)}
    return resource


def parse_target(url: str) -> Target:
    """bigquery://PROJECT[?location=..&endpoint=..]: the project must be in the URL (Refused otherwise)."""
    from monitor.warehouse.bigquery import parse_url

    parts = urlsplit(url)
    if parts.scheme == "bigquery" and url.startswith("bigquery://") and not parts.netloc:
        raise Refused("the URL must name the project to load into: bigquery://PROJECT[?location=US&endpoint=http://127.0.0.1:PORT]")
    try:
        parsed = parse_url(url)
    except WarehouseError as exc:
        raise Refused(str(exc)) from None
    return Target(parsed["project"], parsed["location"], parsed["endpoint"])


def refused_projects(config: Config) -> set[str]:
    """The production warehouse: the pipeline config's project, and the default pipeline's."""
    projects = {config.project}
    try:
        projects.add(config_module.load(config_module.DEFAULT_CONFIG).project)
    except ConfigError:  # pragma: no cover - the packaged config is tested elsewhere
        pass
    return {p for p in projects if p}


def make_client(target: Target):
    """The client: anonymous against an emulator endpoint, else Application Default Credentials."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    options = None
    if target.endpoint:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
        options = ClientOptions(api_endpoint=target.endpoint)
    else:
        from monitor.warehouse.bigquery import default_credentials

        try:
            credentials = default_credentials()
        except WarehouseError:
            raise LoadFailed(
                "no Google Cloud credentials found: run `gcloud auth application-default login` "
                "(or set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file)"
            ) from None
    try:
        return bigquery.Client(project=target.project, credentials=credentials, location=target.location,
                               client_options=options)
    except Exception as exc:
        raise LoadFailed(f"cannot create the BigQuery client ({exc.__class__.__name__})") from None


def _retry():
    from google.cloud.bigquery.retry import DEFAULT_RETRY

    return DEFAULT_RETRY.with_deadline(CALL_TIMEOUT_S)


def existing_datasets(client, project: str, datasets: Sequence[str]) -> list[str]:
    from google.api_core.exceptions import NotFound

    found = []
    for name in datasets:
        try:
            client.get_dataset(f"{project}.{name}", retry=_retry(), timeout=CALL_TIMEOUT_S)
        except NotFound:
            continue
        found.append(name)
    return found


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows).encode("utf-8")


def _load_rows(client, target: Target, table: FrozenTable) -> int:
    """One load job (newline-delimited JSON through a resumable upload); returns the rows BigQuery holds after it."""
    from google.cloud import bigquery

    table_id = f"{target.project}.{table.key}"
    if table.rows:
        schema = [bigquery.SchemaField(name, kind, mode="REQUIRED" if name in table.required else "NULLABLE")
                  for name, kind in table.columns]
        job_config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
            schema=schema,
            write_disposition=bigquery.WriteDisposition.WRITE_EMPTY,  # the table is new: never append to old rows
            labels=dict(LABELS),
        )
        # size=None: a resumable upload, which the emulator accepts (its multipart upload does not)
        job = client.load_table_from_file(io.BytesIO(_ndjson(table.rows)), table_id, size=None,
                                          job_config=job_config, location=target.location, timeout=JOB_TIMEOUT_S)
        job.result(timeout=JOB_TIMEOUT_S)
    return int(client.get_table(table_id, retry=_retry(), timeout=CALL_TIMEOUT_S).num_rows or 0)


@dataclass(frozen=True)
class Summary:
    target: Target
    at: dt.datetime
    tables: dict[str, int]  # rows loaded per table
    elapsed_s: float


def load(
    target: Target,
    config: Config,
    at: dt.datetime,
    *,
    replace: bool = False,
    demo_path: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
    client: Any = None,
) -> Summary:
    """Write the demo at clock `at` into `target`. Raises Refused (bad target) or LoadFailed."""
    from monitor import demo

    started = time.perf_counter()
    if target.project in refused_projects(config):
        raise Refused(
            f"refusing to write demo data into {target.project}: it is the project of the pipeline config "
            "(pipeline.project, the production warehouse); name a sandbox or scratch project"
        )
    try:
        demo.speed()  # a bad $BACKFILL_DEMO_SPEED (used if the demo file is built now) is bad input: before any work
    except ValueError as exc:
        raise Refused(str(exc)) from None
    own_client = client is None
    client = client or make_client(target)
    try:
        datasets = list(dict.fromkeys(key.split(".")[0] for key in demo_keys(config)))
        say(f"Checking {target.label} for datasets {', '.join(datasets)}")
        found = existing_datasets(client, target.project, datasets)
        if found and not replace:
            raise Refused(
                f"{target.project} already has dataset(s) {', '.join(found)}: add --replace to drop the demo's "
                "tables there and load them again"
            )

        def building(fraction: float, message: str) -> None:
            if fraction < 1:
                say(f"  building the demo warehouse: {message}")

        path = demo.ensure(demo_path, now=at, config=config, progress=building)
        say(f"Reading the demo at {_iso(at)} ({_demo_status(path, at)}) from {path}")
        tables = frozen_tables(path, config, at)  # at the speed the file was built with, like --warehouse demo
        say(f"Loading {sum(len(t.rows) for t in tables):,} rows into {len(tables)} tables of {target.label}")
        try:
            loaded = _write(client, target, tables, datasets, found, at, replace=replace, say=say)
        except Exception as exc:  # something may be written already: say how to start over
            reason = str(exc) if isinstance(exc, LoadFailed) else _describe(exc)
            raise LoadFailed(f"{reason}; {target.project} may now hold part of the demo: run again with --replace") from None
    finally:
        if own_client:
            client.close()
    return Summary(target, at, loaded, time.perf_counter() - started)


def _write(client, target: Target, tables: list[FrozenTable], datasets: list[str], found: list[str],
           at: dt.datetime, *, replace: bool, say: Callable[[str], None]) -> dict[str, int]:
    """Create the missing datasets, then (re)create and load each table; returns the rows per table."""
    from google.cloud import bigquery

    for name in datasets:
        if name in found:
            continue
        dataset = bigquery.Dataset(f"{target.project}.{name}")
        if target.location:
            dataset.location = target.location
        dataset.description = "Demo data of the Backfill Progress Monitor (python -m monitor.demo load)"
        dataset.labels = dict(LABELS)
        client.create_dataset(dataset, retry=_retry(), timeout=CALL_TIMEOUT_S)
        say(f"  created dataset {name}")
    description = f"Demo data of the Backfill Progress Monitor, frozen at {_iso(at)}"
    loaded = {}
    for i, table in enumerate(tables, 1):
        started = time.perf_counter()
        table_id = f"{target.project}.{table.key}"
        if replace:
            client.delete_table(table_id, not_found_ok=True, retry=_retry(), timeout=CALL_TIMEOUT_S)
        client.create_table(bigquery.Table.from_api_repr(table_resource(target.project, table, description)),
                            retry=_retry(), timeout=CALL_TIMEOUT_S)
        kept = _load_rows(client, target, table)
        if kept != len(table.rows):
            raise LoadFailed(
                f"BigQuery holds {kept:,} of the {len(table.rows):,} rows loaded into {table.key} (the BigQuery "
                "sandbox expires partitions 60 days after their date: use a project with billing enabled)"
            )
        loaded[table.key] = kept
        say(f"  [{i}/{len(tables)}] {table.key}: {kept:,} rows{_layout_note(table)} "
            f"({time.perf_counter() - started:.1f} s)")
    return loaded


def _layout_note(table: FrozenTable) -> str:
    notes = [f"partitioned by {table.partition}"] if table.partition else []
    if table.require_partition_filter:
        notes.append("partition filter required")
    if table.clustering:
        notes.append(f"clustered by {', '.join(table.clustering)}")
    return f", {'; '.join(notes)}" if notes else ""


def _demo_status(path: Path, at: dt.datetime) -> str:
    """Where the demo file's backfill stands at `at`; Refused when it has not begun (only the schedule would load:
    the file was built later than `at`, on the real clock)."""
    import duckdb

    from monitor import demo

    with duckdb.connect(str(path), read_only=True) as con:
        status = demo.status(con, at)
    if status.elapsed_s < 0:
        began = at + dt.timedelta(seconds=-status.elapsed_s)
        raise Refused(f"the demo in {path} begins its backfill at {_iso(began.replace(microsecond=0))}, after --at "
                      f"{_iso(at)}: only the schedule would load. Choose a later --at, or set {demo.DEMO_PATH_ENV} "
                      f"to a path that does not exist yet: the demo is then built there for {_iso(at)}")
    hours = status.elapsed_s / 3600
    return "the demo backfill has finished" if status.finished else f"{hours:.1f} demo hours into the backfill"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


# --- command line ------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="The embedded demo warehouse.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    load_cmd = commands.add_parser(
        "load",
        help="write the demo, frozen at a clock, into a BigQuery project (the monitor's only command that writes)",
        description="Write the demo warehouse, frozen at one clock, into a BigQuery project: the real datasets "
                    "and tables, with BigQuery types and partitioning. Refuses the pipeline config's project, "
                    "and a project that already has those datasets unless --replace.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load_cmd.add_argument("url", metavar="URL",
                          help="bigquery://PROJECT[?location=US&endpoint=http://127.0.0.1:PORT] (the project to write to)")
    load_cmd.add_argument("--at", metavar="TIME",
                          help="the demo clock, ISO-8601 (naive means UTC); default $BACKFILL_NOW, else now")
    load_cmd.add_argument("--replace", action="store_true",
                          help="drop the demo's tables where the datasets exist already, and load them again")
    load_cmd.add_argument("--config", metavar="PATH",
                          help="pipeline config TOML (default: $BACKFILL_CONFIG or the NBA pipeline)")
    return parser


def parse_clock(text: str | None) -> dt.datetime:
    """--at TIME, else $BACKFILL_NOW, else now; always UTC. Refused when not ISO-8601."""
    from monitor import snapshot

    if text is None:
        try:
            now = snapshot.resolve_now()
        except ValueError as exc:
            raise Refused(str(exc)) from None
        # the wall clock to the second, so the printed clock is easy to copy; a pinned one as given
        return now if os.environ.get(snapshot.NOW_ENV) else now.replace(microsecond=0)
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"--at {text!r} is not an ISO-8601 time, e.g. 2025-11-30T14:30:00Z") from None
    moment = snapshot.resolve_now(moment)
    if not snapshot.EARLIEST_NOW <= moment.replace(tzinfo=None) <= snapshot.LATEST_NOW:  # as BACKFILL_NOW, to view it
        raise Refused(f"--at {text.strip()!r} is out of range ({snapshot.EARLIEST_NOW.year} to {snapshot.LATEST_NOW.year})")
    return moment


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fail(message: str, code: int) -> int:
    print(f"error: {one_line(message, 400)}", file=sys.stderr, flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_module.load(args.config)
        at = parse_clock(args.at)
        target = parse_target(args.url)
        summary = load(target, config, at, replace=args.replace, say=_say)
    except ConfigError as exc:
        return _fail(f"bad config: {exc}", 2)
    except Refused as exc:
        return _fail(str(exc), 2)
    except LoadFailed as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted: the project may hold part of the demo; run again with --replace", 130)
    except Exception as exc:  # BigQuery, network, the demo file: one line, never a traceback
        return _fail(_describe(exc), 1 if not isinstance(exc, ValueError) else 2)
    rows = sum(summary.tables.values())
    url = f"bigquery://{target.project}"
    query = [f"location={target.location}"] if target.location else []
    query += [f"endpoint={target.endpoint}"] if target.endpoint else []
    if query:
        url += "?" + "&".join(query)
    _say(f"Loaded {rows:,} rows into {len(summary.tables)} tables of {target.project} in {summary.elapsed_s:.1f} s, "
         f"frozen at {_iso(at)}.")
    _say(f'See it: BACKFILL_NOW={_iso(at)} python -m monitor --warehouse "{url}"')
    return 0


def _describe(exc: BaseException) -> str:
    try:
        from google.api_core.exceptions import RetryError

        from monitor.warehouse.bigquery import describe
    except ImportError:  # pragma: no cover - google-cloud-bigquery missing
        return f"{exc.__class__.__name__}: {one_line(exc, 200)}"
    if isinstance(exc, RetryError) and isinstance(exc.cause, Exception):  # name what kept failing
        return f"{describe(exc.cause)} (still failing after {CALL_TIMEOUT_S:g} s of retries)"
    if isinstance(exc, Exception):
        return describe(exc)
    return exc.__class__.__name__
