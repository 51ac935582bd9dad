"""The one validator for every name that reaches SQL text.

Values always travel as query parameters; names (projects, datasets, tables,
columns) cannot, so they must match these patterns before they are quoted into SQL.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")  # Google Cloud's rule: 6-30 characters
EMULATOR_PROJECT_ID = re.compile(r"[a-z](?:[a-z0-9-]{0,28}[a-z0-9])?")  # a local emulator also takes `demo`
JOB_PATH = re.compile(r"[a-z_]+/[a-z_]+")
SEASON_NAME = re.compile(r"\d{4}-\d{2}")


def checked(name: str, pattern: re.Pattern = IDENTIFIER) -> str:
    """Return `name` if it matches `pattern`; otherwise raise ValueError."""
    if not isinstance(name, str) or not pattern.fullmatch(name):
        raise ValueError(f"refusing unsafe identifier {name!r}")
    return name
