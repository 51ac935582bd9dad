"""Refresh cost, measured side by side: the usage guide's query pattern (guide_baseline.py) against our snapshot.

    python benchmarks/refresh.py                       # demo + emulator (+110 ms/request) + page renders
    python benchmarks/refresh.py --scaled              # ... and the scaled DuckDB warehouse (generated once, ~2 min)
    python benchmarks/refresh.py --quick               # the demo only, one sample each (the test suite's smoke run)
    python benchmarks/refresh.py --warehouses scaled --runs 5 --write-readme

On each warehouse both approaches run through the same engine (the Warehouse protocol's `query`):
- cold: a fresh Python process opens the warehouse and runs one refresh (imports and opening are reported
  apart); the median over `--runs` processes;
- warm: further refreshes in the same process; ours also with the catalog cached (snapshot.CatalogCache, as
  the app keeps it);
- a refresh of ours is snapshot.fetch + progress.compute of every figure; the baseline's is its 58 queries;
- queries issued; HTTP requests (emulator: counted by the latency proxy); peak memory (the process's max RSS);
  bytes: what BigQuery would bill on-demand, estimated from the same rows (bytes_model.py), since DuckDB
  reports no bytes and the emulator reports 0;
- emulator: the frozen demo loaded into bqemulator, each table partitioned by its date column; raw, and with
  a loopback proxy adding a fixed delay to every HTTP request (`--delay-ms`, default 110: BigQuery's round trip).
Page render: AppTest on the demo, the time from a warm cache to a finished run of each page, and a season
switch (which must run no query).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

EMULATOR_PROJECT = "bench-demo"
PAGES = ("overview", "tables", "seasons", "failures")
README = HERE / "README.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"


# --- in a fresh process ----------------------------------------------------------------


def child(spec: dict) -> dict:
    """One process: open the warehouse, one cold refresh, then warm ones; prints its figures as JSON."""
    t0 = time.perf_counter()
    import guide_baseline
    from latency_proxy import LatencyProxy

    from monitor import config as config_mod
    from monitor import progress, snapshot
    from monitor.warehouse import open_warehouse
    from monitor.warehouse.bigquery import BigQueryWarehouse

    import_s = time.perf_counter() - t0
    proxy = None
    cfg = config_mod.load(spec["config"])
    now = _parse_time(spec["now"])
    t1 = time.perf_counter()
    if spec.get("upstream"):
        proxy = LatencyProxy(spec["upstream"], spec.get("delay_ms", 0) / 1000).start()
        wh = BigQueryWarehouse(spec["project"], endpoint=proxy.endpoint, partition_metadata=spec.get("partitions", False))
    else:
        wh = open_warehouse(spec["url"])
    open_s = time.perf_counter() - t1
    deadline = spec.get("deadline_s", 600.0)

    def sample(fn) -> dict:
        if proxy:
            proxy.reset()
        started = time.perf_counter()
        out = fn()
        out["s"] = time.perf_counter() - started
        if proxy:
            out["requests"] = proxy.requests
        return out

    def ours(cache=None) -> dict:
        snap = snapshot.fetch(cfg, wh, now=now, deadline_s=deadline, catalog_cache=cache)
        fetched = time.perf_counter()
        progress.compute(snap, cfg)
        return {"queries": snap.queries, "errors": snap.errors, "fetch_s": snap.elapsed_s,
                "compute_s": time.perf_counter() - fetched, "sources": sorted(set(snap.coverage_sources.values())),
                "failed_sections": [n for n in ("catalog", "coverage", "runs") if not getattr(snap, n).ok]}

    def baseline() -> dict:
        r = guide_baseline.run(cfg, wh, now)
        return {"queries": r.queries, "failed_queries": r.failed}

    if spec["approach"] == "baseline_plain":  # the guide's own client calls, through the same proxy
        wh.close()
        wh = guide_baseline.PlainClient(spec["project"], proxy.endpoint)
    fn = ours if spec["approach"] == "ours" else baseline
    result = {"import_s": import_s, "open_s": open_s, "cold": sample(fn)}
    result["warm"] = [sample(fn) for _ in range(spec.get("warm", 3))]
    if spec["approach"] == "ours" and spec.get("cached", True):
        cache = snapshot.CatalogCache()
        ours(cache)  # fills the cache
        result["cached"] = [sample(lambda: ours(cache)) for _ in range(max(1, spec.get("warm", 3)))]
    result["peak_rss_mb"] = peak_rss_mb()
    if proxy:
        proxy.stop()
    wh.close()
    return result


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not getrusage's ru_maxrss: Linux carries that across exec,
    so a child started by a parent that once held gigabytes (building the scaled warehouse) reports the parent's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_pages(spec: dict) -> dict:
    """AppTest on one warehouse: each page's run from a warm cache, and a season switch, with the queries they ran."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from monitor import snapshot

    calls = {"n": 0}
    fetch = snapshot.fetch

    def counting(*args, **kwargs):
        calls["n"] += 1
        return fetch(*args, **kwargs)

    snapshot.fetch = counting
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()  # cold: builds the connection and the shared snapshot
    assert not at.exception, [e.value for e in at.exception]
    out = {"pages": {}}
    for page in PAGES:
        before = calls["n"]
        started = time.perf_counter()
        at.switch_page(f"pages/{page}.py").run()  # first visit of the page in this session
        first = time.perf_counter() - started
        times = []
        for _ in range(spec.get("repeat", 5)):
            started = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - started)
            assert not at.exception, [e.value for e in at.exception]
        out["pages"][page] = {"ms": [t * 1000 for t in times], "first_ms": first * 1000, "refreshes": calls["n"] - before}
    at.switch_page("pages/overview.py").run()
    season = next(s for s in at.selectbox(key="season").options if s != "All")
    before = calls["n"]
    started = time.perf_counter()
    at.selectbox(key="season").set_value(season).run()
    out["season_switch"] = {"ms": (time.perf_counter() - started) * 1000, "refreshes": calls["n"] - before,
                            "season": season}
    assert not at.exception, [e.value for e in at.exception]
    return out


