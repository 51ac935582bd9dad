"""Metadata-only coverage: per-date row counts from INFORMATION_SCHEMA.PARTITIONS instead of a scan.

On the emulator (tests/bq_emulator.py) the hand-worked warehouse of test_progress.py, every table partitioned by
day on its date column, gives the same snapshot frames and the same figures whether coverage scans the tables
or reads their partition metadata; what each table used is recorded. The fallbacks (a table not partitioned by
day, rows still in the streaming buffer, a failed metadata job) and the config key are pinned here too, with
the query budget: at most four queries per refresh, cached catalog or not.

The emulator never keeps rows in a streaming buffer (its inserts land in their day partition at once), so the
streaming-buffer case wraps the engine and adds the `__UNPARTITIONED__` row BigQuery would report.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import sqlglot
from sqlglot import exp

from monitor import config as config_mod
from monitor import progress, queries, report, snapshot
from monitor.warehouse.base import QueryError, Result, quoted
from monitor.warehouse.bigquery import BigQueryWarehouse, parse_url
from monitor.warehouse.duckdb import DuckDBWarehouse
from tests.bq_emulator import fresh_project
from tests.bq_seed import client_for, seed
from tests.test_progress import COVERAGE, NOW, RUNS, SCHEDULE
from tests.warehouse_builder import build

HERE = Path(__file__).parent
SECTIONS = ("catalog", "schedule", "coverage", "runs", "last_success")
SMALL = {"schedule": ("raw", "schedule"), "schedule_rows": SCHEDULE, "runs": ("ref", "run_history"), "run_rows": RUNS}
KEYS = ("ana.a1", "ana.a2", "pre.b1", "pre.b2")


def small_config(**coverage: str) -> config_mod.Config:
    """tests/small_pipeline.toml with `coverage` set per table (a1="scan", ...)."""
    data = tomllib.loads((HERE / "small_pipeline.toml").read_text())
    for table, mode in coverage.items():
        data["tables"][table]["coverage"] = mode
    return config_mod.parse(data, "small_pipeline.toml")


def figures_json(snap: snapshot.Snapshot, cfg, season: str | None = None) -> dict:
    """The JSON figures without what may differ between the two paths: source, label, timing, bytes."""
    doc = report.to_json(progress.compute(snap, cfg, season), cfg)
    doc.pop("warehouse")
    doc["meta"].pop("elapsed_s")
    doc["meta"].pop("bytes_processed")
    doc["meta"].pop("queries")
    for t in doc["tables"]:
        t.pop("coverage_source")
    return doc


def assert_same_frames(a: snapshot.Snapshot, b: snapshot.Snapshot) -> None:
    assert a.errors == b.errors
    for name in SECTIONS:
        left, right = getattr(a, name), getattr(b, name)
        assert left.error == right.error, name
        pd.testing.assert_frame_equal(left.frame, right.frame, obj=name)


# --- the emulator ---------------------------------------------------------------


@pytest.fixture(scope="module")
def partitioned_bq(bq_endpoint):
    """The small warehouse, every table PARTITION BY its date column, plus rows the scan must ignore too:
    NULL dates (BigQuery's __NULL__ partition) and a date outside the window (already in COVERAGE)."""
    project = fresh_project("parts")
    seed(bq_endpoint, project, tables=COVERAGE, **SMALL)
    client = client_for(bq_endpoint, project)
    try:
        errors = client.insert_rows_json(f"{project}.ana.a1", [{"game_date": None, "player_lookup": "nobody"}] * 3)
        assert not errors
    finally:
        client.close()
    return project


def engine(endpoint: str, project: str, partitions: bool) -> BigQueryWarehouse:
    return BigQueryWarehouse(project, endpoint=endpoint, partition_metadata=partitions)


def test_both_paths_give_the_same_figures_as_each_other_and_as_duckdb(cfg, bq_endpoint, partitioned_bq, tmp_path):
    scan = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, False), now=NOW)
    meta = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, True), now=NOW)
    duck = snapshot.fetch(cfg, DuckDBWarehouse(build(tmp_path / "small.duckdb", tables=COVERAGE, **SMALL)), now=NOW)
    assert scan.coverage_sources == duck.coverage_sources == dict.fromkeys(KEYS, snapshot.SOURCE_SCAN)  # DuckDB scans
    assert meta.coverage_sources == dict.fromkeys(KEYS, snapshot.SOURCE_PARTITIONS)
    assert scan.queries == meta.queries == duck.queries == 3  # the metadata rides in the catalog's job
    assert_same_frames(scan, meta)
    assert_same_frames(duck, meta)  # the NULL dates only exist on the emulator; neither path counts them
    for season in (None, "2023-24", "2024-25"):
        assert figures_json(scan, cfg, season) == figures_json(meta, cfg, season) == figures_json(duck, cfg, season)
    doc = report.to_json(progress.compute(meta, cfg), cfg)
    assert [(t["table"], t["dates"], t["coverage_source"]) for t in doc["tables"]] == [
        ("a1", 5, "partitions"), ("a2", 5, "partitions"), ("b1", 4, "partitions"), ("b2", 1, "partitions")]


