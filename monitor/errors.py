"""Reading the run history's `errors` value, whatever shape it arrives in.

Real failures write a JSON array of {error_type, error_message, timestamp}; the cleanup
job writes an object with cleanup_reason; older rows hold a plain string; some rows
hold NULL, '' or []. Text that is not JSON at all is kept as the message.
"""

from __future__ import annotations

import json
from typing import Any


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _from_item(item: Any) -> tuple[str, str]:
    if isinstance(item, dict):
        etype = _text(item.get("error_type") or item.get("type") or "")
        message = _text(item.get("error_message") or item.get("message") or "")
        if not etype and not message:
            message = _text(item)
        return etype, message
    return "", _text(item)


def parse_errors(raw: Any, failure_category: Any = None, cleanup_reason: Any = None) -> tuple[str, str]:
    """(error type, error message) for one failed run; never raises.

    The type falls back to failure_category, then cleanup_reason. Several array items
    give the first item's type and every message joined with ' | '.
    """
    value = raw
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        stripped = raw.strip()
        try:
            value = json.loads(stripped) if stripped else None
        except ValueError:
            value = stripped
    if isinstance(value, str) and value.strip()[:1] in ("[", "{"):  # JSON kept as text: a text column, or a JSON string
        try:
            value = json.loads(value)
        except ValueError:
            pass
    etype, messages = "", []
    if isinstance(value, list):
        for item in value:
            t, m = _from_item(item)
            etype = etype or t
            if m:
                messages.append(m)
    elif isinstance(value, dict):
        etype, m = _from_item(value)
        messages = [m] if m else []
    elif value is not None and value != "":
        messages = [_text(value)]
    fallback = next((str(v) for v in (failure_category, cleanup_reason) if isinstance(v, str) and v), "")
    return etype or fallback, " | ".join(messages)
