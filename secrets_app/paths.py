"""Canonical folder paths and segment-based path globs.

A canonical path is ``/`` or ``/seg/seg`` where each segment is NFC-normalised, non-empty, not
``.``/``..`` and made of letters, digits, ``-`` and ``_``. Authorization compares segments, never
string prefixes, so a grant on ``/app`` can never reach ``/app-other``.
"""

from __future__ import annotations

import fnmatch
import re
import unicodedata

from secrets_app.errors import ValidationFailed

# \Z, not $: "$" also matches before a trailing newline, which let "app\n" through as a name.
SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
MAX_PATH_LENGTH = 1024
MAX_DEPTH = 20


def canonical_path(raw: str | None, *, field: str = "path") -> str:
    """Return the canonical form of *raw* or raise ValidationFailed naming *field*."""
    text = unicodedata.normalize("NFC", (raw or "/").strip())
    if len(text) > MAX_PATH_LENGTH:
        raise ValidationFailed(field, f"must be at most {MAX_PATH_LENGTH} characters")
    if not text.startswith("/"):
        text = "/" + text
    segments = [segment for segment in text.split("/")[1:]]
    if segments and segments[-1] == "":
        segments = segments[:-1]  # one trailing slash is tolerated: "/app/" == "/app"
    if len(segments) > MAX_DEPTH:
        raise ValidationFailed(field, f"must be at most {MAX_DEPTH} folders deep")
    for segment in segments:
        if not SEGMENT_RE.match(segment):
            raise ValidationFailed(
                field, "each folder name must be 1-64 letters, digits, '-' or '_' (no '..', empty parts or wildcards)"
            )
    return "/" + "/".join(segments)


def path_segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def join_path(parent: str, name: str) -> str:
    return "/" + "/".join([*path_segments(parent), name])


def parent_path(path: str) -> str:
    return "/" + "/".join(path_segments(path)[:-1])


def _match_segments(pattern: list[str], segments: list[str]) -> bool:
    if not pattern:
        return not segments
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match_segments(rest, segments[index:]) for index in range(len(segments) + 1))
    if not segments:
        return False
    return fnmatch.fnmatchcase(segments[0], head) and _match_segments(rest, segments[1:])


def path_matches(glob: str, path: str) -> bool:
    """Segment glob: ``*`` is one segment (or part of one), ``**`` any number of segments.
    ``/app/**`` matches ``/app`` and everything below it; ``/app`` matches only ``/app``."""
    return _match_segments(path_segments(glob), path_segments(path))


def validate_path_glob(glob: str, *, field: str = "path") -> str:
    text = unicodedata.normalize("NFC", (glob or "/**").strip())
    if not text.startswith("/"):
        raise ValidationFailed(field, "must start with '/'")
    for segment in path_segments(text):
        if segment in {".", ".."} or not re.match(r"^[A-Za-z0-9_*?\-]{1,64}\Z", segment):
            raise ValidationFailed(field, "glob segments may use letters, digits, '-', '_', '*' and '?'")
    return "/" + "/".join(path_segments(text)) if path_segments(text) else "/"