def _parse_time(text: str):
    import datetime as dt

    return dt.datetime.fromisoformat(text)


# --- the parent ----------------------------------------------------------------------------


def run_child(spec: dict, env: dict, pages: bool = False, timeout: float = 3600) -> dict:
    args = [sys.executable, str(Path(__file__).resolve()), "--child-pages" if pages else "--child", json.dumps(spec)]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False)  # noqa: S603
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}): {proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def measure(label: str, warehouse: str, approach: str, spec: dict, env: dict, runs: int, log) -> dict:
    samples = []
    for i in range(runs):
        log(f"  {warehouse} / {label}: process {i + 1} of {runs}")
        samples.append(run_child({**spec, "approach": approach}, env))
    cold = [s["cold"] for s in samples]
    warm = [w for s in samples for w in s["warm"]]
    cached = [w for s in samples for w in s.get("cached", [])]

    def med(items, key="s"):
        values = [x[key] for x in items if key in x]
        return statistics.median(values) if values else None

    row = {
        "warehouse": warehouse, "approach": label, "kind": approach, "runs": runs,
        "queries": cold[0]["queries"], "requests": cold[0].get("requests"),
        "cached_queries": cached[0]["queries"] if cached else None,
        "cached_requests": cached[0].get("requests") if cached else None,
        "cold_s": med(cold), "warm_s": med(warm), "cached_s": med(cached),
        "compute_s": med(warm or cold, "compute_s"),
        "import_s": statistics.median(s["import_s"] for s in samples),
        "open_s": statistics.median(s["open_s"] for s in samples),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
        "errors": cold[0].get("errors") or {}, "sources": cold[0].get("sources"),
        "failed": cold[0].get("failed_sections") or cold[0].get("failed_queries"),
    }
    return row


def bytes_estimates(path: Path, cfg, log) -> dict[str, int]:
    """Estimated BigQuery bytes billed per refresh, per approach, on the rows of `path` (empty if it fails)."""
    try:
        return _bytes_estimates(path, cfg)
    except Exception as exc:  # an estimate is a nicety: never lose the measurements to it
        log(f"  bytes estimate failed: {exc.__class__.__name__}: {exc}")
        return {}


def _bytes_estimates(path: Path, cfg) -> dict[str, int]:
    from bytes_model import Model

    model = Model(path, cfg)
    try:
        existing = [t.key for t in cfg.tables if t.key in model.types]
        candidates = [t.key for t in cfg.tables if t.coverage != "scan"]  # partitioned by day in this layout
        scan_only = [k for k in existing if k not in candidates]
        return {
            "baseline": model.billed(model.baseline_jobs()),
            "ours (scan)": model.billed(model.ours_jobs(existing, catalog=True, partitions_job=False)),
            "ours (scan), catalog cached": model.billed(model.ours_jobs(existing, catalog=False, partitions_job=False)),
            "ours (partitions)": model.billed(model.ours_jobs(scan_only, catalog=True, partitions_job=True)),
            "ours (partitions), catalog cached": model.billed(model.ours_jobs(scan_only, catalog=False, partitions_job=True)),
        }
    finally:
        model.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouses", default="demo,emulator", help="comma list of demo, emulator, scaled (default demo,emulator)")
    parser.add_argument("--scaled", action="store_true", help="add the scaled DuckDB warehouse (generated on first use)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per measurement (cold samples; default 3)")
    parser.add_argument("--warm", type=int, default=3, help="warm refreshes per process (default 3)")
    parser.add_argument("--delay-ms", type=float, default=110.0, help="latency added per HTTP request to the emulator (default 110)")
    parser.add_argument("--emulator", help="use this running emulator (http://127.0.0.1:PORT) instead of starting one")
    parser.add_argument("--emulator-partitions", choices=("on", "off"), default="on",
                        help="also time the emulator reading INFORMATION_SCHEMA.PARTITIONS (one sample; slow there)")
    parser.add_argument("--no-pages", action="store_true", help="skip the page renders")
    parser.add_argument("--quick", action="store_true", help="the demo only, one process, one warm refresh, no bytes model, no pages")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "benchmarks", help="where the warehouses are kept")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    parser.add_argument("--write-readme", action="store_true", help="put the table into benchmarks/README.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-pages", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    if args.child_pages:
        print(json.dumps(child_pages(json.loads(args.child_pages))))
        return 0

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    import warehouses as whs

    from monitor import config as config_mod

    wanted = [w.strip() for w in args.warehouses.split(",") if w.strip()]
    if args.scaled and "scaled" not in wanted:
        wanted.append("scaled")
    if args.quick:
        wanted, args.runs, args.warm, args.no_pages = ["demo"], 1, 1, True
    unknown = set(wanted) - {"demo", "emulator", "scaled"}
    if unknown:
        parser.error(f"unknown warehouse(s): {', '.join(sorted(unknown))}")
    args.cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    nba = config_mod.load()
    demo_path = whs.demo_file(args.cache)
    base_env = {**os.environ, "BACKFILL_DEMO_PATH": str(demo_path), "BACKFILL_NOW": whs.DEMO_NOW.isoformat(),
                "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    base_env.pop("BACKFILL_CONFIG", None)
    base_env.pop("BACKFILL_WAREHOUSE", None)
    rows, extra = [], {"bytes": {}}
    demo_spec = {"url": "demo", "config": None, "now": whs.DEMO_NOW.isoformat(), "warm": args.warm}
    frozen = None if args.quick else whs.frozen_demo(args.cache)

    if "demo" in wanted:
        log("demo (DuckDB, the live demo at a fixed clock)")
        for label, approach in (("baseline (guide)", "baseline"), ("ours", "ours")):
            rows.append(measure(label, "demo (DuckDB)", approach, demo_spec, base_env, args.runs, log))
        if frozen:
            extra["bytes"]["demo"] = bytes_estimates(frozen, nba, log)

    if "emulator" in wanted:
        rows += emulator_rows(args, frozen or whs.frozen_demo(args.cache), base_env, log)
        if "demo" not in extra["bytes"]:
            extra["bytes"]["demo"] = bytes_estimates(frozen, nba, log)

    if "scaled" in wanted:
        import scaled

        path = args.cache / "scaled.duckdb"
        if not (path.is_file() and path.with_suffix(".toml").is_file()):
            log("generating the scaled warehouse (20 seasons x 50 tables, 10 M run-history rows)...")
            t = time.perf_counter()
            scaled.build(path, log=log)
            extra["scaled_build_s"] = time.perf_counter() - t
        spec = {"url": f"duckdb:{path}", "config": str(path.with_suffix(".toml")), "now": scaled.NOW.isoformat(),
                "warm": args.warm}
        log("scaled (DuckDB)")
        for label, approach in (("baseline (guide)", "baseline"), ("ours", "ours")):
            rows.append(measure(label, "scaled (DuckDB)", approach, spec, base_env, args.runs, log))
        extra["bytes"]["scaled"] = bytes_estimates(path, config_mod.load(path.with_suffix(".toml")), log)

    if not args.no_pages:
        log("page renders (AppTest, the demo)")
        env = {**base_env, "BACKFILL_WAREHOUSE": "demo"}
        extra["pages"] = run_child({"repeat": 5}, env, pages=True)

    extra["total_s"] = time.perf_counter() - started
    text = render(rows, extra, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, **extra}, indent=2, default=str))
    if args.write_readme:
        write_readme(text)
    return 0


