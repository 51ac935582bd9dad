"""Every figure of the monitor, computed from one Snapshot (pure pandas / Python).

The definitions are DESIGN.md's; each function here is one of them. The season filter
is applied here, so switching seasons runs no query. A figure whose inputs failed to
load is None (shown as an error), never 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby

import pandas as pd

from monitor.config import Config, Phase, Season, Table
from monitor.snapshot import Snapshot

FAILED = ("failed", "failed_cleanup")

TABLE_COLUMNS = [
    "phase", "stage", "table", "dataset", "dates", "eligible", "pct", "remaining", "partial_dates",
    "extra_dates", "dates_per_hour", "last_success_at", "status", "error",
]
PHASE_COLUMNS = [
    "phase", "label", "tables", "expected_dates", "eligible_dates", "bootstrap_dates", "complete_dates",
    "complete_pct", "work_pct", "gate",
]
# pace_table / pace_per_hour: the slowest table of the phase's earliest unfinished stage, the one the ETA waits on
RATE_COLUMNS = ["phase", "dates_per_hour", "remaining", "eta_hours", "eta_note", "window_minutes", "pace_table", "pace_per_hour"]
FAILURE_COLUMNS = ["processor_name", "table", "data_date", "started_at", "error_type", "error_message", "run_id", "outcome", "command"]
STUCK_COLUMNS = ["processor_name", "table", "data_date", "started_at", "hours_running", "run_id", "command"]
UNRESOLVED_COLUMNS = ["processor_name", "table", "data_date", "last_failed_at", "error_type", "error_message", "outcome",
                      "command"]
RANGE_COLUMNS = ["phase", "table", "season", "start", "end", "dates", "command"]
PARTIAL_COLUMNS = ["phase", "table", "day", "rows", "expected_rows", "games"]
HISTORY_COLUMNS = ["hour", "phase", "dates"]


@dataclass(frozen=True)
class Warning_:
    code: str
    message: str


@dataclass(frozen=True)
class Figures:
    checked_at: dt.datetime
    warehouse: str
    window: tuple[dt.date, dt.date]
    season: str | None
    phases: pd.DataFrame
    tables: pd.DataFrame
    seasons: pd.DataFrame
    rates: pd.DataFrame
    failures: pd.DataFrame
    stuck: pd.DataFrame
    unresolved: pd.DataFrame
    missing_ranges: pd.DataFrame
    partial_dates: pd.DataFrame
    rate_history: pd.DataFrame
    warnings: tuple[Warning_, ...]
    errors: dict[str, str] = field(default_factory=dict)
    queries: int = 0
    elapsed_s: float = 0.0
    bytes_processed: int | None = None
    coverage_sources: dict[str, str] = field(default_factory=dict)  # table name -> where its row counts came from

    @property
    def computable(self) -> bool:
        """False when the expected dates are unknown, so no gate can be judged."""
        return "schedule" not in self.errors


# --- dates -----------------------------------------------------------------


def window_for(config: Config, season: Season | None) -> tuple[dt.date, dt.date]:
    if season is None:
        return config.start, config.end
    return max(config.start, season.start), min(config.end, season.end)


def _days(series: pd.Series) -> list[dt.date]:
    values = pd.to_datetime(series)
    if len(values) and not isinstance(values.dtype, pd.DatetimeTZDtype) and not values.isna().any():
        # the same dates as Timestamp.date() one by one, converted in numpy: 100k coverage rows take milliseconds
        return values.to_numpy().astype("datetime64[D]").astype(object).tolist()
    return [ts.date() for ts in values]


def expected_dates(schedule: pd.DataFrame, window: tuple[dt.date, dt.date]) -> dict[dt.date, int]:
    """Final game dates inside the window, with their number of Final games."""
    start, end = window
    return {d: int(g) for d, g in zip(_days(schedule["day"]), schedule["games"], strict=True) if start <= d <= end and g > 0}


def bootstrap_dates(config: Config, expected: set[dt.date] | dict, days: int) -> set[dt.date]:
    """Expected dates in the first `days` calendar days of their season (opener = day 0)."""
    if days <= 0:
        return set()
    out = set()
    for season in config.seasons:
        last = season.opener + dt.timedelta(days=days - 1)
        out.update(d for d in expected if season.opener <= d <= last and season.contains(d))
    return out


def eligible_dates(config: Config, expected: dict[dt.date, int], phase: Phase) -> list[dt.date]:
    boot = bootstrap_dates(config, expected, phase.bootstrap_days)
    return sorted(set(expected) - boot)


# --- building ----------------------------------------------------------------


@dataclass
class _Ctx:
    config: Config
    snap: Snapshot
    season: Season | None
    window: tuple[dt.date, dt.date]
    now: dt.datetime
    expected: dict[dt.date, int] | None
    eligible: dict[str, list[dt.date]]
    rows: dict[str, dict[dt.date, int]]
    runs: pd.DataFrame | None  # runs of configured tables, season-filtered, with a `table` column
    # Worked out once per compute, so no figure loops over dates once per table and season (benchmarks/README.md).
    eligible_sets: dict[str, frozenset[dt.date]] = field(default_factory=dict)
    present_sets: dict[str, frozenset[dt.date]] = field(default_factory=dict)  # table key -> dates with rows > 0
    season_names: dict[dt.date, str] = field(default_factory=dict)  # expected date -> its season's name ("" if none)
    complete: dict[str, list[dt.date]] = field(default_factory=dict)  # phase -> eligible dates present in every table

    def phase_of(self, table: Table) -> Phase:
        return self._phase_by_key[table.key]

    def table_named(self, name: str) -> Table:
        return self._table_by_name[name]

    def __post_init__(self) -> None:
        self._phase_by_key = {t.key: p for p in self.config.phases for t in p.tables}
        self._table_by_name = {t.name: t for t in self.config.tables}
        self.eligible_sets = {name: frozenset(days) for name, days in self.eligible.items()}
        self.present_sets = {key: frozenset(d for d, n in have.items() if n > 0) for key, have in self.rows.items()}
        if self.expected is not None:
            self.season_names = _season_names(self.config, self.expected)
            for phase in self.config.phases:
                if any(t.key in self.snap.errors for t in phase.tables):
                    self.complete[phase.name] = []  # a table in error counts as 0 dates for the phase's gate
                    continue
                common = self.eligible_sets.get(phase.name, frozenset())
                for t in phase.tables:
                    common = common & self.present_sets.get(t.key, frozenset())
                self.complete[phase.name] = [d for d in self.eligible.get(phase.name, []) if d in common]


def _season_names(config: Config, days) -> dict[dt.date, str]:
    """Each day's season name ("" outside every season), walking the sorted days and seasons once."""
    seasons = sorted(config.seasons, key=lambda s: s.start)
    out, i = {}, 0
    for d in sorted(days):
        while i < len(seasons) and seasons[i].end < d:
            i += 1
        out[d] = seasons[i].name if i < len(seasons) and seasons[i].contains(d) else ""
    return out


