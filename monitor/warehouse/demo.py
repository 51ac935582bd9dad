"""The embedded demo warehouse as an engine: the DuckDB engine with the demo's clock set per query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from monitor import demo
from monitor.warehouse.duckdb import DuckDBWarehouse


class DemoWarehouse(DuckDBWarehouse):
    def __init__(self, progress: Callable[[float, str], None] | None, now: dt.datetime | None):
        self._progress = progress
        path = demo.ensure(now=now or _utcnow(), progress=progress)
        super().__init__(path, label="demo", on_query=self._set_clock)

    def _set_clock(self, cursor, now: dt.datetime) -> None:
        demo.set_clock(cursor, now, demo.speed())

    def _cursor(self):
        if not self.path.is_file():  # removed while running: build it again
            demo.ensure(self.path, now=_utcnow(), progress=self._progress)
        return super()._cursor()

    def status(self, now: dt.datetime) -> demo.DemoStatus:
        cur = self._cursor()
        try:
            return demo.status(cur, now, demo.speed())
        finally:
            cur.close()

    def restart(self, now: dt.datetime) -> None:
        demo.restart(self.path, now=now, progress=self._progress)


def open_demo(progress=None, now=None) -> DemoWarehouse:
    return DemoWarehouse(progress, now)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
