"""The usage guide's terminal report, rendered from Figures.

Sections in the guide's order: header, overall progress, table-level progress
(--detailed), season breakdown, processing rate, recent failures; then stuck runs,
unresolved failures and warnings. Marks and bars fall back to ASCII when the output
encoding cannot show them; colour is added only by the caller's `style`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from monitor import sanitize
from monitor.config import Config
from monitor.progress import Figures
from monitor.sanitize import printable

BAR_WIDTH = 50
RULE = "=" * 80


@dataclass(frozen=True)
class Glyphs:
    full: str
    empty: str
    marks: dict[str, str]
    phase_icons: tuple[str, ...]
    icons: dict[str, str]
    sep: str


UNICODE = Glyphs(
    "█", "░",
    {"complete": "✅", "in_progress": "⏳", "not_started": "⬜", "error": "❌"},
    ("🔵", "🟣", "🟢", "🟠"),
    {"title": "🔍 ", "target": "📅 ", "checked": "⏰ ", "season": "🏀 ", "overall": "📊 ", "tables": "📋 ",
     "seasons": "🗓️  ", "rate": "⚡ ", "ok": "✅ ", "warn": "⚠️  ", "fail": "❌ ", "stuck": "⏸️  ", "done": "🎉 "},
    "·",
)
ASCII = Glyphs(
    "#", "-",
    {"complete": "[ok]", "in_progress": "[..]", "not_started": "[  ]", "error": "[!!]"},
    ("*", "*", "*", "*"),
    {k: "" for k in UNICODE.icons} | {"ok": "[ok] ", "warn": "[!] ", "fail": "[x] ", "stuck": "[stuck] ", "done": ""},
    "-",
)


_SAMPLE = "█░✅⏳⬜❌🔵🟣🔍📅⏰🗓️⚡⚠️⏸️🎉🏀📊📋·"


def can_show(encoding: str | None, sample: str = _SAMPLE) -> bool:
    try:
        sample.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def plain_locale(env: Mapping[str, str]) -> bool:
    """Whether the locale in effect is C / POSIX (LANG=C, say): Python then writes UTF-8 all the same (its
    C-locale coercion), but the terminal that asked for C may not draw it."""
    value = next((env[k] for k in ("LC_ALL", "LC_CTYPE", "LANG") if env.get(k)), "")
    return value.split(".")[0] in ("C", "POSIX") and "utf" not in value.lower()


def glyphs_for(encoding: str | None, env: Mapping[str, str] | None = None) -> Glyphs:
    """Unicode marks when `encoding` can show them and the locale is not C / POSIX, else ASCII."""
    if plain_locale(os.environ if env is None else env):
        return ASCII
    return UNICODE if can_show(encoding) else ASCII


def printable_figures(fig: Figures) -> Figures:
    """`fig` with every text from the warehouse (messages, names, reasons) made `printable`."""
    frames = {f.name: sanitize.texts(getattr(fig, f.name)) for f in dataclasses.fields(fig)
              if isinstance(getattr(fig, f.name), pd.DataFrame)}
    return dataclasses.replace(
        fig, **frames, warehouse=printable(fig.warehouse),
        warnings=tuple(dataclasses.replace(w, message=printable(w.message)) for w in fig.warnings),
        errors={k: printable(v) for k, v in fig.errors.items()},
    )


def bar(pct: float | None, g: Glyphs = UNICODE, width: int = BAR_WIDTH) -> str:
    filled = 0 if pct is None else min(width, max(0, round(pct / 100 * width)))
    return "[" + g.full * filled + g.empty * (width - filled) + "]"


def _missing(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _n(v, fmt: str = "{}") -> str:
    return "?" if _missing(v) else fmt.format(v)


def _some(v) -> bool:
    """A count that is known and non-zero."""
    return not _missing(v) and v != 0


def _short(phase: str) -> str:
    """'Phase 3' -> 'P3', as in the guide's season table."""
    return "".join(w if w.isdigit() else w[0] for w in phase.split())