def compute(snap: Snapshot, config: Config, season: str | None = None) -> Figures:
    """All figures for one snapshot, narrowed to `season` (None = all); ValueError for an unknown season."""
    chosen = config.season(season)
    window = window_for(config, chosen)
    errors = {name: getattr(snap, name).error for name in ("catalog", "schedule", "coverage", "runs") if getattr(snap, name).error}
    expected = expected_dates(snap.schedule.frame, window) if snap.schedule.ok else None
    eligible = {p.name: eligible_dates(config, expected, p) for p in config.phases} if expected is not None else {}
    rows: dict[str, dict[dt.date, int]] = {}
    if snap.coverage.ok:
        cov = snap.coverage.frame
        start, end = window
        for key, d, n in zip(cov["table"].astype(str).tolist(), _days(cov["day"]), cov["rows"].tolist(), strict=True):
            have = rows.setdefault(key, {})
            if start <= d <= end:
                have[d] = int(n)
    ctx = _Ctx(config, snap, chosen, window, snap.checked_at, expected, eligible, rows, _runs(snap, config, window))

    tables = _tables(ctx)
    phases = _phases(ctx, tables)
    failures, stuck, unresolved = _failures(ctx), _stuck(ctx), _unresolved(ctx)
    rates = _rates(ctx, tables, phases, unresolved)
    return Figures(
        checked_at=snap.checked_at,
        warehouse=snap.warehouse,
        window=window,
        season=chosen.name if chosen else None,
        phases=phases,
        tables=tables,
        seasons=_seasons(ctx),
        rates=rates,
        failures=failures,
        stuck=stuck,
        unresolved=unresolved,
        missing_ranges=_missing_ranges(ctx, tables),
        partial_dates=_partial_dates(ctx),
        rate_history=_rate_history(ctx),
        warnings=_warnings(ctx, tables, phases, failures, stuck),
        errors=errors,
        queries=snap.queries,
        elapsed_s=snap.elapsed_s,
        bytes_processed=snap.bytes_processed,
        coverage_sources={t.name: snap.coverage_sources[t.key] for t in config.tables if t.key in snap.coverage_sources},
    )


