"""The embedded demo warehouse as an engine: the DuckDB engine with the demo's clock set per query.

It repairs itself: when its file is removed or replaced by something that is not a demo
(a crash, a stray `rm`, a bad copy), the next query rebuilds it, with the same timeline
start, so the figures carry on where they were, and tries once more. A repair reports no
progress: it runs inside a refresh (a cached function, perhaps a worker thread), where no
progress bar may be drawn.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any

from monitor import demo
from monitor.warehouse.base import QueryError, Result, WarehouseError
from monitor.warehouse.duckdb import DuckDBWarehouse


class DemoWarehouse(DuckDBWarehouse):
    def __init__(self, progress: Callable[[float, str], None] | None, now: dt.datetime | None):
        self._meta: demo.DemoMeta | None = None
        path = demo.demo_path()
        try:
            demo.speed()  # a bad $BACKFILL_DEMO_SPEED is bad input: say so now, in one line
            demo.ensure(path, now=now or _utcnow(), progress=progress)
        except ValueError as exc:
            raise WarehouseError(str(exc)) from None
        except OSError as exc:
            raise WarehouseError(f"the demo warehouse cannot be written at {path}: {exc.strerror or exc}") from None
        super().__init__(path, label="demo", on_query=self._set_clock)

    def _set_clock(self, cursor, now: dt.datetime) -> None:
        self._meta = demo.read_meta(cursor)
        demo.set_clock(cursor, now, self._meta.speed)  # the speed the file was built with, the same for every reader

    def query(self, sql: str, params: dict[str, Any], *, now: dt.datetime, deadline_s: float) -> Result:
        try:
            return super().query(sql, params, now=now, deadline_s=deadline_s)
        except (QueryError, WarehouseError):
            if not self._repair():
                raise
            return super().query(sql, params, now=now, deadline_s=deadline_s)

    def _repair(self) -> bool:
        """Rebuild a removed or damaged demo file; True when a new file is now in place, False when nothing could
        be done (the query's own error then stands). QueryError with the reason when what stands at the path now
        may not be replaced (someone's database)."""
        before = self._inode
        now = _utcnow()
        try:
            if self._meta is not None:  # rebuild with the same t0: ensure() sets t0 = now - head start / speed
                now = self._meta.t0 + dt.timedelta(seconds=demo.HEAD_START_HOURS * 3600 / demo.speed())
            demo.ensure(self.path, now=now, repair=True)
            return os.stat(self.path).st_ino != before
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        except OSError:
            return False

    def notes(self, now: dt.datetime) -> list[str]:
        """What a user would not guess from the figures: $BACKFILL_DEMO_SPEED asking for another speed than the file
        was built with (the file's wins), or a clock before the demo backfill began (nothing has happened yet)."""
        try:
            cur = self._cursor()
            try:
                meta = demo.read_meta(cur)
            finally:
                cur.close()
        except (QueryError, WarehouseError, ValueError):
            return []
        out = []
        if os.environ.get(demo.SPEED_ENV, "").strip() and demo.speed() != meta.speed:
            out.append(f"note: the demo at {self.path} runs at speed {meta.speed:g}, fixed when it was built; "
                       f"{demo.SPEED_ENV}={demo.speed():g} applies to a new demo file (a new {demo.DEMO_PATH_ENV}, "
                       "or remove this one)")
        if now < meta.t0:
            out.append(f"note: {now:%Y-%m-%d %H:%M} UTC is before the demo backfill began ({meta.t0:%Y-%m-%d %H:%M} UTC): "
                       "nothing has happened yet at that clock")
        return out

    def status(self, now: dt.datetime) -> demo.DemoStatus | None:
        try:
            cur = self._cursor()
        except (QueryError, WarehouseError):
            return None
        try:
            return demo.status(cur, now)
        finally:
            cur.close()

    def restart(self, now: dt.datetime, progress: Callable[[float, str], None] | None = None) -> None:
        demo.restart(self.path, now=now, progress=progress)


def open_demo(progress=None, now=None) -> DemoWarehouse:
    return DemoWarehouse(progress, now)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