def test_config_chooses_per_table(bq_endpoint, partitioned_bq):
    cfg = small_config(a1="scan", b2="partitions")
    snap = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, True), now=NOW)
    assert snap.coverage_sources == {"ana.a1": "scan", "ana.a2": "partitions", "pre.b1": "partitions", "pre.b2": "partitions"}
    scan = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, False), now=NOW)
    assert_same_frames(scan, snap)


def test_a_table_not_partitioned_by_day_on_its_date_column_is_scanned(cfg, bq_endpoint):
    project = fresh_project("unparted")
    seed(bq_endpoint, project, tables=COVERAGE, **SMALL)
    client = client_for(bq_endpoint, project)
    try:  # a2 again, without PARTITION BY; b1 partitioned by day, but on another column
        client.query(f"DROP TABLE `{project}.ana.a2`").result()
        client.query(f"CREATE TABLE `{project}.ana.a2` (game_date DATE, player_lookup STRING)").result()
        client.query(f"INSERT INTO `{project}.ana.a2` SELECT game_date, player_lookup FROM `{project}.ana.a1`").result()
        client.query(f"DROP TABLE `{project}.pre.b1`").result()
        client.query(f"CREATE TABLE `{project}.pre.b1` (analysis_date DATE, loaded DATE, player_lookup STRING) "
                     "PARTITION BY loaded").result()
        client.query(f"INSERT INTO `{project}.pre.b1` VALUES ('2024-01-05', '2024-01-30', 'p1'), "
                     "('2024-01-08', '2024-01-30', 'p2')").result()
    finally:
        client.close()
    meta = snapshot.fetch(cfg, engine(bq_endpoint, project, True), now=NOW)
    scan = snapshot.fetch(cfg, engine(bq_endpoint, project, False), now=NOW)
    assert meta.coverage_sources["ana.a2"] == meta.coverage_sources["pre.b1"] == snapshot.SOURCE_NOT_DAILY
    assert meta.coverage_sources["ana.a1"] == snapshot.SOURCE_PARTITIONS
    assert meta.queries == 3
    assert_same_frames(scan, meta)
    dates = {t["table"]: t["dates"] for t in figures_json(meta, cfg)["tables"]}
    assert dates["b1"] == 2  # counted by the scan, not by the `loaded` partitions
    # `partitions` trusts day partitions the catalog cannot tie to a column, but not ones it ties to another column
    forced = snapshot.fetch(small_config(b1="partitions"), engine(bq_endpoint, project, True), now=NOW)
    assert forced.coverage_sources["pre.b1"] == snapshot.SOURCE_NOT_DAILY
    assert_same_frames(scan, forced)


