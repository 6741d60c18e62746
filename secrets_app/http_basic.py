"""HTTP Basic credentials of a request from an outside system (Azure DevOps service hooks and
Invoke REST API checks authenticate this way)."""

from __future__ import annotations

import base64
import binascii


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(username, password) from an ``Authorization: Basic …`` header value; None when it is not a
    well-formed Basic header (not base64, not UTF-8, no colon)."""
    if not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None