def _runs(snap: Snapshot, config: Config, window) -> pd.DataFrame | None:
    if not snap.runs.ok:
        return None
    runs = snap.runs.frame
    by_processor = {t.processor: t for t in config.tables}
    runs = runs[runs["processor_name"].isin(by_processor)]
    days = pd.to_datetime(runs["data_date"])
    runs = runs[(days >= pd.Timestamp(window[0])) & (days <= pd.Timestamp(window[1]))].copy()
    runs["table"] = [by_processor[p].name for p in runs["processor_name"]]
    runs["day"] = _days(runs["data_date"])
    runs["data_date"] = runs["day"]  # plain dates from here on: figures show days, not midnights
    return runs


def _table_error(ctx: _Ctx, t: Table) -> str | None:
    if t.key in ctx.snap.errors:
        return ctx.snap.errors[t.key]
    if not ctx.snap.coverage.ok:
        return f"coverage query failed: {ctx.snap.coverage.error}"
    if ctx.expected is None:
        return f"expected dates unknown: {ctx.snap.schedule.error}"
    return None


def _present(ctx: _Ctx, t: Table, phase: Phase) -> list[dt.date]:
    have = ctx.present_sets.get(t.key, frozenset())
    return [d for d in ctx.eligible.get(phase.name, []) if d in have]


def _recent_successes(ctx: _Ctx, runs: pd.DataFrame) -> pd.DataFrame:
    """The successful runs of `runs` that finished inside the rate window (processed_at, else started_at)."""
    since = pd.Timestamp(ctx.now - dt.timedelta(minutes=ctx.config.thresholds.rate_window_minutes))
    done = runs["succeeded_at"]
    return runs[(runs["outcome"] == "success") & (done > since) & (done <= pd.Timestamp(ctx.now))]


def _rate_per_table(ctx: _Ctx) -> dict[str, float]:
    """Distinct eligible data_dates per hour with a success inside the rate window, per table."""
    if ctx.runs is None:
        return {}
    minutes = ctx.config.thresholds.rate_window_minutes
    out = {t.name: 0.0 for t in ctx.config.tables}
    for name, days in _recent_successes(ctx, ctx.runs).groupby("table", sort=False)["day"]:
        if name in out:
            eligible = ctx.eligible_sets.get(ctx.phase_of(ctx.table_named(name)).name, frozenset())
            out[name] = len({d for d in days if d in eligible}) * 60 / minutes
    return out


def _busy_elsewhere(ctx: _Ctx) -> frozenset[str]:
    """With a season chosen: tables that had a success inside the rate window on dates of other seasons. Such a
    table is not stalled when it shows no rate in this season; its job has not reached this season yet."""
    if ctx.season is None or ctx.runs is None:
        return frozenset()
    return frozenset(_recent_successes(ctx, _runs(ctx.snap, ctx.config, (ctx.config.start, ctx.config.end)))["table"])


