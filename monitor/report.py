"""The JSON contract of DESIGN.md, built from Figures (the terminal and tests read this)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from monitor.progress import Figures


def _value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return iso(v.to_pydatetime())
    if isinstance(v, dt.datetime):
        return iso(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return _value(v.item())
    return v


def iso(ts: dt.datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _records(frame: pd.DataFrame | None, columns: list[str], rename: dict | None = None) -> list[dict] | None:
    if frame is None:
        return None
    rename = rename or {}
    return [{rename.get(c, c): _value(row[c]) for c in columns} for _, row in frame.iterrows()]


def to_json(fig: Figures, config) -> dict:
    phases = [
        {
            "name": r["phase"], "tables": list(r["tables"]),
            **{k: _value(r[k]) for k in ("expected_dates", "eligible_dates", "bootstrap_dates", "complete_dates", "work_pct", "gate")},
        }
        for _, r in fig.phases.iterrows()
    ]
    tables = _records(fig.tables, ["phase", "table", "dates", "eligible", "pct", "partial_dates", "extra_dates",
                                   "dates_per_hour", "last_success_at", "status", "error"])
    for t in tables:
        t["error"] = t["error"] or None
        t["coverage_source"] = fig.coverage_sources.get(t["table"])  # extra key: scan, partitions, ... (None: not read)
    seasons = []
    for _, r in fig.seasons.iterrows():
        seasons.append({
            "season": r["season"], "expected": _value(r["expected"]),
            "phases": {p.name: {"eligible": _value(r[f"{p.name} eligible"]), "complete": _value(r[f"{p.name} complete"])}
                       for p in config.phases},
        })
    return {
        "checked_at": iso(fig.checked_at),
        "warehouse": fig.warehouse,
        "window": {"start": fig.window[0].isoformat(), "end": fig.window[1].isoformat()},
        "season": fig.season,
        "phases": phases,
        "tables": tables,
        "seasons": seasons,
        "rates": _records(fig.rates, ["phase", "dates_per_hour", "remaining", "eta_hours", "eta_note"]),
        "failures": _records(fig.failures, ["processor_name", "data_date", "started_at", "error_type", "error_message", "run_id"]),
        "stuck": _records(fig.stuck, ["processor_name", "data_date", "started_at", "run_id"]),
        "unresolved": _records(fig.unresolved, ["processor_name", "data_date", "last_failed_at", "error_type"]),
        "warnings": [{"code": w.code, "message": w.message} for w in fig.warnings],
        "meta": {"queries": fig.queries, "elapsed_s": fig.elapsed_s, "bytes_processed": fig.bytes_processed,
                 "errors": dict(fig.errors)},
    }


CSV_SECTIONS = ("phases", "tables", "seasons", "rates", "failures", "stuck", "unresolved", "warnings")
# Every section's fields, in one fixed order: the same columns whatever the data (a season without failures
# still has the failure columns), so a script may read them by position.
CSV_COLUMNS = [
    "section", "name", "tables", "expected_dates", "eligible_dates", "bootstrap_dates", "complete_dates", "work_pct",
    "gate", "phase", "table", "dates", "eligible", "pct", "partial_dates", "extra_dates", "dates_per_hour",
    "last_success_at", "status", "error", "coverage_source", "season", "expected", "complete", "remaining",
    "eta_hours", "eta_note", "processor_name", "data_date", "started_at", "error_type", "error_message", "run_id",
    "last_failed_at", "code", "message",
]


def to_csv_frame(fig: Figures, config) -> pd.DataFrame:
    """The JSON's figures as one long table with a `section` column (phases, tables, seasons, rates, failures,
    stuck, unresolved, warnings).

    Seasons come one row per (season, phase); a phase's table list is joined with spaces.
    """
    doc = to_json(fig, config)
    rows: list[dict] = []
    for p in doc["phases"]:
        rows.append({"section": "phases", **p, "tables": " ".join(p["tables"])})
    rows += [{"section": "tables", **t} for t in doc["tables"]]
    for s in doc["seasons"]:
        for phase, v in s["phases"].items():
            rows.append({"section": "seasons", "season": s["season"], "expected": s["expected"], "phase": phase, **v})
    rows += [{"section": "rates", **r} for r in doc["rates"] or []]
    for section in ("failures", "stuck", "unresolved", "warnings"):
        rows += [{"section": section, **f} for f in doc[section] or []]
    unknown = {k for r in rows for k in r} - set(CSV_COLUMNS)
    if unknown:  # a field added to the JSON must get its column here
        raise RuntimeError(f"report.CSV_COLUMNS lacks {sorted(unknown)}")
    frame = pd.DataFrame.from_records(rows, columns=CSV_COLUMNS)
    for col in frame.columns:  # counts stay integers despite the gaps other sections leave
        values = [r[col] for r in rows if r.get(col) is not None]
        if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            frame[col] = frame[col].astype("Int64")
    return frame