class StreamingBuffer:
    """The engine, with `rows` rows of `table` still in BigQuery's streaming buffer (the emulator has none)."""

    def __init__(self, wh: BigQueryWarehouse, dataset: str, table: str, rows: int = 3, fail: bool = False):
        self.wh, self.dataset, self.table, self.rows, self.fail = wh, dataset, table, rows, fail
        self.label = wh.label
        self.partition_metadata = wh.partition_metadata
        self.sql: list[str] = []

    def table_ref(self, dataset, table):
        return self.wh.table_ref(dataset, table)

    def columns_ref(self, dataset):
        return self.wh.columns_ref(dataset)

    def partitions_ref(self, dataset):
        return self.wh.partitions_ref(dataset)

    def query(self, sql, params, *, now, deadline_s):
        self.sql.append(sql)
        if "INFORMATION_SCHEMA.PARTITIONS" in sql and "INFORMATION_SCHEMA.COLUMNS" not in sql and self.fail:
            raise QueryError("access denied (403): no partitions for you")
        result = self.wh.query(sql, params, now=now, deadline_s=deadline_s)
        if "INFORMATION_SCHEMA.PARTITIONS" not in sql:
            return result
        row = dict.fromkeys(result.frame.columns)
        row.update(dataset=self.dataset, table_name=self.table, partition_id=queries.STREAMING_PARTITION, total_rows=self.rows)
        return Result(pd.concat([result.frame, pd.DataFrame([row]).astype(result.frame.dtypes)], ignore_index=True))

    def close(self):
        self.wh.close()


def test_rows_in_the_streaming_buffer_send_the_table_to_the_scan(cfg, bq_endpoint, partitioned_bq):
    wh = StreamingBuffer(engine(bq_endpoint, partitioned_bq, True), "ana", "a2")
    snap = snapshot.fetch(cfg, wh, now=NOW)
    assert snap.coverage_sources["ana.a2"] == snapshot.SOURCE_STREAMING
    assert snap.coverage_sources["ana.a1"] == snapshot.SOURCE_PARTITIONS
    assert snap.queries == 3
    coverage_sql = next(s for s in wh.sql if "COUNT(*)" in s)
    assert f"`{partitioned_bq}.ana.a2`" in coverage_sql
    assert f"`{partitioned_bq}.ana.a1`" not in coverage_sql  # a1 is read from its partitions
    scan = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, False), now=NOW)
    assert_same_frames(scan, snap)


def test_a_cached_catalog_keeps_to_the_budget_and_gives_the_same_figures(cfg, bq_endpoint, partitioned_bq):
    cache = snapshot.CatalogCache()
    cold = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, True), now=NOW, catalog_cache=cache)
    warm = snapshot.fetch(cfg, engine(bq_endpoint, partitioned_bq, True), now=NOW, catalog_cache=cache)
    assert cold.queries == 3 and warm.queries == 3  # warm: partitions, coverage (schedule only), runs
    assert warm.coverage_sources == cold.coverage_sources == dict.fromkeys(KEYS, snapshot.SOURCE_PARTITIONS)
    assert_same_frames(cold, warm)
    # streaming rows found after the catalog was cached: a fourth query scans that table, never a fifth
    wh = StreamingBuffer(engine(bq_endpoint, partitioned_bq, True), "pre", "b1")
    late = snapshot.fetch(cfg, wh, now=NOW, catalog_cache=cache)
    assert late.queries == 4 and late.coverage_sources["pre.b1"] == snapshot.SOURCE_STREAMING
    assert_same_frames(cold, late)
    # the metadata job fails: every table it would have served is scanned, and the catalog is read again next time
    broken = StreamingBuffer(engine(bq_endpoint, partitioned_bq, True), "pre", "b1", fail=True)
    fallback = snapshot.fetch(cfg, broken, now=NOW, catalog_cache=cache)
    assert fallback.queries == 4 and fallback.errors == {}
    assert set(fallback.coverage_sources.values()) == {snapshot.SOURCE_SCAN}
    assert_same_frames(cold, fallback)
    assert cache.get(broken, cfg) is None