def _tables(ctx: _Ctx) -> pd.DataFrame:
    rates = _rate_per_table(ctx)
    last = {}
    if ctx.snap.last_success.ok:
        last = dict(zip(ctx.snap.last_success.frame["processor_name"], ctx.snap.last_success.frame["last_success_at"], strict=True))
    records = []
    for phase in ctx.config.phases:
        eligible = ctx.eligible.get(phase.name)
        for stage_no, stage in enumerate(phase.stages, start=1):
            for t in stage:
                error = _table_error(ctx, t)
                n_eligible = len(eligible) if eligible is not None else None
                if error and ctx.expected is None or (error and not ctx.snap.coverage.ok):
                    dates = partial = extra = None
                else:
                    present = [] if error else _present(ctx, t, phase)
                    dates = len(present)
                    partial = 0 if error else len(_partial_of(ctx, t, phase, present))
                    extra = 0 if error else len(_extra_of(ctx, t, phase))
                status = "error" if error else _status(dates, n_eligible)
                records.append({
                    "phase": phase.name, "stage": stage_no, "table": t.name, "dataset": t.dataset,
                    "dates": dates, "eligible": n_eligible,
                    "pct": _pct(dates, n_eligible),
                    "remaining": None if dates is None or n_eligible is None else n_eligible - dates,
                    "partial_dates": partial, "extra_dates": extra,
                    "dates_per_hour": rates.get(t.name) if ctx.runs is not None else None,
                    "last_success_at": last.get(t.processor, pd.NaT),
                    "status": status, "error": error or "",
                })
    frame = pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)
    for col in ("dates", "eligible", "remaining", "partial_dates", "extra_dates"):
        frame[col] = frame[col].astype("Int64")
    frame["last_success_at"] = pd.to_datetime(frame["last_success_at"], utc=True)
    return frame


def _status(dates: int, eligible: int | None) -> str:
    if eligible and dates == eligible:
        return "complete"
    if dates == 0:
        return "not_started"
    return "in_progress"


def _pct(part, whole) -> float | None:
    if part is None or whole is None:
        return None
    return round(100.0 * part / whole, 1) if whole else 0.0


def _partial_of(ctx: _Ctx, t: Table, phase: Phase, present: list[dt.date] | None = None) -> list[tuple[dt.date, int, int]]:
    if not t.min_rows_per_game or ctx.expected is None:
        return []
    have = ctx.rows.get(t.key, {})
    out = []
    for d in _present(ctx, t, phase) if present is None else present:
        want = ctx.expected[d] * t.min_rows_per_game
        if have[d] < want:
            out.append((d, have[d], want))
    return out


def _extra_of(ctx: _Ctx, t: Table, phase: Phase) -> list[dt.date]:
    eligible = ctx.eligible_sets.get(phase.name, frozenset())
    return sorted(d for d in ctx.present_sets.get(t.key, frozenset()) if d not in eligible)


def _phases(ctx: _Ctx, tables: pd.DataFrame) -> pd.DataFrame:
    records = []
    for phase in ctx.config.phases:
        rec = {"phase": phase.name, "label": phase.label, "tables": [t.name for t in phase.tables]}
        mine = tables[tables["phase"] == phase.name]
        if ctx.expected is None or not ctx.snap.coverage.ok:
            rec.update(expected_dates=None if ctx.expected is None else len(ctx.expected), eligible_dates=None,
                       bootstrap_dates=None, complete_dates=None, complete_pct=None, work_pct=None, gate=None)
        else:
            eligible = ctx.eligible[phase.name]
            # eligible dates present in every table; none while a table of the phase is in error (see _Ctx)
            complete = ctx.complete[phase.name]
            done = int(mine["dates"].sum())
            slots = len(eligible) * len(phase.tables)
            rec.update(
                expected_dates=len(ctx.expected),
                eligible_dates=len(eligible),
                bootstrap_dates=len(ctx.expected) - len(eligible),
                complete_dates=len(complete),
                complete_pct=_pct(len(complete), len(eligible)),
                work_pct=round(100.0 * done / slots, 1) if slots else 0.0,
                gate="pass" if eligible and len(complete) == len(eligible) else "fail",
            )
        records.append(rec)
    frame = pd.DataFrame.from_records(records, columns=PHASE_COLUMNS)
    for col in ("expected_dates", "eligible_dates", "bootstrap_dates", "complete_dates"):
        frame[col] = frame[col].astype("Int64")
    return frame


