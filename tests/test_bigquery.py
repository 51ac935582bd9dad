"""The BigQuery engine: the real google-cloud-bigquery client against the local emulator (tests/bq_emulator.py).

Parity: the hand-worked warehouse of test_progress.py goes into a DuckDB file and into the emulator, and both
engines must give identical snapshot frames and identical JSON figures, also with TZ=America/New_York set for
the whole process (a subprocess). The usage guide's example states go through both engines the same way.
The rest pins the engine's contract: typed parameters, cap, label and location on every job, a deadline on the
whole wait, read-only, one-line reasons without secrets, URL and credential handling.

Emulator quirks written around (see tooling.md): it never enforces `maximum_bytes_billed` (every job reports
0 bytes), so BigQuery's refusal is replayed through the client; its jobs.get drops a finished job's
configuration, so what reached the server is read from the jobs.insert response.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import google.auth
import pandas as pd
import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import DefaultCredentialsError, RefreshError

from monitor import config as config_mod
from monitor import fixtures, progress, report, snapshot
from monitor.warehouse import QueryError, WarehouseError, open_warehouse
from monitor.warehouse.bigquery import BigQueryWarehouse, describe, to_parameters
from monitor.warehouse.duckdb import DuckDBWarehouse
from tests.bq_emulator import ENDPOINT_ENV, fresh_project
from tests.bq_seed import client_for, copy_duckdb, seed
from tests.test_progress import COVERAGE, NOW, RUNS, SCHEDULE
from tests.warehouse_builder import build

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("catalog", "schedule", "coverage", "runs", "last_success")
EXPECT_TZ_ENV = "PARITY_EXPECT_TZ"
SMALL = {"schedule": ("raw", "schedule"), "schedule_rows": SCHEDULE, "runs": ("ref", "run_history"), "run_rows": RUNS}
# pre.b2 does not exist; pre.b1 exists without its date column analysis_date.
BROKEN_TABLES = {"ana.a1": COVERAGE["ana.a1"], "ana.a2": COVERAGE["ana.a2"], "pre.b1": ("game_date", COVERAGE["pre.b1"][1])}


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def small_bq(bq_endpoint):
    project = fresh_project("small")
    seed(bq_endpoint, project, tables=COVERAGE, **SMALL)
    return project


@pytest.fixture(scope="module")
def small_duckdb(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bq-parity") / "small.duckdb", tables=COVERAGE, **SMALL)


@pytest.fixture(scope="module")
def broken_bq(bq_endpoint):
    project = fresh_project("broken")
    seed(bq_endpoint, project, tables=BROKEN_TABLES, **SMALL)
    return project


@pytest.fixture(scope="module")
def broken_duckdb(tmp_path_factory):
    return build(tmp_path_factory.mktemp("bq-broken") / "broken.duckdb", tables=BROKEN_TABLES, **SMALL)


def both(cfg, duck_path: Path, endpoint: str, project: str, now: dt.datetime = NOW) -> tuple[snapshot.Snapshot, snapshot.Snapshot]:
    duck, bq = DuckDBWarehouse(duck_path), BigQueryWarehouse(project, endpoint=endpoint)
    try:
        return snapshot.fetch(cfg, duck, now=now), snapshot.fetch(cfg, bq, now=now)
    finally:
        duck.close()
        bq.close()


def figures_json(snap: snapshot.Snapshot, cfg, season: str | None = None) -> dict:
    """The JSON contract minus what may differ between engines: the warehouse label, timing and bytes."""
    doc = report.to_json(progress.compute(snap, cfg, season), cfg)
    doc.pop("warehouse")
    doc["meta"].pop("elapsed_s")
    doc["meta"].pop("bytes_processed")
    return doc


def assert_same_snapshot(a: snapshot.Snapshot, b: snapshot.Snapshot) -> None:
    assert (a.queries, a.errors) == (b.queries, b.errors)
    for name in SECTIONS:
        left, right = getattr(a, name), getattr(b, name)
        assert left.error == right.error, name
        if left.frame is None or right.frame is None:
            assert left.frame is right.frame, name
        else:
            pd.testing.assert_frame_equal(left.frame, right.frame, obj=name)


# --- parity -------------------------------------------------------------------


def test_parity_snapshot_frames_and_json_figures(cfg, bq_endpoint, small_bq, small_duckdb):
    expect_tz = os.environ.get(EXPECT_TZ_ENV)
    if expect_tz:  # run by test_parity_with_new_york_time_zone: prove the zone is really in effect
        assert time.localtime(NOW.timestamp()).tm_gmtoff == -5 * 3600
        with duckdb.connect() as con:
            assert con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == expect_tz
        raw = DuckDBWarehouse(small_duckdb).query("SELECT started_at FROM `ref`.`run_history` LIMIT 1", {}, now=NOW, deadline_s=10)
        assert str(raw.frame["started_at"].dt.tz) == expect_tz  # DuckDB answers in local time; the snapshot makes it UTC
    duck, bq = both(cfg, small_duckdb, bq_endpoint, small_bq)
    assert bq.errors == {} and bq.queries == 3
    assert all(getattr(bq, name).ok for name in SECTIONS)
    assert_same_snapshot(duck, bq)
    assert bq.warehouse == f"bigquery://{small_bq}"
    for season in (None, "2023-24", "2024-25"):
        assert figures_json(duck, cfg, season) == figures_json(bq, cfg, season)
    doc = figures_json(bq, cfg)
    assert doc["meta"]["queries"] == 3
    assert [(t["table"], t["dates"], t["status"]) for t in doc["tables"]] == [
        ("a1", 5, "in_progress"), ("a2", 5, "in_progress"), ("b1", 4, "complete"), ("b2", 1, "in_progress")]


def test_parity_with_new_york_time_zone(bq_endpoint, small_bq):
    """The same parity test in a process whose local zone is America/New_York (DuckDB then answers in it)."""
    env = {**os.environ, "TZ": "America/New_York", ENDPOINT_ENV: bq_endpoint, EXPECT_TZ_ENV: "America/New_York"}
    proc = subprocess.run(  # noqa: S603 - this interpreter, this test file
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(ROOT)}::test_parity_snapshot_frames_and_json_figures"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


@pytest.mark.parametrize("state", ["complete", "start"])
def test_usage_guide_states_give_the_same_figures_through_the_emulator(bq_endpoint, tmp_path, state):
    nba = config_mod.load()
    now = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)
    path = fixtures.guide_state(tmp_path / f"{state}.duckdb", nba, state, now)
    project = fresh_project(f"guide-{state}".replace("_", "-"))
    partition = {nba.schedule.key: nba.schedule.date_column, nba.runs.key: "data_date",
                 **{t.key: t.date_column for t in nba.tables}}
    copy_duckdb(path, bq_endpoint, project, partition)
    duck, bq = both(nba, path, bq_endpoint, project, now)
    assert_same_snapshot(duck, bq)
    doc = figures_json(bq, nba)
    assert doc == figures_json(duck, nba)
    phases = {p["name"]: p for p in doc["phases"]}
    assert phases["Phase 3"]["expected_dates"] == 675
    assert phases["Phase 4"]["eligible_dates"] == 647
    if state == "complete":
        assert [s["expected"] for s in doc["seasons"]] == [215, 214, 209, 37]
        assert (phases["Phase 3"]["gate"], phases["Phase 4"]["gate"]) == ("pass", "pass")
    else:
        dates = {t["table"]: t["dates"] for t in doc["tables"]}
        assert (dates["player_game_summary"], dates["upcoming_player_game_context"]) == (348, 5)
        assert {t["table"]: t["status"] for t in doc["tables"]}[fixtures.ABSENT_TABLE] == "error"


# --- missing tables and columns -----------------------------------------------


def test_a_date_column_that_is_not_a_date_is_an_error_of_that_table_only(cfg, bq_endpoint, tmp_path):
    """ana.a2's game_date holds text: only a2 is in error, in the engine's own type name; a1 is counted as ever."""
    def tables(text_type):
        return {"ana.a1": COVERAGE["ana.a1"], "ana.a2": (*COVERAGE["ana.a2"], text_type)}

    project = fresh_project("textdate")
    seed(bq_endpoint, project, tables=tables("STRING"), **SMALL)
    duck, bq = both(cfg, build(tmp_path / "textdate.duckdb", tables=tables("VARCHAR"), **SMALL), bq_endpoint, project)
    for snap, text_type in ((duck, "VARCHAR"), (bq, "STRING")):
        assert snap.errors == {"ana.a2": f"date column ana.a2.game_date is {text_type}, not DATE",
                               "pre.b1": "table not found: pre.b1", "pre.b2": "table not found: pre.b2"}
        assert snap.coverage.ok and snap.runs.ok
        shown = {t["table"]: (t["status"], t["dates"]) for t in figures_json(snap, cfg)["tables"]}
        assert shown["a1"] == ("in_progress", 5) and shown["a2"] == ("error", 0)


def test_missing_table_and_missing_date_column_each_show_their_own_reason(cfg, bq_endpoint, broken_bq, broken_duckdb):
    duck, bq = both(cfg, broken_duckdb, bq_endpoint, broken_bq)
    assert bq.errors == {
        "pre.b1": "date column missing: pre.b1 has no column analysis_date",
        "pre.b2": "table not found: pre.b2",
    }
    assert bq.queries == 3 and bq.catalog.ok and bq.coverage.ok  # coverage ran over the tables that exist
    tables = {t["table"]: (t["status"], t["error"]) for t in figures_json(bq, cfg)["tables"]}
    assert tables["b1"] == ("error", "date column missing: pre.b1 has no column analysis_date")
    assert tables["b2"] == ("error", "table not found: pre.b2")
    assert tables["a1"][0] == "in_progress"
    assert_same_snapshot(duck, bq)
    assert figures_json(duck, cfg) == figures_json(bq, cfg)


def test_query_errors_are_one_line_reasons_without_the_endpoint(bq_endpoint, broken_bq):
    wh = BigQueryWarehouse(broken_bq, endpoint=bq_endpoint)
    with pytest.raises(QueryError) as missing_table:
        wh.query(f"SELECT COUNT(*) AS n FROM {wh.table_ref('pre', 'b2')}", {}, now=NOW, deadline_s=30)
    with pytest.raises(QueryError) as missing_column:
        wh.query(f"SELECT analysis_date FROM {wh.table_ref('pre', 'b1')}", {}, now=NOW, deadline_s=30)
    for exc, needle in ((missing_table, "b2"), (missing_column, "analysis_date")):
        text = str(exc.value)
        assert needle in text and "\n" not in text and "Traceback" not in text
        assert bq_endpoint.split("//")[1] not in text  # the request URL is stripped
    assert str(missing_table.value).startswith(("not found (404)", "access denied (403)"))  # emulator paths differ
    assert str(missing_column.value).startswith("bad query (400)")


# --- every job: parameters, cap, label, location --------------------------------


def test_every_job_carries_typed_parameters_cap_label_and_location(bq_endpoint, small_bq, monkeypatch):
    wh = BigQueryWarehouse(small_bq, endpoint=bq_endpoint, location="US", max_bytes_billed=12_345)
    jobs = []
    real_query = wh._client.query

    def spy(*args, **kwargs):
        job = real_query(*args, **kwargs)
        jobs.append(job)  # its properties are now the server's answer to jobs.insert
        return job

    monkeypatch.setattr(wh._client, "query", spy)
    new_york = NOW.astimezone(ZoneInfo("America/New_York"))
    result = wh.query(
        "SELECT @d AS d, @t AS t, @i AS i, @s AS s, ARRAY_LENGTH(@a) AS n, @a[OFFSET(1)] AS second",
        {"d": dt.date(2024, 1, 5), "t": new_york, "i": 3, "s": "x'; DROP TABLE y; --", "a": ["A1Processor", "B2"]},
        now=NOW, deadline_s=30,
    )
    row = result.frame.iloc[0]
    assert row["d"] == dt.date(2024, 1, 5)
    assert row["t"] == pd.Timestamp(NOW)  # the instant, whatever zone the caller's datetime was in
    assert (row["i"], row["s"], row["n"], row["second"]) == (3, "x'; DROP TABLE y; --", 2, "B2")
    [job] = jobs
    assert job.maximum_bytes_billed == 12_345
    assert job.configuration.job_timeout_ms == "30000"  # BigQuery stops the job at the caller's deadline
    assert job.labels == {"app": "backfill-monitor"}
    assert job.use_legacy_sql is False
    assert job.location == "US"
    types = {p.name: getattr(p, "type_", None) or f"ARRAY<{p.array_type}>" for p in job.query_parameters}
    assert types == {"d": "DATE", "t": "TIMESTAMP", "i": "INT64", "s": "STRING", "a": "ARRAY<STRING>"}
    assert result.bytes_processed == 0  # the emulator bills nothing; real BigQuery reports the job's bytes


def test_default_cap_is_10_gib(bq_endpoint, small_bq):
    assert BigQueryWarehouse(small_bq, endpoint=bq_endpoint).job_config({}).maximum_bytes_billed == 10 * 1024**3


def test_parameters_are_typed_by_python_type():
    params = {p.name: p for p in to_parameters({
        "d": dt.date(2024, 1, 1), "t": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC), "naive": dt.datetime(2024, 1, 1, 12),
        "i": 7, "f": 1.5, "b": True, "s": "x", "a": ["p", "q"], "empty": [], "ts": pd.Timestamp("2024-01-01", tz="UTC"),
    })}
    assert {k: getattr(p, "type_", None) for k, p in params.items() if k not in ("a", "empty")} == {
        "d": "DATE", "t": "TIMESTAMP", "naive": "TIMESTAMP", "i": "INT64", "f": "FLOAT64", "b": "BOOL", "s": "STRING",
        "ts": "TIMESTAMP"}
    assert (params["a"].array_type, params["empty"].array_type) == ("STRING", "STRING")
    assert params["naive"].value == dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)  # naive means UTC
    with pytest.raises(TypeError):
        to_parameters({"x": {"a": 1}})
    with pytest.raises(TypeError):
        to_parameters({"x": [1, "a"]})


def test_a_query_over_the_bytes_cap_is_refused_and_shown_as_such(cfg, bq_endpoint, small_bq, monkeypatch):
    """The emulator does not enforce maximum_bytes_billed, so the client gets BigQuery's own refusal
    (400 bytesBilledLimitExceeded, as job.result() raises it) for every job: each section shows it."""
    wh = BigQueryWarehouse(small_bq, endpoint=bq_endpoint, max_bytes_billed=1000)
    message = "Query exceeded limit for bytes billed: 1000. 10485760 or higher required."

    def refuse(sql, job_config=None, **kwargs):
        assert job_config.maximum_bytes_billed == 1000
        raise gexc.BadRequest(f"POST {bq_endpoint}/bigquery/v2/projects/{small_bq}/jobs: {message}",
                              errors=[{"reason": "bytesBilledLimitExceeded", "message": message}])

    monkeypatch.setattr(wh._client, "query", refuse)
    snap = snapshot.fetch(cfg, wh, now=NOW)
    for name in SECTIONS:
        error = getattr(snap, name).error
        assert error.startswith("refused by BigQuery: the query would bill more than the cap of 1,000 bytes"), name
        assert message in error and bq_endpoint not in error
    fig = progress.compute(snap, cfg)
    assert set(fig.tables["status"]) == {"error"}


# --- deadline -----------------------------------------------------------------


def test_the_deadline_fires(bq_endpoint, small_bq):
    wh = BigQueryWarehouse(small_bq, endpoint=bq_endpoint)
    with pytest.raises(QueryError, match=r"^query exceeded its deadline of 0\.001 s$"):
        wh.query("SELECT 1 AS one", {}, now=NOW, deadline_s=0.001)
    slow = ("SELECT COUNT(DISTINCT CONCAT(CAST(a AS STRING), '-', CAST(b AS STRING))) AS n "
            "FROM UNNEST(GENERATE_ARRAY(1, 6000)) AS a CROSS JOIN UNNEST(GENERATE_ARRAY(1, 1000)) AS b")  # ~2.5 s here
    started = time.monotonic()
    with pytest.raises(QueryError, match=r"^query exceeded its deadline of 0\.5 s$"):
        wh.query(slow, {}, now=NOW, deadline_s=0.5)
    assert time.monotonic() - started < 1.5  # the caller stops waiting at the deadline, not when the job ends


def test_a_snapshot_past_its_deadline_shows_errors_not_zeros(cfg, bq_endpoint, small_bq):
    snap = snapshot.fetch(cfg, BigQueryWarehouse(small_bq, endpoint=bq_endpoint), now=NOW, deadline_s=0.001)
    for name in SECTIONS:
        assert getattr(snap, name).error == "query exceeded its deadline of 0.001 s", name
        assert getattr(snap, name).frame is None


# --- read-only ----------------------------------------------------------------


class NoClient:
    """Stands in for the client where nothing may reach it."""

    def __init__(self):
        self.calls = []

    def query(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        raise AssertionError("the query reached the client")

    def close(self):
        pass


@pytest.mark.parametrize("sql", [
    "DROP TABLE `my-project.raw.schedule`",
    "CREATE TABLE `my-project.raw.x` AS SELECT 1 AS a",
    "INSERT INTO `my-project.raw.schedule` (game_id) VALUES ('g')",
    "DELETE FROM `my-project.raw.schedule` WHERE TRUE",
    "UPDATE `my-project.raw.schedule` SET game_status = 1 WHERE TRUE",
    "MERGE `my-project.raw.schedule` t USING `my-project.raw.y` s ON FALSE WHEN NOT MATCHED THEN INSERT ROW",
    "SELECT 1; DROP TABLE `my-project.raw.schedule`",
    "TRUNCATE TABLE `my-project.raw.schedule`",
])
def test_ddl_and_dml_are_refused_before_they_reach_the_client(sql):
    client = NoClient()
    wh = BigQueryWarehouse("my-project", client=client)
    with pytest.raises(QueryError, match="^refused"):
        wh.query(sql, {}, now=NOW, deadline_s=10)
    assert client.calls == []


def test_ddl_is_refused_against_the_emulator_and_the_table_stays(bq_endpoint, small_bq):
    wh = BigQueryWarehouse(small_bq, endpoint=bq_endpoint)
    with pytest.raises(QueryError, match="^refused"):
        wh.query(f"DROP TABLE {wh.table_ref('raw', 'schedule')}", {}, now=NOW, deadline_s=30)
    client = client_for(bq_endpoint, small_bq)
    try:
        assert client.get_table(f"{small_bq}.raw.schedule").num_rows == len(SCHEDULE)
    finally:
        client.close()


# --- URLs, names, credentials -------------------------------------------------


@pytest.fixture
def no_adc(monkeypatch):
    """Application Default Credentials that must not be consulted."""
    def fail(*args, **kwargs):
        raise AssertionError("google.auth.default() was called")
    monkeypatch.setattr(google.auth, "default", fail)


@pytest.mark.parametrize("url, reason", [
    ("bigquery://", "BigQuery URL names no project"),
    ("bigquery://Bad_Project", "invalid BigQuery project id 'Bad_Project'"),
    ("bigquery://proj?endpoint=http://10.0.0.1:1", "endpoint must be a loopback http(s) URL"),
    ("bigquery://my-project?endpoint=http://10.0.0.1:1", "endpoint must be a loopback http(s) URL"),
    ("bigquery://my-project?endpoint=http://localhost.example.com:1", "endpoint must be a loopback"),
    ("bigquery://my-project?endpoint=ftp://127.0.0.1:1", "endpoint must be a loopback"),
    ("bigquery://my-project?endpoint=http://user:hunter2@127.0.0.1:1", "endpoint must be a loopback"),
    ("bigquery://my-project?endpoint=http://127.0.0.1:1/path?token=hunter2", "endpoint must be a loopback"),
    ("bigquery://my-project?location=US%3BDROP", "invalid BigQuery location"),
    ("bigquery://my-project?colour=blue", "unknown option(s) colour"),
    ("bigquery://my-project?location=US&location=EU", "repeats an option"),
    ("bigquery://my-project/extra", "unexpected parts"),
    ("bigquery://user:hunter2@my-project", "must not carry credentials"),
])
def test_bad_urls_give_one_line_errors(no_adc, url, reason):
    with pytest.raises(WarehouseError) as exc:
        open_warehouse(url)
    text = str(exc.value)
    assert reason in text
    assert "\n" not in text and "hunter2" not in text


def test_an_emulator_takes_a_short_project_id_that_bigquery_would_refuse(no_adc):
    assert open_warehouse("bigquery://demo?endpoint=http://127.0.0.1:9").label == "bigquery://demo"
    with pytest.raises(WarehouseError, match="invalid BigQuery project id 'demo': 6-30 lowercase"):
        open_warehouse("bigquery://demo")
    with pytest.raises(WarehouseError, match="invalid BigQuery project id 'demo_1': 1-30 lowercase"):
        open_warehouse("bigquery://demo_1?endpoint=http://127.0.0.1:9")


def test_url_parts_and_project_from_config(no_adc):
    endpoint = "http://127.0.0.1:9"  # the client does not connect until a query runs
    wh = open_warehouse(f"bigquery://?endpoint={endpoint}", project="from-config")
    assert wh.label == "bigquery://from-config" and wh.project == "from-config"
    wh = open_warehouse(f"bigquery://from-url?location=EU&endpoint={endpoint}", project="from-config")
    assert (wh.label, wh.project, wh.location, wh.endpoint) == ("bigquery://from-url", "from-url", "EU", endpoint)
    assert isinstance(wh._client._credentials, AnonymousCredentials)  # an emulator needs no credentials
    assert wh.table_ref("nba_raw", "nbac_schedule") == "`from-url.nba_raw.nbac_schedule`"
    assert wh.columns_ref("nba_raw") == "`from-url.nba_raw`.INFORMATION_SCHEMA.COLUMNS"
    with pytest.raises(ValueError):
        wh.table_ref("nba_raw`; DROP TABLE x; --", "t")
    with pytest.raises(ValueError):
        wh.columns_ref("bad-dataset")


def test_no_credentials_says_what_to_do_and_shows_no_secret(monkeypatch):
    def missing(*args, **kwargs):
        raise DefaultCredentialsError("File /secrets/sa-key.json was not found. private_key=SECRET-KEY-123")
    monkeypatch.setattr(google.auth, "default", missing)
    with pytest.raises(WarehouseError) as exc:
        open_warehouse("bigquery://my-project")
    text = str(exc.value)
    assert "gcloud auth application-default login" in text
    assert "[gcp_service_account]" in text and ".streamlit/secrets.toml.example" in text
    assert "SECRET" not in text and "sa-key.json" not in text and "\n" not in text
    assert exc.value.__cause__ is None and exc.value.__suppress_context__  # no chained error carrying the original


@pytest.mark.parametrize("content, reason", [
    (None, "which is not a file"),
    ('{"type": "nonsense", "private_key": "SECRET-KEY-123"}', "which is not a usable credentials file"),
    ("[]", "which is not a usable credentials file"),  # JSON, but not an object: google.auth raises AttributeError
    ("null", "which is not a usable credentials file"),
])
def test_a_bad_google_application_credentials_file_is_named_with_the_reason(tmp_path, monkeypatch, content, reason):
    key = tmp_path / "key.json"
    if content is not None:
        key.write_text(content)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    with pytest.raises(WarehouseError) as exc:
        open_warehouse("bigquery://my-project")
    assert str(exc.value).startswith(f"GOOGLE_APPLICATION_CREDENTIALS names {key}, {reason}")
    assert "SECRET" not in str(exc.value)


def test_given_credentials_win_over_adc(no_adc):
    creds = AnonymousCredentials()  # stands for the service account the app builds from st.secrets
    wh = open_warehouse("bigquery://my-project?location=US", credentials=creds)
    assert wh._client._credentials is creds and wh._client.location == "US"


def test_adc_is_used_when_the_app_gives_no_credentials(monkeypatch):
    creds = AnonymousCredentials()
    monkeypatch.setattr(google.auth, "default", lambda *a, **k: (creds, "adc-project"))
    wh = open_warehouse("bigquery://my-project")
    assert wh._client._credentials is creds and wh.label == "bigquery://my-project"  # the URL's project wins


@pytest.mark.parametrize("exc, expected", [
    (gexc.NotFound("GET http://x/y: Not found: Table p:d.t was not found in location US"),
     "not found (404): Not found: Table p:d.t was not found in location US"),
    (gexc.BadRequest("Unrecognized name: analysis_date at [1:8]", errors=[{"reason": "invalidQuery", "message": "Unrecognized name: analysis_date at [1:8]"}]),
     "bad query (400): Unrecognized name: analysis_date at [1:8]"),
    (gexc.Forbidden("Quota exceeded: Your project exceeded quota for concurrent queries", errors=[{"reason": "quotaExceeded", "message": "Quota exceeded: Your project exceeded quota for concurrent queries"}]),
     "BigQuery quota exceeded (403): Quota exceeded: Your project exceeded quota for concurrent queries"),
    (gexc.Forbidden("Access Denied: Table p:d.t: User does not have permission", errors=[{"reason": "accessDenied", "message": "Access Denied: Table p:d.t: User does not have permission"}]),
     "access denied (403): Access Denied: Table p:d.t: User does not have permission"),
    (gexc.ServiceUnavailable("Service is currently unavailable"), "BigQuery server error (503): Service is currently unavailable"),
    (gexc.InternalServerError("backendError"), "BigQuery server error (500): backendError"),
    (gexc.Unauthorized("Request had invalid authentication credentials"), "BigQuery rejected the credentials (401): Request had invalid authentication credentials"),
])
def test_api_errors_map_to_short_reasons(exc, expected):
    assert describe(exc) == expected


def test_credential_errors_never_show_their_details():
    exc = RefreshError("invalid_grant: Invalid JWT Signature.", {"private_key": "-----BEGIN PRIVATE KEY-----SECRET"})
    text = describe(exc)
    assert "SECRET" not in text and "PRIVATE KEY" not in text and "invalid_grant" not in text
    assert "gcloud auth application-default login" in text


def test_a_malformed_service_account_secret_is_named_but_never_shown():
    import tomllib

    from monitor.warehouse.bigquery import service_account_credentials

    example = tomllib.loads((ROOT / ".streamlit" / "secrets.toml.example").read_text())
    with pytest.raises(WarehouseError) as exc:
        service_account_credentials(example["gcp_service_account"])  # the example's key is fake
    text = str(exc.value)
    assert "[gcp_service_account]" in text and "\n" not in text
    assert "FAKE-KEY" not in text and "PRIVATE KEY" not in text and "0000000000" not in text


def test_an_unreachable_endpoint_ends_at_the_deadline_and_says_why():
    wh = BigQueryWarehouse("nobody-home", endpoint="http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.monotonic()
    with pytest.raises(QueryError) as exc:
        wh.query("SELECT 1 AS one", {}, now=NOW, deadline_s=2)
    assert time.monotonic() - started < 3
    assert str(exc.value) == "query exceeded its deadline of 2 s (last try: cannot reach BigQuery: ConnectionError)"


class SlowClient:
    """A client whose job never finishes: the engine must stop waiting at the deadline and cancel the job."""

    def __init__(self):
        self.release, self.cancelled = threading.Event(), threading.Event()
        self.cancel_args = None

    def query(self, sql, job_config=None, location=None, **kwargs):
        client = self
        self.job_config = job_config

        class Job:
            job_id, total_bytes_processed = "job-123", None

            def __init__(self):
                self.location = location

            def result(self, **kwargs):
                client.release.wait(30)
                raise AssertionError("the caller should have stopped waiting")

        return Job()

    def cancel_job(self, job_id, location=None, **kwargs):
        self.cancel_args = (job_id, location)
        self.cancelled.set()

    def close(self):
        self.release.set()


def test_a_job_past_its_deadline_is_cancelled():
    client = SlowClient()
    wh = BigQueryWarehouse("my-project", location="EU", client=client)
    started = time.monotonic()
    try:
        with pytest.raises(QueryError, match=r"^query exceeded its deadline of 0\.3 s$"):
            wh.query("SELECT 1 AS one", {}, now=NOW, deadline_s=0.3)
        assert time.monotonic() - started < 1
        assert client.cancelled.wait(5) and client.cancel_args == ("job-123", "EU")
        assert client.job_config.job_timeout_ms == "300"  # and BigQuery would stop it then by itself
    finally:
        wh.close()
