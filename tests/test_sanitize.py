"""Warehouse text made safe for a terminal and for a spreadsheet, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from monitor import sanitize


@pytest.mark.parametrize("raw, terminal, csv", [
    ("plain text", "plain text", "plain text"),
    ("two\nlines\tand\r\nbreaks", "two lines and  breaks", "two lines and  breaks"),
    ("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
    ("nul\x00 del\x7f c1\x9b", "nul\\x00 del\\x7f c1\\x9b", "nul\\x00 del\\x7f c1\\x9b"),
    ("evil\u202etxt.exe \u2066x\u2069", "evil\\u202etxt.exe \\u2066x\\u2069", "evil\\u202etxt.exe \\u2066x\\u2069"),
    ('=HYPERLINK("http://x","y")', '=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+1 rows", "+1 rows", "'+1 rows"),
    ("-2 rows", "-2 rows", "'-2 rows"),
    ("@SUM(A1)", "@SUM(A1)", "'@SUM(A1)"),
    ("\t=1+1", " =1+1", " =1+1"),  # a leading tab becomes a space: no longer a formula
    ("a\u2028b\u2029c", "a b c", "a b c"),  # Unicode line breaks: spaces, as \n
    ("zero\u200bwidth\u200d \ufeffbom \u2060j", "zero\\u200bwidth\\u200d \\ufeffbom \\u2060j",
     "zero\\u200bwidth\\u200d \\ufeffbom \\u2060j"),  # hidden characters show as their escapes
    ("émoji 🏀 and ü", "émoji 🏀 and ü", "émoji 🏀 and ü"),  # printable text is left alone
])
def test_text_for_a_terminal_and_for_a_spreadsheet(raw, terminal, csv):
    assert sanitize.printable(raw) == terminal
    assert sanitize.cell(raw) == csv


def test_csv_text_cleans_text_cells_only():
    frame = pd.DataFrame({"n": [-1, 2], "message": ["=cmd|' /C calc'!A0", None], "when": pd.to_datetime(["2024-01-01", None])})
    assert sanitize.csv_text(frame).splitlines() == ["n,message,when", "-1,'=cmd|' /C calc'!A0,2024-01-01", "2,,"]


@pytest.mark.parametrize("raw, shown", [
    ("plain\ttext\nnext line", "plain\ttext\nnext line"),  # a browser shows these as they are
    ("abc\u202etxt.exe", "abc\\u202etxt.exe"),  # would read "abcexe.txt"
    ("a\u200bb\ufeffc\u2066d", "a\\u200bb\\ufeffc\\u2066d"),
    ("bell\x07 esc\x1b", "bell\\x07 esc\\x1b"),
    ("émoji 🏀", "émoji 🏀"),
])
def test_text_for_a_browser(raw, shown):
    assert sanitize.visible(raw) == shown