def _per_season(ctx: _Ctx, days) -> dict[str, int]:
    """How many of `days` (expected dates) fall in each season, by name."""
    out: dict[str, int] = {}
    for d in days:
        name = ctx.season_names.get(d, "")
        out[name] = out.get(name, 0) + 1
    return out


def _seasons(ctx: _Ctx) -> pd.DataFrame:
    records = []
    seasons = [ctx.season] if ctx.season else list(ctx.config.seasons)
    if ctx.expected is not None and ctx.snap.coverage.ok:
        counts = _per_season(ctx, ctx.expected)
        per_phase = {p.name: (_per_season(ctx, ctx.eligible[p.name]), _per_season(ctx, ctx.complete[p.name]))
                     for p in ctx.config.phases}
    for season in seasons:
        rec: dict = {"season": season.name}
        if ctx.expected is None or not ctx.snap.coverage.ok:
            rec["expected"] = None if ctx.expected is None else sum(1 for d in ctx.expected if season.contains(d))
            for phase in ctx.config.phases:
                rec[f"{phase.name} eligible"] = rec[f"{phase.name} complete"] = rec[f"{phase.name} %"] = None
            records.append(rec)
            continue
        rec["expected"] = counts.get(season.name, 0)
        for phase in ctx.config.phases:
            eligible = per_phase[phase.name][0].get(season.name, 0)
            complete = per_phase[phase.name][1].get(season.name, 0)
            rec[f"{phase.name} eligible"] = eligible
            rec[f"{phase.name} complete"] = complete
            rec[f"{phase.name} %"] = _pct(complete, eligible)
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    for col in frame.columns:
        if col == "expected" or col.endswith((" eligible", " complete")):
            frame[col] = frame[col].astype("Int64")
    return frame


# --- rate and ETA ------------------------------------------------------------


def _rates(ctx: _Ctx, tables: pd.DataFrame, phases: pd.DataFrame, unresolved: pd.DataFrame | None) -> pd.DataFrame:
    minutes = ctx.config.thresholds.rate_window_minutes
    by_table = tables.set_index("table")
    busy = _busy_elsewhere(ctx)
    failed = {} if unresolved is None else unresolved.groupby("table")["data_date"].nunique().to_dict()
    records = []
    for phase, prow in zip(ctx.config.phases, phases.itertuples(), strict=True):
        rate = _phase_rate(ctx, phase)
        remaining = None if prow.complete_dates is pd.NA or prow.eligible_dates is pd.NA else int(prow.eligible_dates - prow.complete_dates)
        eta, note, pace = _eta(phase, by_table, prow, rate, busy, failed)
        records.append({"phase": phase.name, "dates_per_hour": rate, "remaining": remaining,
                        "eta_hours": eta, "eta_note": note, "window_minutes": minutes,
                        "pace_table": pace[0] if pace else None, "pace_per_hour": pace[1] if pace else None})
    frame = pd.DataFrame.from_records(records, columns=RATE_COLUMNS)
    frame["remaining"] = frame["remaining"].astype("Int64")
    return frame


def _phase_rate(ctx: _Ctx, phase: Phase) -> float | None:
    """Distinct eligible data_dates per hour on which any table of the phase had a success."""
    if ctx.runs is None:
        return None
    recent = _recent_successes(ctx, ctx.runs)
    recent = recent[recent["table"].isin([t.name for t in phase.tables])]
    eligible = ctx.eligible_sets.get(phase.name, frozenset())
    return len({d for d in recent["day"] if d in eligible}) * 60 / ctx.config.thresholds.rate_window_minutes


