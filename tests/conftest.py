import os
from pathlib import Path

import pytest

from monitor import config
from tests.bq_emulator import bq_endpoint  # noqa: F401 - the session's BigQuery emulator (tests/bq_emulator.py)

HERE = Path(__file__).parent


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