def test_the_emulator_reads_no_partition_metadata_unless_asked(bq_endpoint):
    assert BigQueryWarehouse("some-project", endpoint=bq_endpoint).partition_metadata is False
    assert parse_url(f"bigquery://p-roject?endpoint={bq_endpoint}&partitions=on")["partitions"] is True
    assert parse_url("bigquery://p-roject?partitions=off")["partitions"] is False
    assert parse_url("bigquery://p-roject")["partitions"] is None


# --- DuckDB, config, pure parts ---------------------------------------------------


def test_duckdb_scans_and_a_cached_catalog_saves_a_query(cfg, tmp_path):
    wh = DuckDBWarehouse(build(tmp_path / "small.duckdb", tables=COVERAGE, **SMALL))
    cache = snapshot.CatalogCache()
    cold = snapshot.fetch(small_config(a1="partitions"), wh, now=NOW, catalog_cache=cache)
    warm = snapshot.fetch(small_config(a1="partitions"), wh, now=NOW, catalog_cache=cache)
    assert (cold.queries, warm.queries) == (3, 2)  # coverage and runs only
    assert cold.coverage_sources == warm.coverage_sources == dict.fromkeys(KEYS, snapshot.SOURCE_SCAN)
    assert_same_frames(cold, warm)


def test_a_missing_table_keeps_the_catalog_out_of_the_cache(tmp_path):
    tables = {k: v for k, v in COVERAGE.items() if k != "pre.b2"}
    wh = DuckDBWarehouse(build(tmp_path / "missing.duckdb", tables=tables, **SMALL))
    cache = snapshot.CatalogCache()
    cfg = small_config()
    for _ in range(2):
        snap = snapshot.fetch(cfg, wh, now=NOW, catalog_cache=cache)
        assert snap.queries == 3 and snap.errors == {"pre.b2": "table not found: pre.b2"}
        assert "pre.b2" not in snap.coverage_sources


def test_the_cached_catalog_expires():
    clock = [0.0]
    cache = snapshot.CatalogCache(ttl_s=60, clock=lambda: clock[0])

    class Wh:
        label = "w"

    entry = snapshot._Catalog(pd.DataFrame(), frozenset())
    cache.put(Wh, "cfg", entry)
    clock[0] = 59
    assert cache.get(Wh, "cfg") is entry
    clock[0] = 61
    assert cache.get(Wh, "cfg") is None


@pytest.mark.parametrize("value, ok", [("auto", True), ("scan", True), ("partitions", True), ("metadata", False), ("", False)])
def test_coverage_key_in_config(value, ok):
    if ok:
        assert small_config(a1=value).tables[0].coverage == value
    else:
        with pytest.raises(config_mod.ConfigError, match=r"tables\.a1\.coverage: must be one of auto, scan, partitions"):
            small_config(a1=value)
    assert small_config().tables[0].coverage == "auto"


def test_partition_rows_are_read_exactly():
    cfg = small_config()
    frame = pd.DataFrame([
        ("ana", "a1", "20240102", 10), ("ana", "a1", "20240103", 0), ("ana", "a1", "__UNPARTITIONED__", 4),
        ("ana", "a2", "20240105", 2), ("ana", "a2", "202401", 7),  # a2: a month partition, so not daily
        ("pre", "b1", None, 30),  # b1: an unpartitioned table (NULL id)
        ("pre", "b2", "20240105", 7), ("pre", "b2", "__UNPARTITIONED__", 0),
    ], columns=["dataset", "table_name", "partition_id", "total_rows"])
    parts = snapshot.normalise_partitions(frame, cfg, list(cfg.tables))
    assert (parts["ana.a1"].streaming_rows, parts["ana.a1"].daily) == (4, True)
    assert parts["ana.a1"].days.to_dict("records") == [{"table": "ana.a1", "day": pd.Timestamp("2024-01-02"), "rows": 10}]
    assert parts["ana.a2"].daily is False and parts["pre.b1"].daily is False
    assert (parts["pre.b2"].streaming_rows, parts["pre.b2"].daily, len(parts["pre.b2"].days)) == (0, True, 1)
    assert str(parts["pre.b2"].days["day"].dtype) == "datetime64[s]"