def emulator_rows(args, frozen: Path, env: dict, log) -> list[dict]:
    import warehouses as whs

    from tests.bq_emulator import EMULATOR, start_emulator, stop_emulator

    proc = None
    endpoint = args.emulator or os.environ.get("BQ_EMULATOR_ENDPOINT")
    if not endpoint:
        if not EMULATOR.exists():
            log("emulator not installed (bash scripts/bq_emulator.sh): skipped")
            return []
        log("starting the emulator...")
        proc, endpoint = start_emulator(args.cache / "bqemulator.log")
    rows = []
    try:
        log("loading the frozen demo into the emulator...")
        t = time.perf_counter()
        project = f"{EMULATOR_PROJECT}-{uuid.uuid4().hex[:8]}"  # a project of its own, even on a shared emulator
        whs.load_emulator(endpoint, project, frozen)
        log(f"  loaded in {time.perf_counter() - t:.0f} s")
        spec = {"config": None, "now": whs.DEMO_NOW.isoformat(), "upstream": endpoint, "warm": args.warm, "project": project}
        for delay in (0.0, args.delay_ms):
            name = "emulator (raw)" if not delay else f"emulator (+{delay:g} ms/request)"
            log(name)
            for label, approach in (("baseline (guide)", "baseline"), ("baseline (guide, plain client)", "baseline_plain"),
                                    ("ours", "ours")):
                runs = args.runs if approach == "ours" or not delay else max(1, min(args.runs, 2))
                warm = args.warm if approach == "ours" or not delay else 1
                rows.append(measure(label, name, approach, {**spec, "delay_ms": delay, "warm": warm}, env, runs, log))
            if args.emulator_partitions == "on" and delay:
                log(f"{name}: ours reading INFORMATION_SCHEMA.PARTITIONS (one sample)")
                rows.append(measure("ours, partitions on", name, "ours",
                                    {**spec, "delay_ms": delay, "warm": 0, "partitions": True}, env, 1, log))
    finally:
        if proc is not None:
            stop_emulator(proc)
    return rows


