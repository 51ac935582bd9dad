"""Terminal twin: python -m monitor, with the usage guide's flags.

Exit codes: 0 ok; 1 a gate failed (--check); 2 bad input (one line on stderr);
3 the figures could not be computed (--check).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from monitor import config as config_mod
from monitor import progress, report, snapshot, text
from monitor.config import Config, ConfigError
from monitor.freshness import QUERY_SECTIONS, LastGood
from monitor.warehouse import Warehouse, WarehouseError, open_warehouse

EXAMPLES = """\
examples:
  python -m monitor                              single check (run once, see current state)
  python -m monitor --continuous --interval 60   auto-refresh every 60 seconds
  python -m monitor --detailed                   table-level progress
  python -m monitor --failures-only              only recent failures
  python -m monitor --season 2023-24 --detailed  focus on one season
  python -m monitor --format json                the figures as JSON (for scripts)
  python -m monitor --check "Phase 3"            exit 0 when Phase 3's gate passes, 1 when not

warehouses: demo (default) | duckdb:PATH | bigquery://PROJECT[?location=US]   (or $BACKFILL_WAREHOUSE)
exit codes: 0 ok, 1 a gate failed (--check), 2 bad input, 3 figures could not be computed
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m monitor",
        description="Backfill Progress Monitor: how far the multi-season backfill has come.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--continuous", action="store_true", help="run continuously with auto-refresh")
    p.add_argument("--interval", type=int, default=30, metavar="N", help="refresh interval in seconds (default 30)")
    p.add_argument("--detailed", action="store_true", help="show table-level progress")
    p.add_argument("--failures-only", action="store_true", help="show only recent failures")
    p.add_argument("--season", metavar="YYYY-YY", help="filter by season, e.g. 2023-24 (default: all)")
    p.add_argument("--config", metavar="PATH", help="pipeline config TOML (default: $BACKFILL_CONFIG or the NBA pipeline)")
    p.add_argument("--warehouse", metavar="URL", help="demo | duckdb:PATH | bigquery://PROJECT (default: $BACKFILL_WAREHOUSE or demo)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="text (the report), json (the figures), or csv: one long table with a `section` column "
                        "(phases, tables, seasons, rates, failures) and that section's fields as columns")
    p.add_argument("--check", nargs="?", const="", metavar="PHASE",
                   help="exit 0 when the gates (all, or PHASE's) pass, 1 when one fails, 3 when unknown")
    return p


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _demo_progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        print(f"\rBuilding the demo warehouse: {fraction:4.0%} {message[:60]:<60}", end="", file=sys.stderr, flush=True)
        if fraction >= 1:
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.interval <= 0:
        return _fail(f"--interval must be a positive number of seconds, got {args.interval}")
    if args.continuous and args.check is not None:
        return _fail("--check runs once and exits with the gate's code; drop --continuous")
    try:
        cfg = config_mod.load(args.config)
        chosen = cfg.season(args.season)
        args.season = chosen.name if chosen else None  # "all", " 2023-24 " and the like, spelled as configured
    except ConfigError as exc:
        return _fail(f"bad config: {exc}")
    except ValueError as exc:
        return _fail(str(exc))
    if args.check:
        names = [p.name for p in cfg.phases]
        if args.check not in names:
            return _fail(f"unknown phase {args.check!r}; phases: {', '.join(names)}")
    try:
        now = snapshot.resolve_now()
        wh = open_warehouse(args.warehouse, progress=_demo_progress, now=now, project=cfg.project)
    except (WarehouseError, ValueError) as exc:
        return _fail(str(exc))
    try:
        if args.continuous:
            return _continuous(args, cfg, wh)
        snap = snapshot.fetch(cfg, wh, now)
        if all(not getattr(snap, name).ok for name in QUERY_SECTIONS):
            return _fail(f"cannot read the warehouse {wh.label}: {snap.catalog.error}")
        fig = progress.compute(snap, cfg, args.season)
        _write(_output(args, cfg, fig) + "\n")
    finally:
        wh.close()
    if args.check is not None:
        return gate_exit(fig, args.check or None)
    return 0


def _output(args, cfg: Config, fig: progress.Figures, notice: str | None = None) -> str:
    if args.format == "json":
        return json.dumps(report.to_json(fig, cfg), indent=2, ensure_ascii=False)
    if args.format == "csv":
        return report.to_csv_frame(fig, cfg).to_csv(index=False).rstrip("\n")
    return text.render(fig, cfg, detailed=args.detailed, failures_only=args.failures_only,
                       glyphs=text.glyphs_for(sys.stdout.encoding), style=_style(), notice=notice)


def _write(text_out: str) -> None:
    """Write to stdout; characters its encoding cannot show (warehouse text, say) become '?'."""
    encoding = sys.stdout.encoding or "ascii"
    sys.stdout.write(text_out.encode(encoding, "replace").decode(encoding))
    sys.stdout.flush()


def _colour_wanted() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


_COLOURS = {"good": "\x1b[32m", "bad": "\x1b[31m"}


def _style():
    if not _colour_wanted():
        return text.no_style
    return lambda s, kind: f"{_COLOURS[kind]}{s}\x1b[0m" if kind in _COLOURS else s


def _continuous(args, cfg: Config, wh: Warehouse) -> int:
    """Redraw every --interval seconds, counted from the end of the previous cycle; Ctrl+C stops with exit 0.

    When the warehouse fails, the last good figures stay, marked stale with the reason.
    """
    last_good = LastGood()
    catalog = snapshot.CatalogCache()  # which tables exist, reused across cycles for a while
    redraw = _colour_wanted()  # in place on a terminal; appended when piped
    try:
        while True:
            try:
                snap, error = snapshot.fetch(cfg, wh, catalog_cache=catalog), None
            except Exception as exc:  # keep going: the next cycle may succeed
                snap, error = None, f"{exc.__class__.__name__}: {exc}"
            shown, stale = last_good.update(snap, error)
            notice = f"Figures {stale.badge()}. Retrying every {args.interval} s." if stale else None
            if shown is None:
                body = f"error: {error}"
            else:
                body = _output(args, cfg, progress.compute(shown, cfg, args.season), notice)
            footer = f"Next refresh in {args.interval} s (Ctrl+C to stop)"
            _write(("\x1b[H\x1b[2J" if redraw else "") + body + "\n" + footer + ("\n" if redraw else "\n\n"))
            time.sleep(args.interval)
    except KeyboardInterrupt:
        sys.stdout.write("\nStopped.\n")
        return 0


def gate_exit(fig: progress.Figures, phase: str | None) -> int:
    rows = fig.phases if phase is None else fig.phases[fig.phases["phase"] == phase]
    gates = list(rows["gate"])
    if any(g is None for g in gates):
        return 3
    return 0 if all(g == "pass" for g in gates) else 1
