"""Data fit for JSON that any parser accepts, whatever a result holds.

``json.dumps`` writes a lone surrogate (from a file name read with ``surrogateescape``, an old
gradebook row) as ``"\\udcff"``, which strict parsers refuse, and a NaN or an infinity as
``NaN``/``Infinity``, which is not JSON at all. ``json_safe`` replaces both before anything is
written: strings become valid Unicode, non-finite numbers become ``None``.
"""

from __future__ import annotations

import json
import math

from grader.text import valid_unicode


def json_safe(value):
    """A copy of ``value`` (dicts, lists, tuples, strings, numbers, None) that ``json.dumps``
    turns into valid JSON: strings valid Unicode, NaN and infinities as None, keys as strings."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {json_safe(k if isinstance(k, str) else str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return valid_unicode(str(value))


def dumps(value, **options) -> str:
    """``json.dumps`` of ``json_safe(value)``, refusing NaN outright (there can be none left)."""
    return json.dumps(json_safe(value), allow_nan=False, **options)
