"""`python -m monitor.demo load`: the demo, frozen at a clock, written into the BigQuery emulator.

The emulator is seeded with the command itself (a subprocess, as a user runs it); then the terminal report
over that project, with BACKFILL_NOW at the load's clock, must give the same JSON figures as `--warehouse demo`
over the same demo file, and the app must show them. Two clocks: 6 demo hours in (Phase 3 running, failures
and stuck runs) and 28 hours in (Phase 3 done, Phase 4 running), the second through --replace.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from monitor import cli, data, demo, demo_load
from monitor import config as config_mod
from tests.bq_emulator import fresh_project
from tests.bq_seed import client_for

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
FIRST = "2025-11-30T14:30:00Z"  # the first load builds the demo file here: t0 = 08:30, so 6 demo hours in
LATER = "2025-12-01T12:30:00Z"  # 28 demo hours in: Phase 3 complete, Phase 4 in progress
ENV_TO_DROP = ("BACKFILL_WAREHOUSE", "BACKFILL_NOW", "BACKFILL_CONFIG", "BACKFILL_DEMO_SPEED", "BACKFILL_REFRESH_S")
DATASETS = ["nba_raw", "nba_analytics", "nba_precompute", "nba_reference"]


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def url(project: str, endpoint: str) -> str:
    return f"bigquery://{project}?endpoint={endpoint}"


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("demo-load") / "demo.duckdb"  # built by the first load


def env_for(demo_file: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    return {**env, "BACKFILL_DEMO_PATH": str(demo_file), **extra}


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - this interpreter, our own modules
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def load_cmd(demo_file: Path, target: str, *flags: str) -> subprocess.CompletedProcess:
    return run(["-m", "monitor.demo", "load", target, *flags], env_for(demo_file))


def comparable(doc: dict) -> dict:
    """The JSON figures minus what may differ between engines: the label, timing and bytes."""
    assert doc["meta"]["queries"] <= 4 and not any(t["status"] == "error" for t in doc["tables"])
    doc.pop("warehouse")
    doc["meta"].pop("elapsed_s")
    doc["meta"].pop("bytes_processed")
    return doc


def figures(demo_file: Path, warehouse: str, now: str) -> dict:
    """`python -m monitor --warehouse W --format json` with BACKFILL_NOW=now, in a subprocess."""
    proc = run(["-m", "monitor", "--warehouse", warehouse, "--format", "json"], env_for(demo_file, BACKFILL_NOW=now))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return comparable(json.loads(proc.stdout))


def figures_in_process(demo_file: Path, warehouse: str, now: str, monkeypatch, capsys) -> dict:
    """The same through monitor.cli.main in this process (no interpreter start-up: the slow part on a busy machine)."""
    for name in ENV_TO_DROP:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(demo_file))
    monkeypatch.setenv("BACKFILL_NOW", now)
    capsys.readouterr()
    assert cli.main(["--warehouse", warehouse, "--format", "json"]) == 0
    return comparable(json.loads(capsys.readouterr().out))


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def view_counts(demo_file: Path, now: str) -> dict[str, int]:
    """Rows the demo's views show at `now`, per table."""
    cfg = config_mod.load()
    with duckdb.connect(str(demo_file), read_only=True) as con:
        demo.set_clock(con, utc(now))  # at the speed the file was built with
        return {key: con.execute(f"SELECT COUNT(*) FROM {key}").fetchone()[0] for key in demo_load.demo_keys(cfg)}


LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}  # real BigQuery answers with these names


def schema_of(table) -> dict[str, tuple[str, str]]:
    return {f.name: (LEGACY_TYPES.get(f.field_type, f.field_type), f.mode) for f in table.schema}


def bq_counts(endpoint: str, project: str) -> dict[str, int]:
    client = client_for(endpoint, project)
    try:
        return {key: client.get_table(f"{project}.{key}").num_rows for key in demo_load.demo_keys(config_mod.load())}
    finally:
        client.close()


