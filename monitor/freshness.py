"""Keeping the last good figures when the warehouse has a bad moment.

A refresh whose queries fail must not wipe what is on screen: the last snapshot in
which every query worked stays, marked stale since its time, with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from monitor.snapshot import Snapshot

QUERY_SECTIONS = ("catalog", "coverage", "runs")


@dataclass(frozen=True)
class Stale:
    since: dt.datetime  # when the figures shown were taken
    failed_at: dt.datetime  # when the refresh that failed ran
    reason: str

    def badge(self) -> str:
        return f"stale since {self.since:%H:%M} UTC — {self.reason}"


def failure_reason(snap: Snapshot) -> str | None:
    """One line for the query sections that failed in `snap`, or None when all worked."""
    failed = [f"{name}: {getattr(snap, name).error}" for name in QUERY_SECTIONS if not getattr(snap, name).ok]
    return "; ".join(failed) or None


class LastGood:
    """Holds the last fully good snapshot and decides what to show after each refresh."""

    def __init__(self) -> None:
        self.snapshot: Snapshot | None = None

    def update(self, new: Snapshot | None, error: str | None = None, now: dt.datetime | None = None) -> tuple[Snapshot | None, Stale | None]:
        """`new` (or the refresh's `error` when it produced none) -> (snapshot to show, stale marker)."""
        reason = error if new is None else failure_reason(new)
        if reason is None:
            self.snapshot = new
            return new, None
        if self.snapshot is None:
            return new, None  # nothing good yet: show the errors as they are
        failed_at = new.checked_at if new is not None else (now or dt.datetime.now(dt.UTC))
        return self.snapshot, Stale(self.snapshot.checked_at, failed_at, reason)
