import os
import shutil
import tempfile
from pathlib import Path

import pytest

from monitor import config
from tests.bq_emulator import bq_endpoint  # noqa: F401 - the session's BigQuery emulator (tests/bq_emulator.py)

HERE = Path(__file__).parent

# The suite starts from the defaults whatever the developer's shell holds (a warehouse, a pinned clock, another
# config or demo speed, credentials), and never builds a demo in the developer's cache: tests set what they need.
for _name in ("BACKFILL_WAREHOUSE", "BACKFILL_NOW", "BACKFILL_CONFIG", "BACKFILL_DEMO_SPEED", "BACKFILL_REFRESH_S",
              "GOOGLE_APPLICATION_CREDENTIALS", "NO_COLOR"):
    os.environ.pop(_name, None)
_DEMO_DIR = tempfile.mkdtemp(prefix="backfill-tests-")
os.environ["BACKFILL_DEMO_PATH"] = str(Path(_DEMO_DIR) / "demo.duckdb")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_DEMO_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def cfg():
    """The small hand-worked pipeline of test_progress.py."""
    return config.load(HERE / "small_pipeline.toml")


# scripts/test.sh (and so CI) installs every part the tests need, so a skip there means a broken install that
# would turn into a green run testing nothing: under BACKFILL_TESTS_STRICT=1 (or CI=true) a skip is a failure.
STRICT = os.environ.get("BACKFILL_TESTS_STRICT", "") == "1" or os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped where nothing may skip (scripts/test.sh, CI): {report.longrepr}"
