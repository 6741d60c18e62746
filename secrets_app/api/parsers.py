"""The native API's one JSON parser (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"])."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding  # type: ignore[attr-defined]  # not in the stubs
from rest_framework.utils.json import strict_constant

from secrets_app.json_depth import JSONTooDeep, json_depth_check


class BoundedJSONParser(JSONParser):
    """DRF's JSONParser with the depth rule of secrets_app/json_depth.py: a body nesting deeper
    than 64 levels is a 400 that says so, never a RecursionError and a 500."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise ParseError(f"JSON parse error - the body is not valid {encoding}") from None
        try:
            json_depth_check(text)
            return json.loads(text, parse_constant=strict_constant if self.strict else None)
        except JSONTooDeep as exc:
            raise ParseError(f"JSON parse error - {exc}; a request body may nest at most {exc.limit} levels") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
