"""The docs name only tests that exist: every row of docs/reliability.md is a test in CI."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)`|`(tests/[\w/]+\.py)`")


def named_tests(markdown: str) -> list[tuple[str, str]]:
    """(file, test) of every `tests/x.py::name` in the table rows; a bare `::name` belongs to the file before it."""
    found = []
    for line in markdown.splitlines():
        if not line.startswith("|"):
            continue
        current = None
        for m in REFERENCE.finditer(line):
            current = m.group(1) or m.group(3) or current
            if m.group(2):
                found.append((current, m.group(2)))
    return found


def test_named_tests_reads_bare_names_against_the_file_before_them():
    row = "| x | 1 | ok | `tests/a.py::test_one`, `::test_two`, `tests/b.py` (driver), `tests/c.py::test_three` |"
    assert named_tests(row) == [("tests/a.py", "test_one"), ("tests/a.py", "test_two"), ("tests/c.py", "test_three")]


def test_every_test_the_reliability_table_names_exists():
    named = named_tests((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8"))
    assert len(named) > 60
    missing = [(f, name) for f, name in named
               if not re.search(rf"^def {name}\(", (ROOT / f).read_text(encoding="utf-8"), re.MULTILINE)]
    assert missing == []
