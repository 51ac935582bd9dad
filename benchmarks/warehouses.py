"""The benchmark's warehouses: the demo (live, and frozen at one instant), the scaled one, and the demo in the emulator."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitor import config as config_mod  # noqa: E402
from monitor import demo, fixtures  # noqa: E402

CACHE = ROOT / ".cache" / "benchmarks"
DEMO_BUILT_AT = dt.datetime(2025, 11, 30, 8, 30, tzinfo=dt.UTC)  # the demo's t0 is 6 h before this
DEMO_NOW = DEMO_BUILT_AT + dt.timedelta(hours=20)  # mid-backfill: Phase 3 done, Phase 4 under way, failures, stuck runs


def demo_file(cache: Path = CACHE) -> Path:
    """The benchmark's own demo file (never the user's), built once with a fixed clock."""
    path = cache / "demo.duckdb"
    demo.ensure(path, now=DEMO_BUILT_AT)
    return path


def frozen_demo(cache: Path = CACHE) -> Path:
    """The demo as its views show it at DEMO_NOW, as plain tables: what goes into the emulator."""
    path = cache / "demo_frozen.duckdb"
    if path.is_file():
        return path
    source = demo_file(cache)
    cfg = config_mod.load()
    keys = [cfg.schedule.key, cfg.runs.key, *(t.key for t in cfg.tables)]
    with duckdb.connect(str(source), read_only=True) as con:
        demo.set_clock(con, DEMO_NOW, 1.0)
        frames = {key: con.sql(f"SELECT * FROM {key}").df() for key in keys}  # config-validated names
    types = {t.key: demo.table_columns(t) for t in cfg.tables}
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fixtures.write_warehouse(tmp, frames, types)
    os.replace(tmp, path)
    return path


def load_emulator(endpoint: str, project: str, source: Path) -> dict[str, int]:
    """Copy the frozen demo into `project` on the emulator, each table partitioned by its date column
    (the run history by data_date), as in production. Returns the row count per table."""
    from tests.bq_seed import copy_duckdb

    cfg = config_mod.load()
    partition = {cfg.schedule.key: cfg.schedule.date_column, cfg.runs.key: "data_date",
                 **{t.key: t.date_column for t in cfg.tables}}
    return copy_duckdb(source, endpoint, project, partition)
