"""Read-only by construction, values only as parameters, one identifier validator, no raw HTML."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from monitor import config, queries
from monitor.identifiers import checked
from monitor.warehouse.base import QueryError, ensure_read_only, quoted
from monitor.warehouse.duckdb import DuckDBWarehouse

ROOT = Path(__file__).parent.parent
NOW = dt.datetime(2025, 11, 30, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("sql", [
    "DROP TABLE nba_raw.nbac_schedule",
    "INSERT INTO nba_raw.nbac_schedule (game_id) VALUES ('x')",
    "UPDATE nba_raw.nbac_schedule SET game_status = 1 WHERE TRUE",
    "DELETE FROM nba_raw.nbac_schedule WHERE TRUE",
    "MERGE nba_raw.t AS t USING nba_raw.s AS s ON t.a = s.a WHEN MATCHED THEN DELETE",
    "CREATE TABLE nba_raw.x AS SELECT 1 AS a",
    "SELECT 1; DROP TABLE nba_raw.nbac_schedule",
    "TRUNCATE TABLE nba_raw.nbac_schedule",
    "ALTER TABLE nba_raw.nbac_schedule ADD COLUMN x INT64",
    "",
])
def test_ddl_and_dml_are_refused_before_reaching_the_engine(tmp_path, sql):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA nba_raw; CREATE TABLE nba_raw.nbac_schedule (game_id VARCHAR, game_status BIGINT)")
    con.execute("INSERT INTO nba_raw.nbac_schedule VALUES ('g', 3)")
    con.close()
    wh = DuckDBWarehouse(path)
    with pytest.raises(QueryError, match="refused"):
        wh.query(sql, {}, now=NOW, deadline_s=5)
    wh.close()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM nba_raw.nbac_schedule").fetchone() == (1,)
    con.close()


def test_select_and_with_are_accepted():
    ensure_read_only("SELECT 1")
    ensure_read_only("WITH a AS (SELECT 1 AS x) SELECT x FROM a UNION ALL SELECT 2")


def test_a_users_duckdb_file_is_opened_read_only(tmp_path):
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    wh = DuckDBWarehouse(path)
    with pytest.raises(duckdb.Error, match="read-only"):
        wh._cursor().execute("CREATE TABLE t (a INT)")
    wh.close()


ALLOWED_LITERALS = {"$.cleanup_reason", "success", "failed", "partial", "skipped", "run", "last_success", "unresolved", "1", "2"}  # GROUP BY 1, 2


def _texts(cfg, wh):
    yield queries.catalog(cfg, wh)
    yield queries.coverage(cfg, wh, list(cfg.tables))
    yield queries.runs(cfg, wh, NOW)


def test_no_value_is_formatted_into_sql():
    """Every literal in every SQL text is a fixed constant of the query; config values only travel as parameters."""
    cfg = config.load()

    class Spelling:  # the engine-independent spelling, as the BigQuery engine would give it
        label = "test"

        def table_ref(self, dataset, table):
            return quoted(dataset, table)

        def columns_ref(self, dataset):
            return f"{quoted(dataset)}.INFORMATION_SCHEMA.COLUMNS"

    values = {cfg.start.isoformat(), cfg.end.isoformat(), *(t.processor for t in cfg.tables), *(s.name for s in cfg.seasons)}
    for q in _texts(cfg, Spelling()):
        tree = sqlglot.parse_one(q.sql, read="bigquery")
        literals = {lit.this for lit in tree.find_all(exp.Literal)}
        assert literals <= ALLOWED_LITERALS, (q.name, literals - ALLOWED_LITERALS)
        assert not any(v in q.sql for v in values), q.name
        used = {p.name for p in tree.find_all(exp.Parameter)} | set(re.findall(r"@(\w+)", q.sql))
        assert set(q.params) <= used, (q.name, set(q.params) - used)


@pytest.mark.parametrize("name", ["x; DROP TABLE y", "a`b", 'a"b', "a'b", "a b", "a.b", "", "1abc", "ü", "a-b", "a\nb"])
def test_hostile_identifiers_are_refused_by_the_one_validator(name):
    with pytest.raises(ValueError, match="unsafe identifier"):
        checked(name)
    with pytest.raises(ValueError):
        quoted("nba_raw", name)


def test_no_raw_html_anywhere_in_the_app():
    sources = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "monitor").rglob("*.py"))]
    assert len(sources) > 5
    for path in sources:
        text = path.read_text()
        assert "unsafe_allow_html" not in text, path
        assert "st.html(" not in text and "components.html" not in text, path


def test_streamlit_config_is_production_safe():
    import tomllib

    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert conf["server"].get("enableXsrfProtection", True) is True
    assert conf["browser"]["gatherUsageStats"] is False
    assert conf["client"]["showErrorDetails"] in ("none", False)
    assert conf["client"]["disableDataExport"] is True  # the grids' own CSV export would skip the formula guard