def _eta(phase: Phase, tables: pd.DataFrame, prow, phase_rate: float | None,
         busy_elsewhere: frozenset[str] = frozenset(), failed_dates: dict[str, int] | None = None,
         ) -> tuple[float | None, str, tuple[str, float] | None]:
    """Phase ETA in hours over its stages, its note, and its pace: (table, dates/hour) of the slowest table of
    the earliest unfinished stage. (None, note, None) when it cannot be known; a note naming a table that is not
    moving says how many of its dates failed and wait for a rerun (`failed_dates`, unresolved per table)."""
    if prow.gate is None or phase_rate is None:
        return None, "unknown", None
    if prow.eligible_dates == 0:
        return None, "no expected dates", None
    if prow.gate == "pass":
        return 0.0, "complete", None
    if int(tables.loc[[t.name for t in phase.tables], "dates"].sum()) == 0 and phase_rate == 0:
        return None, "not started", None
    total, moving_rate, pace = 0.0, None, None  # moving_rate: the rate of the earliest unfinished stage
    for stage in phase.stages:
        unfinished = [t for t in stage if tables.at[t.name, "remaining"] > 0]
        if not unfinished:
            continue
        stage_hours, stage_rates, slowest = 0.0, [], None
        for t in unfinished:
            own = tables.at[t.name, "dates_per_hour"] or 0.0
            rate = own if own > 0 else (moving_rate or 0.0)
            if rate <= 0:
                failed, left = (failed_dates or {}).get(t.name, 0), int(tables.at[t.name, "remaining"])
                rerun = f" ({failed} of its {left} missing dates failed: rerun them)" if failed else ""
                if t.name in busy_elsewhere and failed < left:  # its job may yet come to the dates that never ran
                    return None, f"waiting: {t.name} is working on other seasons{rerun}", None
                return None, f"stalled: {t.name}{rerun}", None
            hours = int(tables.at[t.name, "remaining"]) / rate
            if slowest is None or hours > stage_hours:
                slowest = (t.name, rate)
            stage_hours = max(stage_hours, hours)
            stage_rates.append(rate)
        if moving_rate is None:
            moving_rate, pace = min(stage_rates), slowest
        total += stage_hours
    return round(total, 2), "", pace


# --- runs: failures, stuck, unresolved --------------------------------------


def backfill_command(table: Table, start: dt.date, end: dt.date) -> str:
    return f"./bin/run_backfill.sh {table.backfill_job} --start-date {start.isoformat()} --end-date {end.isoformat()}"


def _command_for(ctx: _Ctx, table_name: str, day: dt.date) -> str:
    return backfill_command(ctx.table_named(table_name), day, day)


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def _failures(ctx: _Ctx) -> pd.DataFrame | None:
    if ctx.runs is None:
        return None
    since = pd.Timestamp(ctx.now - dt.timedelta(minutes=ctx.config.thresholds.failure_window_minutes))
    r = ctx.runs
    failed = r[r["outcome"].isin(FAILED) & (r["started_at"] > since)].sort_values("started_at", ascending=False, kind="stable")
    if failed.empty:
        return _empty(FAILURE_COLUMNS)
    failed = failed.assign(command=[_command_for(ctx, t, d) for t, d in zip(failed["table"], failed["day"], strict=True)])
    return failed[FAILURE_COLUMNS].reset_index(drop=True)


def _stuck(ctx: _Ctx) -> pd.DataFrame | None:
    if ctx.runs is None:
        return None
    before = pd.Timestamp(ctx.now - dt.timedelta(minutes=ctx.config.thresholds.stuck_after_minutes))
    r = ctx.runs
    stuck = r[(r["outcome"] == "running") & (r["started_at"] < before)].sort_values("started_at", kind="stable")
    if stuck.empty:
        return _empty(STUCK_COLUMNS)
    stuck = stuck.assign(
        hours_running=[round((ctx.now - ts).total_seconds() / 3600, 1) for ts in stuck["started_at"]],
        command=[_command_for(ctx, t, d) for t, d in zip(stuck["table"], stuck["day"], strict=True)],
    )
    return stuck[STUCK_COLUMNS].reset_index(drop=True)


