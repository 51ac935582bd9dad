"""Text from the warehouse made safe for where it goes: a terminal, or a CSV file opened in a spreadsheet.

Error messages, error types and run ids come from whatever wrote the run history; they may hold escape codes (a
terminal acts on them: clear the screen, recolour, retitle the window) or start like a formula (a spreadsheet
runs `=HYPERLINK(...)`). JSON needs neither: its encoder escapes control characters and nothing evaluates it.
"""

from __future__ import annotations

import re

import pandas as pd

# line breaks (the Unicode line and paragraph separators too: some viewers break lines on them) and tabs
_WHITESPACE = re.compile(r"[\t\n\r\v\f\u2028\u2029]")
# the bidirectional overrides that reorder what is shown, and the zero-width characters that hide text or make
# two different names look the same
_INVISIBLE = r"\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff"
_CONTROL = re.compile(rf"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")  # C0/C1 controls too
_FORMULA_START = ("=", "+", "-", "@")


def printable(value: str) -> str:
    """`value` safe to print in a terminal: line breaks and tabs become spaces, every other control character shows
    as its escape (\\x1b), so nothing in the data can act on the terminal."""
    return _CONTROL.sub(_escape, _WHITESPACE.sub(" ", value))


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_HIDDEN = re.compile(rf"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")  # as _CONTROL, but tabs and line breaks


def visible(value: str) -> str:
    """`value` for a browser: line breaks and tabs kept, every character that would hide text or reorder it
    (a right-to-left override makes `abc\\u202etxt.exe` read `abcexe.txt`) shown as its escape."""
    return _HIDDEN.sub(_escape, value)


def cell(value: str) -> str:
    """`value` for a CSV cell: printable, and a leading quote on text a spreadsheet would take for a formula."""
    value = printable(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def texts(frame: pd.DataFrame | None, clean=printable) -> pd.DataFrame | None:
    """`frame` with `clean` applied to every text cell."""
    if frame is None:
        return None
    columns = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, str)).any()]
    return frame.assign(**{c: frame[c].map(lambda v: clean(v) if isinstance(v, str) else v) for c in columns})


def csv_text(frame: pd.DataFrame) -> str:
    """`frame` as CSV text whose cells are safe in a terminal and in a spreadsheet (`cell`)."""
    return texts(frame, cell).to_csv(index=False)
