from pathlib import Path

import pytest

from monitor import config

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def cfg():
    """The small hand-worked pipeline of test_progress.py."""
    return config.load(HERE / "small_pipeline.toml")