def _unresolved(ctx: _Ctx) -> pd.DataFrame | None:
    """(processor, data_date) of the (season) window whose latest run with a final outcome failed, however long
    ago: a date that failed and was never run again is still to do. Newest failure first."""
    if not ctx.snap.unresolved.ok:
        return None
    u = ctx.snap.unresolved.frame
    by_processor = {t.processor: t.name for t in ctx.config.tables}
    days = _days(u["data_date"])
    keep = [p in by_processor and ctx.window[0] <= d <= ctx.window[1] for p, d in zip(u["processor_name"], days, strict=True)]
    u = u.assign(data_date=days)[keep]
    if u.empty:
        return _empty(UNRESOLVED_COLUMNS)
    u = u.assign(table=[by_processor[p] for p in u["processor_name"]])
    u = u.assign(command=[_command_for(ctx, t, d) for t, d in zip(u["table"], u["data_date"], strict=True)])
    return u[UNRESOLVED_COLUMNS].reset_index(drop=True)


# --- missing ranges, partial dates, history ---------------------------------


def missing_ranges(eligible: list[dt.date], present: set[dt.date], season_of) -> list[tuple[dt.date, dt.date, int]]:
    """Missing eligible dates as (start, end, count): consecutive in eligible order, split at seasons."""
    out = []
    keyed = [(d, d in present, season_of(d)) for d in sorted(eligible)]
    run_id = 0
    groups = []
    prev = None
    for d, ok, season in keyed:
        if ok or (prev is not None and season != prev):
            run_id += 1
        if not ok:
            groups.append((run_id, d))
        prev = season
    for _, items in groupby(groups, key=lambda x: x[0]):
        days = [d for _, d in items]
        out.append((days[0], days[-1], len(days)))
    return out


def _missing_ranges(ctx: _Ctx, tables: pd.DataFrame) -> pd.DataFrame:
    if ctx.expected is None or not ctx.snap.coverage.ok:
        return _empty(RANGE_COLUMNS)
    records = []
    season_name = ctx.season_names.get  # every eligible date is an expected date, so it has an entry
    for phase in ctx.config.phases:
        for t in phase.tables:
            if t.key in ctx.snap.errors:  # unreadable: which dates it lacks is unknown, so no commands to rerun them
                continue
            present = ctx.present_sets.get(t.key, frozenset())
            for start, end, n in missing_ranges(ctx.eligible[phase.name], present, season_name):
                records.append({"phase": phase.name, "table": t.name, "season": season_name(start), "start": start,
                                "end": end, "dates": n, "command": backfill_command(t, start, end)})
    return pd.DataFrame.from_records(records, columns=RANGE_COLUMNS)


def _partial_dates(ctx: _Ctx) -> pd.DataFrame:
    if ctx.expected is None or not ctx.snap.coverage.ok:
        return _empty(PARTIAL_COLUMNS)
    records = [
        {"phase": p.name, "table": t.name, "day": d, "rows": have, "expected_rows": want, "games": ctx.expected[d]}
        for p in ctx.config.phases for t in p.tables for d, have, want in _partial_of(ctx, t, p)
    ]
    return pd.DataFrame.from_records(records, columns=PARTIAL_COLUMNS)