def _duration(hours: float) -> str:
    if hours < 1:
        return f"{hours * 60:.0f} minutes"
    if hours < 48:
        return f"{hours:.1f} hours"
    return f"{hours / 24:.1f} days"


def _window(minutes: int) -> str:
    if minutes % 60:
        return f"last {minutes} minutes"
    h = minutes // 60
    return "last 1 hour" if h == 1 else f"last {h} hours"


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


Style = Callable[[str, str], str]


def no_style(text: str, kind: str) -> str:
    return text


def render(
    fig: Figures,
    config: Config,
    *,
    detailed: bool = False,
    failures_only: bool = False,
    glyphs: Glyphs = UNICODE,
    style: Style = no_style,
    notice: str | None = None,
) -> str:
    g, out = glyphs, []
    icon = {p.name: g.phase_icons[i % len(g.phase_icons)] for i, p in enumerate(config.phases)}
    th = config.thresholds
    out += [
        RULE,
        f"{g.icons['title']}{config.name.upper()} PROGRESS MONITOR",
        f"{g.icons['target']}Target: {fig.window[0]} to {fig.window[1]}",
        f"{g.icons['checked']}Checked: {fig.checked_at.date().isoformat()} {fig.checked_at:%H:%M:%S} UTC",
        f"{g.icons['season']}Season: {fig.season or 'All'}",
        f"Warehouse: {fig.warehouse}",
        RULE,
    ]
    if notice:
        out += ["", style(f"{g.icons['warn']}{notice}", "bad")]
    for section, reason in fig.errors.items():
        out.append(style(f"{g.icons['fail']}{section} unavailable: {_clip(reason, 300)}", "bad"))
    out.append("")

    if not failures_only:
        out.append(f"{g.icons['overall']}OVERALL PROGRESS")
        for _, p in fig.phases.iterrows():
            gate = " " + style(g.marks["complete"], "good") if p["gate"] == "pass" else ""
            of = "eligible dates" if _some(p["bootstrap_dates"]) else "dates"
            out.append(f"{icon[p['phase']]} {p['phase']} ({p['label']}): {_n(p['complete_dates'])}/{_n(p['eligible_dates'])} "
                       f"{of} complete ({_n(p['complete_pct'], '{:.1f}')}%){gate} {g.sep} work done {_n(p['work_pct'], '{:.1f}')}%")
            out.append(f"   {bar(p['complete_pct'], g)} {_n(p['complete_pct'], '{:.1f}')}%")
            if _some(p["bootstrap_dates"]):
                phase = next(x for x in config.phases if x.name == p["phase"])
                out.append(f"   Note: {p['bootstrap_dates']} bootstrap dates (first {phase.bootstrap_days} days of each "
                           f"season, of {p['expected_dates']} game dates) are intentionally skipped")
            out.append("")

        if detailed:
            out.append(f"{g.icons['tables']}TABLE-LEVEL PROGRESS")
            for phase in config.phases:
                out.append(f"{icon[phase.name]} {phase.name} {phase.label}:")
                for _, t in fig.tables[fig.tables["phase"] == phase.name].iterrows():
                    mark = style(g.marks[t["status"]], {"complete": "good", "error": "bad"}.get(t["status"], ""))
                    line = f"   {mark} {t['table']:<40} {_n(t['dates']):>4}/{_n(t['eligible']):<4} ({_n(t['pct'], '{:5.1f}')}%)"
                    if _some(t["partial_dates"]):
                        line += f"  {t['partial_dates']} partial"
                    if t["error"]:
                        line += "  " + style(_clip(t["error"], 160), "bad")
                    out.append(line)
                out.append("")

        out.append(f"{g.icons['seasons']}SEASON-BY-SEASON BREAKDOWN")
        names = [p.name for p in config.phases]
        out.append(f"{'Season':<10}{'Expected':>13}" + "".join(f"{n:>13}" for n in names) + "".join(f"{_short(n) + ' %':>9}" for n in names))
        for _, s in fig.seasons.iterrows():
            out.append(f"{s['season']:<10}{_n(s['expected']):>13}" + "".join(f"{_n(s[f'{n} complete']):>13}" for n in names)
                       + "".join(f"{_n(s[f'{n} %'], '{:.1f}%'):>9}" for n in names))
        out.append("")

        out.append(f"{g.icons['rate']}PROCESSING RATE")
        for _, r in fig.rates.iterrows():
            out.append(f"{icon[r['phase']]} {r['phase']}: {_n(r['dates_per_hour'], '{:g}')} dates/hour ({_window(r['window_minutes'])})")
            out.append(f"   Remaining: {_n(r['remaining'])} dates")
            out.append(f"   ETA: {r['eta_note'] or _duration(r['eta_hours'])}" + _pace(r))
        out.append("")

    limit = 20 if failures_only else 5
    out += _failures(fig, g, style, th.failure_window_minutes, limit)
    out += _runs_sections(fig, g, style, limit)
    if fig.warnings:
        out.append(f"{g.icons['warn']}WARNINGS")
        out += [style(f"   {w.message}", "bad") for w in fig.warnings]
        out.append("")
    out.append(RULE)
    if not fig.phases.empty and (fig.phases["gate"] == "pass").all():
        out += ["", style(f"{g.icons['done']}Backfill complete! All quality gates passed.", "good")]
    return "\n".join(out)


