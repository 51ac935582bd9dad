"""DuckDB engine: a DuckDB file in which each BigQuery dataset is a schema.

The SQL arrives in BigQuery Standard SQL and is transpiled once per text with sqlglot.
A user's file is opened read-only; so is the demo file (only monitor.demo writes it).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from monitor.warehouse.base import (
    SQLGLOT_LOCK,
    QueryError,
    Result,
    WarehouseError,
    ensure_read_only,
    one_line,
    quoted,
    seconds,
)


def is_interrupt(exc: BaseException) -> bool:
    """Whether a DuckDB error is the user's Ctrl+C: DuckDB turns a SIGINT that arrives while it works into
    "Query interrupted" (or wraps the KeyboardInterrupt raised while it read a pandas frame). Code that catches
    DuckDB errors must re-raise these as KeyboardInterrupt, or the program carries on as if nothing was pressed."""
    return isinstance(exc, duckdb.InterruptException) or "interrupt" in str(exc).lower()


def to_duckdb(sql: str) -> str:
    """BigQuery SQL to DuckDB SQL; BigQuery's INFORMATION_SCHEMA.COLUMNS becomes DuckDB's information_schema.columns,
    and JSON_VALUE tolerates text that is not JSON."""
    with SQLGLOT_LOCK:  # one thread at a time in sqlglot (see SQLGLOT_LOCK)
        return _to_duckdb(sql)


@functools.lru_cache(maxsize=64)
def _to_duckdb(sql: str) -> str:
    ensure_read_only(sql)
    tree = sqlglot.parse_one(sql, read="bigquery")
    for table in tree.find_all(exp.Table):
        if table.name.lower() == "information_schema.columns":
            table.replace(exp.table_("columns", db="information_schema", alias=table.alias or None))
    # JSON read from a text column (a user's file may hold `errors` as VARCHAR): a value that is not JSON reads as
    # no key rather than failing the whole query; TO_JSON_STRING keeps it as text for parse_errors to show.
    for call in list(tree.find_all(exp.JSONExtractScalar)):
        call.this.replace(exp.TryCast(this=call.this.copy(), to=exp.DataType.build("JSON")))
    return tree.sql(dialect="duckdb")


class DuckDBWarehouse:
    """One read-only connection per process; each query gets its own cursor, so threads may share it."""

    def __init__(self, path: Path, *, label: str | None = None, on_query: Callable[[Any, dt.datetime], None] | None = None):
        self.path = Path(path)
        self.label = label or f"duckdb:{self.path}"
        self._on_query = on_query  # the demo sets its clock on each cursor
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._inode: int | None = None
        self._connect()

    def _connect(self) -> None:
        if not self.path.is_file():
            raise WarehouseError(f"DuckDB file not found: {self.path}")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            if is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise WarehouseError(f"cannot open DuckDB file {self.path}: {one_line(exc)}") from None
        self._inode = os.stat(self.path).st_ino

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the current file; reopens when the file was replaced (demo restart)."""
        with self._lock:
            try:
                replaced = os.stat(self.path).st_ino != self._inode
            except FileNotFoundError:
                raise QueryError(f"DuckDB file is gone: {self.path}") from None
            if replaced or self._con is None:
                self.close()
                self._connect()
            return self._con.cursor()

    def table_ref(self, dataset: str, table: str) -> str:
        return quoted(dataset, table)

    def columns_ref(self, dataset: str) -> str:
        return "INFORMATION_SCHEMA.COLUMNS"  # DuckDB has one catalog; the query filters on table_schema

    def query(self, sql: str, params: dict[str, Any], *, now: dt.datetime, deadline_s: float) -> Result:
        text = to_duckdb(sql)
        cur = self._cursor()
        expired = threading.Event()

        def interrupt() -> None:
            expired.set()
            cur.interrupt()

        timer = threading.Timer(deadline_s, interrupt)
        try:
            if self._on_query:
                self._on_query(cur, now)
            timer.start()
            frame = cur.execute(text, params).fetch_df()
        except (duckdb.Error, RuntimeError) as exc:  # DuckDB reports an interrupt as either
            if is_interrupt(exc):
                if not expired.is_set():  # not our deadline: DuckDB turned the user's Ctrl+C into an interrupt
                    raise KeyboardInterrupt from None
                raise QueryError(f"query exceeded its deadline of {seconds(deadline_s)} s") from None
            raise QueryError(_reason(exc)) from None
        finally:
            timer.cancel()
            _quietly(cur.close)
        return Result(frame)

    def close(self) -> None:
        if self._con is not None:
            _quietly(self._con.close)  # a connection still busy with an interrupted query may refuse; it goes anyway
            self._con = None


def _reason(exc: duckdb.Error) -> str:
    """DuckDB's message without the SQL excerpt and caret line it appends ("LINE 1: ... ^^^")."""
    return one_line(str(exc).split("\nLINE ")[0].split("\n\nLINE ")[0])


def _quietly(close) -> None:
    try:
        close()
    except duckdb.Error:
        pass
