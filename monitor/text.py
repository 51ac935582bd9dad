"""The usage guide's terminal report, rendered from Figures as plain text."""

from __future__ import annotations

from monitor.progress import Figures

BAR_WIDTH = 50
MARKS = {"complete": "✅", "in_progress": "⏳", "not_started": "⬜", "error": "❌"}


def bar(pct: float | None, width: int = BAR_WIDTH) -> str:
    filled = round((pct or 0) / 100 * width)
    return "[" + "█" * filled + "░" * (width - filled) + "]"


def _num(v, fmt="{}") -> str:
    return "?" if v is None or v != v else fmt.format(v)


def _short(phase: str) -> str:
    """'Phase 3' -> 'P3', as in the guide's season table."""
    return "".join(w if w.isdigit() else w[0] for w in phase.split())


def render(fig: Figures, config, *, detailed: bool = False, failures_only: bool = False) -> str:
    out = ["=" * 80, "🔍 BACKFILL PROGRESS MONITOR", f"📅 Target: {fig.window[0]} to {fig.window[1]}",
           f"⏰ Checked: {fig.checked_at:%Y-%m-%d %H:%M:%S} UTC", f"🏀 Season: {fig.season or 'All'}", "=" * 80, ""]
    for section, reason in fig.errors.items():
        out.append(f"❌ {section} query failed: {reason}")
    if not failures_only:
        out.append("📊 OVERALL PROGRESS")
        for _, p in fig.phases.iterrows():
            mark = " ✅" if p["gate"] == "pass" else ""
            out.append(f"{p['phase']} ({p['label']}): {_num(p['complete_dates'])}/{_num(p['eligible_dates'])} dates complete "
                       f"({_num(p['complete_pct'], '{:.1f}')}%), work done {_num(p['work_pct'], '{:.1f}')}%{mark}")
            out.append(f"   {bar(p['complete_pct'])} {_num(p['complete_pct'], '{:.1f}')}%")
        out.append("")
        if detailed:
            out.append("📋 TABLE-LEVEL PROGRESS")
            for _, t in fig.tables.iterrows():
                line = f"   {MARKS[t['status']]} {t['table']:<40} {_num(t['dates']):>4}/{_num(t['eligible']):<4} ({_num(t['pct'], '{:5.1f}')}%)"
                if t["error"]:
                    line += f"  {t['error']}"
                out.append(line)
            out.append("")
        out.append("🗓️  SEASON-BY-SEASON BREAKDOWN")
        names = [p.name for p in config.phases]
        out.append(f"{'Season':<10}{'Expected':>10}" + "".join(f"{n:>12}" for n in names) + "".join(f"{_short(n) + ' %':>9}" for n in names))
        for _, s in fig.seasons.iterrows():
            out.append(f"{s['season']:<10}{_num(s['expected']):>10}" + "".join(f"{_num(s[f'{n} complete']):>12}" for n in names)
                       + "".join(f"{_num(s[f'{n} %'], '{:.1f}%'):>9}" for n in names))
        out.append("")
        out.append("⚡ PROCESSING RATE")
        for _, r in fig.rates.iterrows():
            eta = r["eta_note"] or (f"{r['eta_hours']:.1f} hours" if r["eta_hours"] is not None else "unknown")
            out.append(f"{r['phase']}: {_num(r['dates_per_hour'], '{:g}')} dates/hour (last {r['window_minutes']} min)"
                       f" · remaining {_num(r['remaining'])} · ETA {eta}")
        out.append("")
    if fig.failures is None:
        out.append("❌ RECENT FAILURES unknown: run history could not be read")
    elif fig.failures.empty:
        out.append("✅ NO RECENT FAILURES")
    else:
        limit = 20 if failures_only else 5
        out.append(f"⚠️  RECENT FAILURES ({len(fig.failures)}, showing {min(limit, len(fig.failures))})")
        for _, f in fig.failures.head(limit).iterrows():
            out.append(f"❌ {f['processor_name']}  date {f['data_date']}  at {f['started_at']:%Y-%m-%d %H:%M:%S}")
            out.append(f"   {f['error_type'] or 'error'}: {f['error_message'][:200]}")
    for w in fig.warnings:
        out.append(f"⚠️  {w.message}")
    out.append("=" * 80)
    return "\n".join(out)
