from pathlib import Path

import pytest

from monitor import config
from tests.bq_emulator import bq_endpoint  # noqa: F401 - the session's BigQuery emulator (tests/bq_emulator.py)

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def cfg():
    """The small hand-worked pipeline of test_progress.py."""
    return config.load(HERE / "small_pipeline.toml")
