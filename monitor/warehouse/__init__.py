"""Open a warehouse from its URL: `demo`, `duckdb:PATH`, `duckdb:///ABS/PATH`, `bigquery://PROJECT[?location=..&endpoint=..]`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monitor.warehouse.base import QueryError, Result, Warehouse, WarehouseError

WAREHOUSE_ENV = "BACKFILL_WAREHOUSE"
DEFAULT_WAREHOUSE = "demo"

__all__ = ["QueryError", "Result", "Warehouse", "WarehouseError", "open_warehouse", "warehouse_url"]


def warehouse_url(url: str | None = None) -> str:
    return url or os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE


def open_warehouse(
    url: str | None = None,
    *,
    progress: Callable[[float, str], None] | None = None,
    now: dt.datetime | None = None,
    project: str | None = None,
    credentials: Any = None,
    max_bytes_billed: int | None = None,
) -> Warehouse:
    """The engine for `url` (default $BACKFILL_WAREHOUSE, else the demo); WarehouseError if it can't be used.

    BigQuery only: `project` (from config `pipeline.project`) is used when the URL names none; `credentials`
    (e.g. built from st.secrets["gcp_service_account"], or a function giving them, called only when needed)
    else Application Default Credentials; `max_bytes_billed`
    caps every job (default 10 GiB).
    """
    url = warehouse_url(url)
    if url == "demo":
        from monitor.warehouse.demo import open_demo

        return open_demo(progress=progress, now=now)
    scheme = urlsplit(url).scheme
    if scheme == "duckdb":
        from monitor import demo
        from monitor.warehouse.duckdb import DuckDBWarehouse

        path = _duckdb_path(url)
        if demo.is_demo_file(path):  # its tables are views that show rows only at the demo's clock
            raise WarehouseError(f"{path} is the demo warehouse's file: open it with --warehouse demo "
                                 f"and BACKFILL_DEMO_PATH={path}")
        return DuckDBWarehouse(path)
    if scheme == "bigquery":
        from monitor.warehouse.bigquery import open_bigquery

        return open_bigquery(url, project=project, credentials=credentials, max_bytes_billed=max_bytes_billed)
    raise WarehouseError(f"unknown warehouse {url!r}: use demo, duckdb:PATH or bigquery://PROJECT")


def _duckdb_path(url: str) -> Path:
    rest = url[len("duckdb:"):]
    if rest.startswith("//"):
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise WarehouseError(f"duckdb URL must name a local file: {url!r}")
        rest = parts.path
    if not rest:
        raise WarehouseError("duckdb URL needs a file path, e.g. duckdb:warehouse.duckdb")
    path = Path(rest).expanduser()
    if path.exists() and not path.is_file():
        raise WarehouseError(f"DuckDB path {path} is not a file")
    if not path.is_file():
        raise WarehouseError(f"DuckDB file not found: {path}")
    return path
