"""python -m monitor: the terminal twin. Ctrl+C at any moment, even while starting up, stops without a traceback."""

import sys

try:
    from monitor.cli import main

    code = main()
except KeyboardInterrupt:
    print("\nStopped.", file=sys.stderr)
    code = 130
sys.exit(code)