def _rate_history(ctx: _Ctx) -> pd.DataFrame:
    """Distinct eligible dates processed (a success in any table of the phase) in the hour ending at each point,
    per phase, over the run-history window: the hours ending on the hour, and the last one ending now.

    Every point is a whole hour, so the current hour never looks like a collapse while it is under way, and the
    last point is the phase's rate as the page's headline shows it (with the default 60-minute rate window)."""
    if ctx.runs is None:
        return _empty(HISTORY_COLUMNS)
    now = pd.Timestamp(ctx.now)
    ends = list(pd.date_range(end=now.floor("h"), periods=ctx.config.thresholds.history_hours, freq="h", tz="UTC"))
    if now > ends[-1]:  # mid-hour: the hour ending now replaces the oldest, so every window lies in the runs read
        ends = [*ends[1:], now]
    r = ctx.runs[(ctx.runs["outcome"] == "success") & ctx.runs["succeeded_at"].notna()]
    r = r[(r["succeeded_at"] > ends[0] - pd.Timedelta(hours=1)) & (r["succeeded_at"] <= now)]
    records = []
    for phase in ctx.config.phases:
        eligible = ctx.eligible_sets.get(phase.name, frozenset())
        mine = r[r["table"].isin([t.name for t in phase.tables]) & r["day"].isin(list(eligible))]
        done, days = mine["succeeded_at"], mine["day"]
        for end_ in ends:
            inside = (done > end_ - pd.Timedelta(hours=1)) & (done <= end_)
            records.append({"hour": end_, "phase": phase.name, "dates": int(days[inside].nunique())})
    return pd.DataFrame.from_records(records, columns=HISTORY_COLUMNS)


# --- warnings ------------------------------------------------------------------


def _warnings(ctx: _Ctx, tables, phases, failures, stuck) -> tuple[Warning_, ...]:
    """The usage guide's "What's a Problem", as codes and one-line messages."""
    th = ctx.config.thresholds
    out = []
    for t in ctx.config.tables:  # its own error (not found, no date column): the phase's figures depend on it
        if t.key in ctx.snap.errors:
            phase = ctx.phase_of(t).name
            out.append(Warning_("table_unreadable", f"{phase}: {t.name} cannot be read ({ctx.snap.errors[t.key]}); it "
                                                    f"counts as 0 dates, so {phase}'s gate fails until it can be read"))
    last = ctx.snap.last_success.frame if ctx.snap.last_success.ok else None
    for phase, prow in zip(ctx.config.phases, phases.itertuples(), strict=True):
        if prow.gate != "fail":
            continue
        mine = tables[tables["phase"] == phase.name]
        started = int(mine["dates"].sum()) > 0
        if last is not None and started:
            procs = [t.processor for t in phase.tables]
            latest = last.loc[last["processor_name"].isin(procs), "last_success_at"].max()
            if pd.isna(latest) or latest < pd.Timestamp(ctx.now - dt.timedelta(minutes=th.rate_window_minutes)):
                since = "never" if pd.isna(latest) else f"last at {latest:%Y-%m-%d %H:%M} UTC"
                out.append(Warning_("no_recent_success", f"{phase.name}: {prow.eligible_dates - prow.complete_dates} dates remaining "
                                    f"and no successful run for over {_minutes(th.rate_window_minutes)} ({since})"))
        first = {t.name for t in phase.stages[0]}
        if (mine.loc[mine["table"].isin(first), "remaining"] == 0).all():
            ok = mine[mine["status"] != "error"]
            spread = int(ok["dates"].max() - ok["dates"].min()) if len(ok) else 0
            if spread > th.max_date_spread:
                out.append(Warning_("date_spread", f"{phase.name}: table date counts differ by {spread} "
                                    f"(more than {th.max_date_spread}): {ok['dates'].min()}..{ok['dates'].max()}"))
    if failures is not None and len(failures) > th.many_failures:
        out.append(Warning_("many_failures", f"{len(failures)} failed runs in the last {_minutes(th.failure_window_minutes)} "
                            f"(more than {th.many_failures})"))
    if stuck is not None and len(stuck):
        runs = "1 run is" if len(stuck) == 1 else f"{len(stuck)} runs are"
        out.append(Warning_("stuck_runs", f"{runs} still running after {_minutes(th.stuck_after_minutes)}"))
    return tuple(out)


def _minutes(m: int) -> str:
    return f"{m // 60} h" if m % 60 == 0 else f"{m} min"