@pytest.fixture(scope="module")
def loaded(bq_endpoint, demo_file) -> str:
    """A project loaded by the command at FIRST (which also builds the demo file)."""
    project = fresh_project("demo-load")
    started = time.perf_counter()
    proc = load_cmd(demo_file, url(project, bq_endpoint), "--at", FIRST)
    print(f"\ndemo load at {FIRST} (building the demo file too): {time.perf_counter() - started:.1f} s")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == ""  # progress goes to stderr
    assert f"Reading the demo at {FIRST} (6.0 demo hours into the backfill)" in proc.stderr
    assert "nba_reference.processor_run_history:" in proc.stderr and "clustered by processor_name, status, season_year" in proc.stderr
    assert f"See it: BACKFILL_NOW={FIRST} python -m monitor --warehouse \"{url(project, bq_endpoint)}\"" in proc.stderr
    return project


@pytest.fixture(scope="module")
def loaded_figures(bq_endpoint, demo_file, loaded) -> dict:
    """`python -m monitor --warehouse bigquery://...?endpoint=... --format json` over the loaded project at FIRST."""
    return figures(demo_file, url(loaded, bq_endpoint), FIRST)


# --- the same figures as the demo ---------------------------------------------------------------


def test_loaded_project_gives_the_same_figures_as_the_demo(demo_file, loaded_figures):
    bq = loaded_figures
    assert bq == figures(demo_file, "demo", FIRST)
    phases = {p["name"]: p for p in bq["phases"]}
    assert 0 < phases["Phase 3"]["complete_dates"] < phases["Phase 3"]["eligible_dates"] == 675  # a real mid-run state
    assert bq["failures"] and bq["stuck"] and bq["unresolved"]
    assert sum(t["partial_dates"] for t in bq["tables"]) > 0


def test_rows_types_partitioning_and_clustering(bq_endpoint, demo_file, loaded):
    assert bq_counts(bq_endpoint, loaded) == view_counts(demo_file, FIRST)
    client = client_for(bq_endpoint, loaded)
    try:
        assert sorted(d.dataset_id for d in client.list_datasets()) == sorted(DATASETS)
        schedule = client.get_table(f"{loaded}.nba_raw.nbac_schedule")
        assert schedule.time_partitioning.field == "game_date" and schedule.time_partitioning.type_ == "DAY"
        fields = schema_of(schedule)
        assert fields["game_date"] == ("DATE", "REQUIRED") and fields["game_id"] == ("STRING", "REQUIRED")
        assert fields["game_status"] == ("INT64", "NULLABLE") and fields["is_playoffs"] == ("BOOL", "NULLABLE")
        runs = client.get_table(f"{loaded}.nba_reference.processor_run_history")
        assert runs.time_partitioning.field == "data_date"
        assert runs.clustering_fields == ["processor_name", "status", "season_year"]
        fields = schema_of(runs)
        assert fields["started_at"] == ("TIMESTAMP", "REQUIRED") and fields["processed_at"] == ("TIMESTAMP", "NULLABLE")
        assert fields["errors"][0] == fields["summary"][0] == "JSON" and fields["duration_seconds"][0] == "FLOAT64"
        zones = client.get_table(f"{loaded}.nba_precompute.team_defense_zone_analysis")
        assert zones.time_partitioning.field == "analysis_date"
        required = client.query(
            "SELECT table_schema, table_name FROM ("
            + " UNION ALL ".join(f"SELECT * FROM `{loaded}.{ds}`.INFORMATION_SCHEMA.TABLE_OPTIONS" for ds in DATASETS)
            + ") WHERE option_name = 'require_partition_filter' AND option_value = 'true' ORDER BY 1, 2"
        ).result()
        assert [tuple(r.values()) for r in required] == [
            ("nba_analytics", "team_offense_game_summary"), ("nba_raw", "nbac_schedule")]
        # timestamps materialised at the clock, JSON loaded as JSON (objects stay objects)
        rows = list(client.query(
            f"SELECT MAX(started_at) AS last_start, "
            f"COUNTIF(JSON_VALUE(errors, '$.cleanup_reason') = 'stale_running_cleanup') AS cleanups "
            f"FROM `{loaded}.nba_reference.processor_run_history` WHERE data_date >= '2021-01-01'").result())
        assert rows[0]["last_start"] <= utc(FIRST) and rows[0]["cleanups"] > 0
    finally:
        client.close()


# --- refusals ---------------------------------------------------------------------------------------


