"""Terminal twin: python -m monitor, with the usage guide's flags.

Exit codes: 0 ok; 1 a gate failed (--check); 2 bad input (one line on stderr);
3 the figures could not be computed (--check).
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import time

from monitor import config as config_mod
from monitor import progress, report, sanitize, snapshot, text
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
  python -m monitor --continuous --format json   one JSON document per line, every 30 seconds
  python -m monitor --check "Phase 3"            exit 0 when Phase 3's gate passes, 1 when not

warehouses: demo (default) | duckdb:PATH | bigquery://PROJECT[?location=US]   (or $BACKFILL_WAREHOUSE)
exit codes: 0 ok (and Ctrl+C in --continuous), 1 a gate failed (--check), 2 bad input or an unreachable
warehouse, 3 the gate's figures could not be computed (--check), 130 Ctrl+C during a single check
"""
MAX_INTERVAL_S = 86_400


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
    p.add_argument("--interval", type=int, default=None, metavar="N",
                   help=f"refresh interval in seconds, 1 to {MAX_INTERVAL_S} (default 30), counted from the end of a refresh")
    p.add_argument("--detailed", action="store_true", help="show table-level progress (text report; JSON and CSV always hold every table)")
    p.add_argument("--failures-only", action="store_true", help="show only recent failures, up to 20 (text report; JSON and CSV hold them all)")
    p.add_argument("--season", metavar="YYYY-YY", help="filter by season, e.g. 2023-24 (default: all)")
    p.add_argument("--config", metavar="PATH", help="pipeline config TOML (default: $BACKFILL_CONFIG or the NBA pipeline)")
    p.add_argument("--warehouse", metavar="URL", help="demo | duckdb:PATH | bigquery://PROJECT (default: $BACKFILL_WAREHOUSE or demo)")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="text (the report), json (the figures; with --continuous one document per line), or csv: "
                        "one long table with a `section` column (phases, tables, seasons, rates, failures, stuck, "
                        "unresolved, warnings) and that section's fields as columns")
    p.add_argument("--check", nargs="?", const="", metavar="PHASE",
                   help="exit 0 when the gates (all, or PHASE's, e.g. \"Phase 3\") pass, 1 when one fails, "
                        "3 when the figures it needs could not be computed")
    return p


def _fail(message: str) -> int:
    print(f"error: {sanitize.printable(message)}", file=sys.stderr)
    return 2


def _demo_progress(fraction: float, message: str) -> None:
    if sys.stderr.isatty():
        print(f"\rBuilding the demo warehouse: {fraction:4.0%} {message[:60]:<60}", end="", file=sys.stderr, flush=True)
        if fraction >= 1:
            print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.interval is not None and not args.continuous:  # else one report and exit, which reads as a hang up
        return _fail("--interval paces --continuous; add --continuous (or drop --interval for a single report)")
    args.interval = 30 if args.interval is None else args.interval
    if not 0 < args.interval <= MAX_INTERVAL_S:
        return _fail(f"--interval must be a positive number of seconds up to {MAX_INTERVAL_S}, got {args.interval}")
    if args.continuous and args.check is not None:
        return _fail("--check runs once and exits with the gate's code; drop --continuous")
    if args.continuous and args.format == "csv":
        return _fail("--continuous cannot stream CSV (one header per table); use --format json (one document per line) "
                     "or run --format csv on a schedule")
    try:
        cfg = config_mod.load(args.config)
        chosen = cfg.season(args.season)
        args.season = chosen.name if chosen else None  # "all", " 2023-24 " and the like, spelled as configured
    except ConfigError as exc:
        return _fail(f"bad config: {exc}")
    except ValueError as exc:
        return _fail(str(exc))
    if args.check:
        names = {config_mod.spoken(p.name): p.name for p in cfg.phases}  # as a person types it
        wanted = names.get(config_mod.spoken(args.check))
        if wanted is None:
            return _fail(f"unknown phase {args.check[:40]!r}; phases: {', '.join(names.values())}")
        args.check = wanted
    try:
        now = snapshot.resolve_now()
        wh = open_warehouse(args.warehouse, progress=_demo_progress, now=now, project=cfg.project)
    except (WarehouseError, ValueError) as exc:
        return _fail(str(exc))
    for note in getattr(wh, "notes", lambda now: [])(now):  # the demo's: its speed, a clock before it began
        print(note, file=sys.stderr)
    try:
        if args.continuous:
            try:
                return _continuous(args, cfg, wh)
            except KeyboardInterrupt:  # stopping it is how --continuous ends
                print("\nStopped.", file=sys.stderr)
                return 0
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
    """The figures in the chosen format. Warehouse text reaches a terminal or a spreadsheet only made safe
    (monitor.sanitize); JSON escapes control characters itself."""
    if args.format == "json":
        return _json(report.to_json(fig, cfg), indent=None if args.continuous else 2)
    if args.format == "csv":
        return sanitize.csv_text(report.to_csv_frame(fig, cfg)).rstrip("\n")
    return text.render(text.printable_figures(fig), cfg, detailed=args.detailed, failures_only=args.failures_only,
                       glyphs=text.glyphs_for(sys.stdout.encoding), style=_style(),
                       notice=sanitize.printable(notice) if notice else None)


