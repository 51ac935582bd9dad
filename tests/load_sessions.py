"""Load: N concurrent app sessions (AppTest instances in threads) on the demo for D seconds.

Run as a script in a fresh process (the snapshot ttl is read at import from BACKFILL_REFRESH_S):
    BACKFILL_REFRESH_S=3 python tests/load_sessions.py --sessions 50 --seconds 60
Prints one JSON object: runs, errors, warehouse refreshes, cache expiries, memory figures.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

APP = str(Path(__file__).parent.parent / "app.py")
PAGES = ["pages/overview.py", "pages/tables.py", "pages/seasons.py", "pages/failures.py"]


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()

    from streamlit.runtime import Runtime
    from streamlit.testing.v1 import AppTest

    from monitor import data, snapshot

    # AppTest was written for one run at a time: each run installs a mock Runtime and sets it back to None at the
    # end, which pulls the runtime from under runs still going in other threads. Keep the first mock for everyone.
    shared: list = []
    original_instance = Runtime.instance.__func__

    def instance(cls):
        if cls._instance is not None and not shared:
            shared.append(cls._instance)
        return cls._instance or (shared[0] if shared else original_instance(cls))

    Runtime.instance = classmethod(instance)

    # CPython 3.11's ast.parse is not safe in concurrent threads ("AST constructor recursion depth mismatch");
    # AppTest compiles the script on every run, where a real server compiles it once. Serialise compiling only.
    import ast

    parse, parse_lock = ast.parse, threading.Lock()

    def locked_parse(*a, **k):
        with parse_lock:
            return parse(*a, **k)

    ast.parse = locked_parse
    Runtime.exists = classmethod(lambda cls: cls._instance is not None or bool(shared))

    # Each AppTest run also swaps streamlit's config.get_option for a mock that answers global.appTest = True
    # (unittest.mock.patch), and puts the previous one back at its end. Runs in other threads then see the
    # original again mid-run, skip saving their widgets' test data, and their next run fails on a KeyError.
    # Install that override once, for the whole process, instead.
    import contextlib

    from streamlit import config as st_config
    from streamlit.testing.v1 import app_test, util

    st_config.get_option = util.build_mock_config_get_option({"global.appTest": True})
    app_test.patch_config_options = lambda overrides: contextlib.nullcontext()

    refreshes = []
    real_fetch = snapshot.fetch

    def counting_fetch(*a, **k):
        refreshes.append(time.monotonic())
        return real_fetch(*a, **k)

    snapshot.fetch = counting_fetch
    errors: list[str] = []
    runs = [0] * args.sessions
    memory: list[tuple[float, float]] = []
    start = time.monotonic()
    stop = start + args.seconds

    def session(i: int) -> None:
        at = AppTest.from_file(APP, default_timeout=120)
        if i % 3 == 0:
            at.query_params["season"] = "2023-24"
        n = 0
        while time.monotonic() < stop:
            try:
                if n:
                    at.switch_page(PAGES[(i + n) % len(PAGES)])
                at.run()
                if at.exception:
                    errors.append(f"session {i}: {at.exception[0].value}")
                elif not at.metric and PAGES[(i + n) % len(PAGES)] == "pages/overview.py" and n:
                    errors.append(f"session {i}: overview without figures")
            except Exception as exc:  # a crash of the run itself
                errors.append(f"session {i}: {exc.__class__.__name__}: {exc}")
            n += 1
            runs[i] = n

    def sample() -> None:
        while time.monotonic() < stop:
            memory.append((round(time.monotonic() - start, 1), round(rss_mb(), 1)))
            time.sleep(2)

    AppTest.from_file(APP, default_timeout=120).run()  # build the demo once before the clock starts
    threads = [threading.Thread(target=session, args=(i,)) for i in range(args.sessions)]
    sampler = threading.Thread(target=sample)
    start = time.monotonic()
    stop = start + args.seconds
    refreshes.clear()
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sampler.join()
    elapsed = time.monotonic() - start
    first_half = [m for t, m in memory if t <= elapsed / 2]
    second_half = [m for t, m in memory if t > elapsed / 2]
    print(json.dumps({
        "sessions": args.sessions, "seconds": round(elapsed, 1), "ttl_s": data.SNAPSHOT_TTL_S,
        "page_runs": sum(runs), "errors": len(errors), "first_errors": errors[:3],
        "refreshes": len(refreshes), "expiries": int(elapsed // data.SNAPSHOT_TTL_S) + 1,
        "rss_mb_start": memory[0][1] if memory else None, "rss_mb_end": memory[-1][1] if memory else None,
        "rss_mb_max_first_half": max(first_half, default=None), "rss_mb_max_second_half": max(second_half, default=None),
    }))


if __name__ == "__main__":
    main()
