"""The one rule for how deeply a JSON request body may nest, shared by the native API's parser
(secrets_app/api/parsers.py) and the compat adapter (secrets_app/compat/http.py).

Python's JSON decoder recurses once per level: ``[`` × 10,000 raises RecursionError, which used to
surface as a 500. No request of ours nests more than a handful of levels, so bodies deeper than
``MAX_JSON_DEPTH`` are refused before they are decoded, with a message that says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 64

# A JSON string, escapes included (the "unrolled loop" form: no backtracking), and one bracket.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JSONTooDeep(ValueError):
    """The body nests arrays/objects deeper than MAX_JSON_DEPTH."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def json_depth_check(text: str, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Raises JSONTooDeep when ``text`` opens more than ``limit`` arrays/objects at once.

    Linear in the text; brackets inside strings do not count. Malformed text is left for the
    decoder to report."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be too deep: the usual small body costs two counts
    depth = 0
    # Strings are removed first, so brackets inside them are not counted.
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                raise JSONTooDeep(limit)
        else:
            depth -= 1


def json_loads_bounded(text: str | bytes, *, limit: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with the depth rule. Raises JSONTooDeep, or ValueError / UnicodeDecodeError for
    text that is not JSON."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    json_depth_check(text, limit=limit)
    return json.loads(text)