def _json(doc, indent: int | None = None) -> str:
    """JSON as written: characters stdout's encoding cannot hold are \\u escapes, so no text is lost to '?'."""
    encoding = sys.stdout.encoding or "ascii"
    try:
        whole = codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        whole = False
    return json.dumps(doc, indent=indent, ensure_ascii=not whole)


def _write(text_out: str) -> None:
    """Write to stdout; characters its encoding cannot show (warehouse text, say) become '?'. A reader that went
    away (`| head`) ends the program quietly, as for any Unix tool."""
    encoding = sys.stdout.encoding or "ascii"
    try:
        sys.stdout.write(text_out.encode(encoding, "replace").decode(encoding))
        sys.stdout.flush()
    except BrokenPipeError:
        # stdout's buffer cannot be flushed at exit either: point it at /dev/null so the exit is silent
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0) from None


def _colour_wanted() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


_COLOURS = {"good": "\x1b[32m", "bad": "\x1b[31m"}


def _style():
    if not _colour_wanted():
        return text.no_style
    return lambda s, kind: f"{_COLOURS[kind]}{s}\x1b[0m" if kind in _COLOURS else s


def _continuous(args, cfg: Config, wh: Warehouse) -> int:
    """Redraw every --interval seconds, counted from the end of the previous cycle; Ctrl+C stops with exit 0.

    When the warehouse fails, the last good figures stay, marked stale with the reason. With --format json each
    cycle writes one JSON document on one line: the figures, with `stale: {since, reason}` while they are the last
    good ones, or `{checked_at, warehouse, error}` while there are none yet.
    """
    last_good = LastGood()
    catalog = snapshot.CatalogCache()  # which tables exist, reused across cycles for a while
    redraw = args.format == "text" and _colour_wanted()  # in place on a terminal; appended when piped
    while True:
        try:
            snap, error = snapshot.fetch(cfg, wh, catalog_cache=catalog), None
        except Exception as exc:  # keep going: the next cycle may succeed
            snap, error = None, f"{exc.__class__.__name__}: {exc}"
        shown, stale = last_good.update(snap, error)
        notice = f"Figures {stale.badge()}. Retrying every {args.interval} s." if stale else None
        if args.format == "json":  # one line every cycle, so a reader can tell "down" from "nothing new"
            if shown is None:
                doc = {"checked_at": report.iso(snapshot.resolve_now()), "warehouse": wh.label, "error": error}
            else:
                doc = report.to_json(progress.compute(shown, cfg, args.season), cfg)
                if stale:
                    doc["stale"] = {"since": report.iso(stale.since), "reason": stale.reason}
            _write(_json(doc) + "\n")
        else:
            if shown is None:
                body = f"error: {sanitize.printable(error or 'the warehouse could not be read')}"
            else:
                body = _output(args, cfg, progress.compute(shown, cfg, args.season), notice)
            footer = f"Next refresh in {args.interval} s (Ctrl+C to stop)"
            _write(("\x1b[H\x1b[2J" if redraw else "") + body + "\n" + footer + ("\n" if redraw else "\n\n"))
        time.sleep(args.interval)


def gate_exit(fig: progress.Figures, phase: str | None) -> int:
    rows = fig.phases if phase is None else fig.phases[fig.phases["phase"] == phase]
    gates = list(rows["gate"])
    if any(g is None for g in gates):
        return 3
    return 0 if all(g == "pass" for g in gates) else 1
