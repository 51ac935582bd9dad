"""A session-scoped local BigQuery emulator (bqemulator, installed in .venv-bq by scripts/bq_emulator.sh).

`bq_endpoint` starts `bqemulator start` on free loopback ports, waits until its REST API answers,
yields `http://127.0.0.1:PORT` and stops it at the end of the session. Set BQ_EMULATOR_ENDPOINT to
use an emulator that is already running instead (the TZ parity test hands its own to a subprocess).

When .venv-bq is missing the BigQuery tests skip locally, with the command to install it; in CI
(CI=true) they fail instead, so a broken install can never turn into a green run that tested nothing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EMULATOR = ROOT / ".venv-bq" / "bin" / "bqemulator"
ENDPOINT_ENV = "BQ_EMULATOR_ENDPOINT"
START_TIMEOUT_S = 60.0
DEFAULT_PROJECT = "demo"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/{DEFAULT_PROJECT}/datasets", timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the test process dies, even if it is killed hard."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_emulator(log: Path) -> tuple[subprocess.Popen, str]:
    """Start the emulator on free loopback ports; retry on a port race. Raises RuntimeError with the log tail."""
    last = ""
    for _ in range(3):
        rest, grpc = _free_port(), _free_port()
        endpoint = f"http://127.0.0.1:{rest}"
        with open(log, "ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own executable, fixed arguments
                [str(EMULATOR), "start", "--rest-host", "127.0.0.1", "--rest-port", str(rest),
                 "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc), "--project", DEFAULT_PROJECT,
                 "--log-level", "warning"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(endpoint):
                return proc, endpoint
            time.sleep(0.1)
        stop_emulator(proc)
        last = _tail(log)
    raise RuntimeError(f"the BigQuery emulator did not start; log {log}:\n{last}")


def stop_emulator(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def bq_endpoint(tmp_path_factory):
    """The REST endpoint of a running emulator, e.g. http://127.0.0.1:40123."""
    given = os.environ.get(ENDPOINT_ENV)
    if given:
        yield given
        return
    if not EMULATOR.exists():
        reason = f"BigQuery emulator not installed ({EMULATOR.relative_to(ROOT)} missing): run bash scripts/bq_emulator.sh"
        if in_ci():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("bq_emulator") / "bqemulator.log"
    started = time.perf_counter()
    try:
        proc, endpoint = start_emulator(log)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"\nBigQuery emulator up at {endpoint} in {time.perf_counter() - started:.1f} s")
    try:
        yield endpoint
    finally:
        stop_emulator(proc)


def fresh_project(prefix: str = "test") -> str:
    """A new project id, so tests sharing one emulator never see each other's tables."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