def _pace(rate) -> str:
    """' (slowest: t at 62 dates/hour)': the table a numeric ETA waits on, since a phase's rate counts dates
    processed by any of its tables and can be far above the pace at which dates become complete."""
    if rate["eta_note"] or not isinstance(rate["pace_table"], str):
        return ""
    return f" (slowest: {rate['pace_table']} at {rate['pace_per_hour']:g} dates/hour)"


def _failures(fig: Figures, g: Glyphs, style: Style, window_minutes: int, limit: int) -> list[str]:
    window = _window(window_minutes)
    if fig.failures is None:
        return [style(f"{g.icons['fail']}RECENT FAILURES unknown: the run history could not be read", "bad"), ""]
    if fig.failures.empty:
        return [style(f"{g.icons['ok']}NO RECENT FAILURES ({window})", "good"), ""]
    shown = min(limit, len(fig.failures))
    out = [f"{g.icons['warn']}RECENT FAILURES ({window}: {len(fig.failures)}, showing {shown})"]
    for _, f in fig.failures.head(limit).iterrows():
        out.append(style(f"{g.marks['error']} {f['processor_name']}", "bad"))
        out.append(f"   Date: {f['data_date']}")
        out.append(f"   Time: {f['started_at']:%Y-%m-%d %H:%M:%S} UTC")
        message = _clip(f["error_message"]) if f["error_message"] else "(no message)"
        out.append(f"   Error: {f['error_type']}: {message}" if f["error_type"] else f"   Error: {message}")
    out.append("")
    return out


def _runs_sections(fig: Figures, g: Glyphs, style: Style, limit: int) -> list[str]:
    out = []
    if fig.stuck is not None and not fig.stuck.empty:
        out.append(f"{g.icons['stuck']}STUCK RUNS ({len(fig.stuck)})")
        for _, s in fig.stuck.iterrows():
            out.append(f"   {s['processor_name']}  date {s['data_date']}  running for {s['hours_running']:.1f} h (run {s['run_id']})")
        out.append("")
    if fig.unresolved is not None and not fig.unresolved.empty:
        shown = min(limit, len(fig.unresolved))
        out.append(f"{g.icons['fail']}UNRESOLVED FAILURES (latest run failed, newest first: {len(fig.unresolved)}, "
                   f"showing {shown}{'' if shown == len(fig.unresolved) else '; --format json lists all'})")
        for _, u in fig.unresolved.head(limit).iterrows():
            out.append(f"   {u['processor_name']}  date {u['data_date']}  {u['error_type'] or 'error'}")
            out.append(f"      {u['command']}")
        out.append("")
    return out
