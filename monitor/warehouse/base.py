"""The warehouse protocol: what every engine offers the snapshot, and nothing more.

An engine runs read-only BigQuery Standard SQL with @named parameters and returns a
pandas frame; it knows how to spell a table and a dataset's column catalog. Engine
errors come back as QueryError with a one-line reason that never carries secrets.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import sqlglot
from sqlglot import exp

from monitor.identifiers import IDENTIFIER, checked


class QueryError(RuntimeError):
    """A query that failed; str() is a one-line reason fit to show a user."""


class WarehouseError(RuntimeError):
    """A warehouse that cannot be opened (bad URL, missing file); one-line reason."""


@dataclass(frozen=True)
class Result:
    frame: pd.DataFrame
    bytes_processed: int | None = None


class Warehouse(Protocol):
    label: str  # shown to users: never holds credentials

    def table_ref(self, dataset: str, table: str) -> str: ...

    def columns_ref(self, dataset: str) -> str: ...

    # Optional, for engines that keep per-partition row counts (BigQuery): `partition_metadata = True` and
    # `partitions_ref(dataset)` spelling the dataset's partitions view. Engines without them (DuckDB) scan.

    def query(self, sql: str, params: dict[str, Any], *, now: dt.datetime, deadline_s: float) -> Result: ...

    def close(self) -> None: ...


def quoted(*parts: str) -> str:
    """A BigQuery path of validated identifiers: `a`.`b`."""
    return ".".join(f"`{checked(p, IDENTIFIER)}`" for p in parts)


# sqlglot is not safe to call from several threads at once (its lazily built dialect tables; seen here: a runs
# query transpiled for DuckDB into text DuckDB could not parse, under load), and the snapshot runs its queries
# side by side. Every use of it takes this lock; the results are cached, so it is held once per SQL text.
SQLGLOT_LOCK = threading.RLock()


def ensure_read_only(sql: str) -> None:
    """Refuse anything but one SELECT / WITH ... SELECT statement."""
    with SQLGLOT_LOCK:
        _ensure_read_only(sql)


@functools.lru_cache(maxsize=64)
def _ensure_read_only(sql: str) -> None:
    try:
        statements = [s for s in sqlglot.parse(sql, read="bigquery") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise QueryError(f"refused: SQL does not parse ({str(exc).splitlines()[0]})") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kind = statements[0].key.upper() if statements else "empty"
        raise QueryError(f"refused: the monitor only runs SELECT queries (got {kind})")
    if any(isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop)) for node in statements[0].walk()):
        raise QueryError("refused: the monitor only runs SELECT queries")


def seconds(value: float) -> str:
    """A deadline for a message: whole seconds from 1 s up (a refresh's remaining 29.997 s reads "30"), else as is."""
    return f"{round(value):g}" if value >= 1 else f"{value:g}"


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or exc.__class__.__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