def test_no_value_is_formatted_into_the_partition_sql():
    """The catalog job with its partition branches: every value travels as a parameter (cf. test_security.py)."""
    cfg = config_mod.load()

    class Spelling:
        label = "test"
        partition_metadata = True

        def table_ref(self, dataset, table):
            return quoted(dataset, table)

        def columns_ref(self, dataset):
            return f"{quoted(dataset)}.INFORMATION_SCHEMA.COLUMNS"

        def partitions_ref(self, dataset):
            return f"{quoted(dataset)}.INFORMATION_SCHEMA.PARTITIONS"

    values = {cfg.start.isoformat(), cfg.end.isoformat(), cfg.start.strftime("%Y%m%d"), queries.STREAMING_PARTITION,
              *(t.name for t in cfg.tables)}
    for q in (queries.catalog(cfg, Spelling(), list(cfg.tables)), queries.partitions(cfg, Spelling(), list(cfg.tables))):
        tree = sqlglot.parse_one(q.sql, read="bigquery")
        assert {lit.this for lit in tree.find_all(exp.Literal)} == set(), q.name
        assert not any(v in q.sql for v in values if v not in ("INFORMATION_SCHEMA",)), q.name
        used = {p.name for p in tree.find_all(exp.Parameter)} | set(re.findall(r"@(\w+)", q.sql))
        assert set(q.params) <= used, q.name


def test_the_runs_query_reads_recent_rows_only_for_the_recent_runs():
    """The run history's collapse by run_id covers the history window, not the whole backfill window."""
    cfg = config_mod.load()
    q = queries.runs(cfg, type("Spelling", (), {"table_ref": lambda self, d, t: quoted(d, t)})(), NOW)
    first = q.sql.split("runs AS (")[0]
    assert "started_at > @since" in first
    assert q.params["since"] == NOW - dt.timedelta(hours=cfg.thresholds.history_hours)


def test_which_tables_partition_metadata_may_serve():
    """auto: only a DATE date column that partitions the table; partitions: also partitions the catalog cannot tie
    to a column (ingestion time), never another column's; scan: never; and only while the partitions are days."""
    cfg = small_config(a2="partitions", b1="partitions", b2="scan")

    class Wh:
        label, partition_metadata = "w", True

        def partitions_ref(self, dataset):
            return dataset

    columns = {"ana.a1": ("game_date", "DATE"), "pre.b1": ("loaded", "DATE")}  # a2: ingestion-time partitions
    daily = snapshot.Partitions(pd.DataFrame(columns=snapshot.COVERAGE_COLUMNS))
    monthly = snapshot.Partitions(pd.DataFrame(columns=snapshot.COVERAGE_COLUMNS), daily=False)
    assert snapshot._metadata_tables(cfg, Wh(), columns, None) == {"ana.a1", "ana.a2"}
    assert snapshot._metadata_tables(cfg, Wh(), columns, {"ana.a1": monthly, "ana.a2": daily}) == {"ana.a2"}
    assert snapshot._metadata_tables(cfg, Wh(), {"ana.a1": ("game_date", "TIMESTAMP")}, None) == {"ana.a2", "pre.b1"}
    assert snapshot._metadata_tables(cfg, DuckDBWarehouse.__new__(DuckDBWarehouse), columns, None) == frozenset()