def test_refuses_the_config_project(bq_endpoint, demo_file):
    proc = load_cmd(demo_file, url("nba-props-platform", bq_endpoint), "--at", FIRST)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert line.startswith("error: refusing to write demo data into nba-props-platform") and "pipeline.project" in line
    client = client_for(bq_endpoint, "nba-props-platform")
    try:
        assert list(client.list_datasets()) == []  # nothing was written
    finally:
        client.close()


def test_refuses_existing_datasets_without_replace(bq_endpoint, demo_file, loaded, monkeypatch, capsys):
    before = bq_counts(bq_endpoint, loaded)
    monkeypatch.setenv("BACKFILL_DEMO_PATH", str(demo_file))
    capsys.readouterr()
    assert demo_load.main(["load", url(loaded, bq_endpoint), "--at", LATER]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [
        f"Checking bigquery://{loaded} (emulator at {bq_endpoint}) for datasets nba_raw, nba_analytics, "
        "nba_precompute, nba_reference",
        f"error: {loaded} already has dataset(s) nba_raw, nba_analytics, nba_precompute, nba_reference: "
        "add --replace to drop the demo's tables there and load them again"]
    assert bq_counts(bq_endpoint, loaded) == before


def test_a_clock_before_the_demo_files_backfill_is_refused_not_loaded_empty(bq_endpoint, demo_file, loaded):
    """The module's demo file began at 08:30 on FIRST's day (built then): at 08:00 only the schedule would load."""
    project = fresh_project("too-early")
    proc = load_cmd(demo_file, url(project, bq_endpoint), "--at", "2025-11-30T08:00:00Z")
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (  # after the progress line naming the target
        f"error: the demo in {demo_file} begins its backfill at 2025-11-30T08:30:00Z, after --at 2025-11-30T08:00:00Z: "
        "only the schedule would load. Choose a later --at, or set BACKFILL_DEMO_PATH to a path that does not "
        "exist yet: the demo is then built there for 2025-11-30T08:00:00Z")
    client = client_for(bq_endpoint, project)
    try:
        assert list(client.list_datasets()) == []  # nothing was written
    finally:
        client.close()


@pytest.mark.parametrize("args, reason", [
    (["bigquery://Bad_Project?endpoint=http://127.0.0.1:9"], "invalid BigQuery project id 'Bad_Project'"),
    (["bigquery://?endpoint=http://127.0.0.1:9"], "the URL must name the project to load into"),
    (["duckdb:warehouse.duckdb"], "not a BigQuery URL"),
    (["bigquery://scratch-project?endpoint=http://10.1.2.3:9050"], "endpoint must be a loopback http(s) URL"),
    (["bigquery://user:hunter2@scratch-project"], "must not carry credentials"),
    (["bigquery://scratch-project?endpoint=http://127.0.0.1:9", "--at", "yesterday"], "--at 'yesterday' is not an ISO-8601 time"),
    # a clock the monitor would refuse to show it at
    (["bigquery://scratch-project?endpoint=http://127.0.0.1:9", "--at", "1960-01-01T00:00:00Z"],
     "--at '1960-01-01T00:00:00Z' is out of range (1970 to 9000)"),
    (["bigquery://scratch-project?endpoint=http://127.0.0.1:9", "--at", "9999-01-01"], "is out of range (1970 to 9000)"),
    (["bigquery://scratch-project?endpoint=http://127.0.0.1:9", "--config", "/nonexistent.toml"], "bad config"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, reason):
    assert demo_load.main(["load", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and reason in err and "hunter2" not in err


def test_bad_demo_speed_is_bad_input(monkeypatch, capsys):
    monkeypatch.setenv("BACKFILL_DEMO_SPEED", "fast")
    assert demo_load.main(["load", "bigquery://scratch-project?endpoint=http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == "error: BACKFILL_DEMO_SPEED must be a positive number, got 'fast'\n"


def test_bad_url_through_the_command_line(demo_file):
    proc = load_cmd(demo_file, "bigquery://Bad_Project")
    assert proc.returncode == 2
    assert "invalid BigQuery project id 'Bad_Project'" in one_line_error(proc)


@pytest.mark.parametrize("argv, reason", [
    (["unload"], "invalid choice: 'unload'"),
    ([], "the following arguments are required: COMMAND"),
    (["load"], "the following arguments are required: URL"),
    (["load", "bigquery://scratch-project", "--colour"], "unrecognized arguments: --colour"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, argv, reason):
    with pytest.raises(SystemExit) as exc:
        demo_load.main(argv)
    assert exc.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and reason in err


def test_refuses_the_project_of_a_given_config(tmp_path, capsys):
    text = (ROOT / "monitor" / "pipelines" / "nba.toml").read_text().replace(
        'project = "nba-props-platform"', 'project = "nba-staging-warehouse"')
    custom = tmp_path / "pipeline.toml"
    custom.write_text(text)
    assert demo_load.main(["load", "bigquery://nba-staging-warehouse?endpoint=http://127.0.0.1:9",
                           "--config", str(custom)]) == 2
    assert "refusing to write demo data into nba-staging-warehouse" in capsys.readouterr().err


# --- --replace --------------------------------------------------------------------------------------


def test_replace_drops_only_the_demo_tables_and_loads_a_new_clock(bq_endpoint, demo_file, loaded, monkeypatch, capsys):
    project = fresh_project("demo-replace")
    client = client_for(bq_endpoint, project)
    try:  # an older load (a stale schedule) and a table of the user's own, in one of the datasets
        client.create_dataset(f"{project}.nba_raw")
        client.query(f"CREATE TABLE `{project}.nba_raw.nbac_schedule` (game_date DATE, game_id STRING)").result()
        client.query(f"CREATE TABLE `{project}.nba_raw.keep_me` (x INT64)").result()
        assert client.insert_rows_json(f"{project}.nba_raw.keep_me", [{"x": 1}, {"x": 2}]) == []
        started = time.perf_counter()
        proc = load_cmd(demo_file, url(project, bq_endpoint), "--at", LATER, "--replace")
        print(f"\ndemo load --replace at {LATER}: {time.perf_counter() - started:.1f} s")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "28.0 demo hours into the backfill" in proc.stderr
        assert "created dataset nba_raw" not in proc.stderr and "created dataset nba_analytics" in proc.stderr
        assert client.get_table(f"{project}.nba_raw.keep_me").num_rows == 2  # not the demo's: left alone
        assert client.get_table(f"{project}.nba_raw.nbac_schedule").time_partitioning.field == "game_date"
    finally:
        client.close()
    assert bq_counts(bq_endpoint, project) == view_counts(demo_file, LATER)
    bq = figures_in_process(demo_file, url(project, bq_endpoint), LATER, monkeypatch, capsys)
    assert bq == figures_in_process(demo_file, "demo", LATER, monkeypatch, capsys)
    phases = {p["name"]: p for p in bq["phases"]}
    assert phases["Phase 3"]["gate"] == "pass"
    assert 0 < phases["Phase 4"]["complete_dates"] < phases["Phase 4"]["eligible_dates"] == 647


# --- the app ---------------------------------------------------------------------------------------


@pytest.fixture
def fresh_streamlit():
    st.cache_data.clear()
    st.cache_resource.clear()
    data._last_forced["at"] = float("-inf")
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def test_the_app_shows_the_loaded_figures(bq_endpoint, loaded, loaded_figures, monkeypatch, fresh_streamlit):
    expected = loaded_figures
    for name in ENV_TO_DROP:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKFILL_WAREHOUSE", url(loaded, bq_endpoint))
    monkeypatch.setenv("BACKFILL_NOW", FIRST)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    shown = {m.label: m.value for m in at.metric}
    for phase in expected["phases"]:
        label = next(k for k in shown if k.startswith(f"{phase['name']} · "))
        assert shown[label] == f"{phase['complete_dates']} / {phase['eligible_dates']}"
    gates = [m.value for m in at.metric if m.label == "Quality gate"]
    assert gates == [p["gate"] for p in expected["phases"]]
    captions = [c.value.replace("\\", "") for c in at.sidebar.caption]  # shown escaped for markdown
    assert f"Warehouse: bigquery://{loaded}" in captions
    assert f"Last refresh: {expected['meta']['queries']} queries" in " ".join(captions)


# --- pure parts -------------------------------------------------------------------------------------


def test_clock_is_at_else_backfill_now_else_now_to_the_second(monkeypatch):
    assert demo_load.parse_clock("2025-12-01T08:00:00") == utc("2025-12-01T08:00:00Z")  # naive means UTC
    assert demo_load.parse_clock("2025-12-01T09:00:00+01:00") == utc("2025-12-01T08:00:00Z")
    monkeypatch.setenv("BACKFILL_NOW", "2025-11-30T14:30:00.250Z")
    assert demo_load.parse_clock(None) == utc("2025-11-30T14:30:00.250Z")
    monkeypatch.setenv("BACKFILL_NOW", "soon")
    with pytest.raises(demo_load.Refused, match="BACKFILL_NOW='soon' is not an ISO-8601 time"):
        demo_load.parse_clock(None)
    monkeypatch.delenv("BACKFILL_NOW")
    now = demo_load.parse_clock(None)
    assert now.microsecond == 0 and abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_table_resources_follow_the_production_layout():
    cfg = config_mod.load()

    def resource(key: str, columns: dict[str, str]) -> dict:
        table = demo_load.FrozenTable(key, tuple(columns.items()), [], **demo_load.table_layout(cfg, key, columns))
        return demo_load.table_resource("scratch-project", table, "demo")

    offense = resource("nba_analytics.team_offense_game_summary", {"game_date": "DATE", "team_abbr": "STRING"})
    assert offense["requirePartitionFilter"] is True  # where real BigQuery reads it
    assert offense["timePartitioning"] == {"type": "DAY", "field": "game_date", "requirePartitionFilter": True}
    assert offense["tableReference"] == {"projectId": "scratch-project", "datasetId": "nba_analytics",
                                         "tableId": "team_offense_game_summary"}
    players = resource("nba_analytics.player_game_summary", {"game_date": "DATE", "player_lookup": "STRING"})
    assert players["timePartitioning"] == {"type": "DAY", "field": "game_date"} and "requirePartitionFilter" not in players
    cache = resource("nba_precompute.player_daily_cache", {"cache_date": "DATE", "player_lookup": "STRING"})
    assert cache["timePartitioning"]["field"] == "cache_date" and "clustering" not in cache
    runs = resource("nba_reference.processor_run_history", {
        "processor_name": "STRING", "run_id": "STRING", "data_date": "DATE", "status": "STRING",
        "started_at": "TIMESTAMP", "errors": "JSON", "season_year": "INT64"})
    assert runs["clustering"] == {"fields": ["processor_name", "status", "season_year"]}
    assert runs["timePartitioning"] == {"type": "DAY", "field": "data_date"}
    modes = {f["name"]: f["mode"] for f in runs["schema"]["fields"]}
    assert [n for n, m in modes.items() if m == "REQUIRED"] == ["processor_name", "run_id", "data_date", "status", "started_at"]
    schedule = resource("nba_raw.nbac_schedule", {"game_date": "DATE", "game_id": "STRING", "game_status": "INT64"})
    assert schedule["requirePartitionFilter"] is True
    assert {f["name"]: f["mode"] for f in schedule["schema"]["fields"]} == {
        "game_date": "REQUIRED", "game_id": "REQUIRED", "game_status": "NULLABLE"}


class DenyingClient:
    """A project where datasets can be created but tables cannot: the load fails half-way."""

    def __init__(self):
        self.closed = False

    def get_dataset(self, ref, **kwargs):
        from google.api_core.exceptions import NotFound

        raise NotFound(f"Not found: Dataset {ref}")

    def create_dataset(self, dataset, **kwargs):
        return dataset

    def create_table(self, table, **kwargs):
        from google.api_core.exceptions import Forbidden

        message = "Access Denied: Dataset scratch-project:nba_raw: Permission bigquery.tables.create denied"
        raise Forbidden(f"POST http://127.0.0.1:9/bigquery/v2/projects/scratch-project/tables: {message}",
                        errors=[{"reason": "accessDenied", "message": message}])

    def close(self):
        self.closed = True


def test_a_load_failing_half_way_says_how_to_start_over(demo_file, loaded):
    client = DenyingClient()
    with pytest.raises(demo_load.LoadFailed) as exc:
        demo_load.load(demo_load.Target("scratch-project"), config_mod.load(), utc(FIRST), demo_path=demo_file,
                       client=client)
    assert str(exc.value) == (
        "access denied (403): Access Denied: Dataset scratch-project:nba_raw: Permission bigquery.tables.create "
        "denied; scratch-project may now hold part of the demo: run again with --replace")
    assert not client.closed  # a client given by the caller stays the caller's
