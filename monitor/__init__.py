"""Backfill Progress Monitor: the figures (monitor.progress), their sources and the terminal twin."""

import signal
import sys
import threading


def _stop_quietly(signum, frame):
    print("\nStopped.", file=sys.stderr)
    raise SystemExit(0 if "--continuous" in sys.argv[1:] else 130)


def _run_as_the_terminal_twin() -> bool:
    argv = sys.orig_argv
    return any(a == "-m" and argv[i + 1:i + 2] == ["monitor"] for i, a in enumerate(argv[:-1]))


# `python -m monitor` imports this package, then compiles and starts monitor/__main__.py, whose try/except
# turns Ctrl+C into "Stopped."; a Ctrl+C in between (a loaded machine makes the gap long) would print a
# traceback. __main__ puts Python's own handler back first thing.
if threading.current_thread() is threading.main_thread() and _run_as_the_terminal_twin():
    signal.signal(signal.SIGINT, _stop_quietly)