# --- the table ---------------------------------------------------------------------------------


def _s(value) -> str:
    return "n/a" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def _mb(value) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.0f} MB" if value < 10 * 2**30 else f"{value / 2**30:,.1f} GB"


def render(rows: list[dict], extra: dict, args) -> str:
    lines = [
        "| warehouse | approach | queries | HTTP requests | cold s | warm s | warm s, catalog cached | compute s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cached = "" if r["cached_s"] is None else f"{_s(r['cached_s'])} ({r['cached_queries']} q)"
        requests = "" if r["requests"] is None else str(r["requests"])
        if r["cached_requests"] is not None:
            requests += f" / {r['cached_requests']} cached"
        compute = _s(r["compute_s"]) if r["kind"] == "ours" else ""
        lines.append(f"| {r['warehouse']} | {r['approach']} | {r['queries']} | {requests} | {_s(r['cold_s'])} | "
                     f"{_s(r['warm_s'])} | {cached} | {compute} | {r['peak_rss_mb']:.0f} |")
    out = ["### Refresh", "", *lines, ""]
    ratios = []
    by = {(r["warehouse"], r["approach"]): r for r in rows}
    for (warehouse, approach), r in by.items():
        if approach != "ours":
            continue
        for b in (x for x in rows if x["warehouse"] == warehouse and x["kind"].startswith("baseline")):
            parts = [f"cold {b['cold_s'] / r['cold_s']:.1f}x", f"warm {b['warm_s'] / r['warm_s']:.1f}x"]
            if r["cached_s"]:
                parts.append(f"catalog cached {b['warm_s'] / r['cached_s']:.1f}x")
            parts.append(f"queries {b['queries']} -> {r['queries']}")
            if b["requests"] and r["requests"]:
                parts.append(f"HTTP requests {b['requests']} -> {r['requests']}")
            ratios.append(f"- {warehouse}: {b['approach']} / ours: {', '.join(parts)}")
    if ratios:
        out += ["Ratios (baseline time / ours: above 1x ours is faster, below 1x slower):", "", *ratios, ""]
    if extra.get("bytes"):
        out += ["### Estimated BigQuery bytes billed per refresh (on-demand; bytes_model.py)", "",
                "| warehouse | baseline | ours, scan | ours, scan, catalog cached | ours, partitions | ours, partitions, catalog cached |",
                "|---|---:|---:|---:|---:|---:|"]
        for name, b in extra["bytes"].items():
            if not b:
                continue
            out.append(f"| {name} | {_mb(b['baseline'])} | {_mb(b['ours (scan)'])} | {_mb(b['ours (scan), catalog cached'])} | "
                       f"{_mb(b['ours (partitions)'])} | {_mb(b['ours (partitions), catalog cached'])} |")
        out.append("")
    if extra.get("pages"):
        p = extra["pages"]
        out += ["### Page render (AppTest, demo, warm cache)", "",
                "| page | rerun, median ms | rerun, max ms | first visit ms | refreshes run |", "|---|---:|---:|---:|---:|"]
        for page, v in p["pages"].items():
            out.append(f"| {page} | {statistics.median(v['ms']):.0f} | {max(v['ms']):.0f} | {v['first_ms']:.0f} | {v['refreshes']} |")
        s = p["season_switch"]
        out.append(f"| season switch (overview, to {s['season']}) | {s['ms']:.0f} | | | {s['refreshes']} |")
        out.append("")
    notes = []
    for r in rows:
        if r["errors"] or r["failed"]:
            notes.append(f"- {r['warehouse']} / {r['approach']}: errors {r['errors'] or r['failed']}")
        if r["kind"] == "ours" and r["sources"]:
            notes.append(f"- {r['warehouse']} / {r['approach']}: coverage from {', '.join(r['sources'])}")
    if notes:
        out += ["Notes:", "", *notes, ""]
    out.append(f"Runs: {args.runs} fresh process(es) per row (cold = median of their first refresh), "
               f"{args.warm} warm refresh(es) each; whole benchmark {extra.get('total_s', 0):.0f} s.")
    return "\n".join(out)


def write_readme(text: str) -> None:
    body = README.read_text(encoding="utf-8") if README.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    if BEGIN not in body:
        body += f"\n{BEGIN}\n{END}\n"
    head, rest = body.split(BEGIN, 1)
    tail = rest.split(END, 1)[1] if END in rest else ""
    README.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
