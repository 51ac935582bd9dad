"""The run history's `errors` value in every shape it arrives in."""

import json

import pytest

from monitor.errors import parse_errors


@pytest.mark.parametrize("raw, category, cleanup, expected", [
    (None, None, None, ("", "")),
    ("", None, None, ("", "")),
    ("[]", "timeout", None, ("timeout", "")),
    ('[{"error_type": "ValidationError", "error_message": "Missing data", "timestamp": "t"}]', None, None,
     ("ValidationError", "Missing data")),
    # several items: the first type, every message
    ('[{"error_type": "A", "error_message": "one"}, {"error_type": "B", "error_message": "two"}]', None, None, ("A", "one | two")),
    # a mixed array: an object, a bare string, a number
    ('[{"error_message": "m"}, "plain", 3]', "upstream_failure", None, ("upstream_failure", "m | plain | 3")),
    ('{"cleanup_reason": "stale_running_cleanup", "message": "stuck 4h"}', None, "stale_running_cleanup",
     ("stale_running_cleanup", "stuck 4h")),
    ('"an old plain string"', None, None, ("", "an old plain string")),
    ("not json {", "unknown", None, ("unknown", "not json {")),
    ('{"odd": 1}', None, None, ("", '{"odd": 1}')),
    ("<script>alert(1)</script>", None, None, ("", "<script>alert(1)</script>")),
    # JSON kept as text (a VARCHAR errors column reaches us as a JSON string): read as the JSON it holds
    ('"[{\\"error_type\\": \\"Timeout\\", \\"error_message\\": \\"slow\\"}]"', None, None, ("Timeout", "slow")),
    # text that only looks like JSON stays the message, typed by its category
    ('"[{broken"', "processing_error", None, ("processing_error", "[{broken")),
])
def test_parse_errors(raw, category, cleanup, expected):
    assert parse_errors(raw, category, cleanup) == expected


def test_a_megabyte_message_is_kept_whole():
    big = "x" * 1_000_000
    assert parse_errors(json.dumps([{"error_type": "Big", "error_message": big}])) == ("Big", big)
