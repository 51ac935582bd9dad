"""python -m monitor: the terminal twin. Ctrl+C at any moment, even while starting up, stops without a traceback:
"Stopped." on stderr, exit 0 for --continuous (stopping it is how it ends) and 130 for a single check."""

import signal
import sys

signal.signal(signal.SIGINT, signal.default_int_handler)  # monitor/__init__.py covered the start-up until here
try:
    from monitor.cli import main

    code = main()
except KeyboardInterrupt:
    print("\nStopped.", file=sys.stderr)
    code = 0 if "--continuous" in sys.argv[1:] else 130
sys.exit(code)
