"""Segment path globs as sets of paths: membership, witnesses, containment and overlap.

``path_matches`` (in ``secrets_app.paths``) decides one path. The functions here answer questions
about *all* the paths a glob matches, which region queries and role containment need:

- ``path_witnesses(glob, under)``: concrete paths inside ``under``'s subtree that the glob matches,
  one per shape (``**`` as nothing or as one segment, wildcards filled with unlikely names), so a
  "may the caller do X somewhere here?" question becomes exact decisions at a few points;
- ``glob_subsumes(big, small)``: True only when every path ``small`` matches, ``big`` matches too
  (sound: False when unsure);
- ``globs_may_meet(a, b)``: False only when no path matches both (sound: True when unsure).
"""

from __future__ import annotations

import fnmatch
from functools import lru_cache

from secrets_app.paths import path_segments

# Names a user is unlikely to give a folder, used to stand for "any name" in a witness. Two of
# them, so a deny glob that happens to match one (``z*``) still leaves the other.
FILLERS = ("zz9w", "qx0k")
MAX_WITNESSES = 64


def _has_wildcard(segment: str) -> bool:
    return "*" in segment or "?" in segment


def _fill(segment: str, filler: str) -> str:
    return segment.replace("*", filler).replace("?", filler[0])


def _instances(glob: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Concrete segment lists the glob matches, one per shape (bounded)."""
    results: list[tuple[str, ...]] = [()]
    for segment in glob:
        if segment == "**":
            options: list[tuple[str, ...]] = [(), (FILLERS[0],), (FILLERS[1],)]
        elif _has_wildcard(segment):
            options = [(_fill(segment, filler),) for filler in FILLERS]
        else:
            options = [(segment,)]
        results = [prefix + option for prefix in results for option in options][:MAX_WITNESSES]
    return results


def _suffixes_below(glob: tuple[str, ...], prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Concrete suffixes S such that prefix + S is matched by glob."""
    if not prefix:
        return _instances(glob)
    if not glob:
        return []
    head = glob[0]
    if head == "**":
        return _suffixes_below(glob[1:], prefix) + _suffixes_below(glob, prefix[1:])
    if fnmatch.fnmatchcase(prefix[0], head):
        return _suffixes_below(glob[1:], prefix[1:])
    return []


def path_witnesses(glob: str, under: str = "/") -> list[str]:
    """Paths in the subtree of *under* (itself included) that *glob* matches, one per shape."""
    base = tuple(path_segments(under))
    seen: dict[str, None] = {}
    for suffix in _suffixes_below(tuple(path_segments(glob)), base):
        seen.setdefault("/" + "/".join(base + suffix), None)
        if len(seen) >= MAX_WITNESSES:
            break
    return list(seen)


def _segment_subsumes(big: str, small: str) -> bool:
    if big == small or big == "*":
        return True
    return not _has_wildcard(small) and fnmatch.fnmatchcase(small, big)


@lru_cache(maxsize=4096)
def _subsumes(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    if not small:
        return all(segment == "**" for segment in big)
    if not big:
        return False
    if big[0] == "**":
        # ** matches nothing here, or absorbs small's first segment (a ** of small included).
        return _subsumes(big[1:], small) or _subsumes(big, small[1:])
    if small[0] == "**":
        return False
    return _segment_subsumes(big[0], small[0]) and _subsumes(big[1:], small[1:])


def glob_subsumes(big: str, small: str) -> bool:
    """True only if every path matched by *small* is matched by *big*."""
    return _subsumes(tuple(path_segments(big)), tuple(path_segments(small)))


def _segments_may_meet(first: str, second: str) -> bool:
    if not _has_wildcard(first):
        return fnmatch.fnmatchcase(first, second)
    if not _has_wildcard(second):
        return fnmatch.fnmatchcase(second, first)
    return True


@lru_cache(maxsize=4096)
def _may_meet(first: tuple[str, ...], second: tuple[str, ...]) -> bool:
    if not first:
        return all(segment == "**" for segment in second)
    if not second:
        return all(segment == "**" for segment in first)
    if first[0] == "**" or second[0] == "**":
        return True
    return _segments_may_meet(first[0], second[0]) and _may_meet(first[1:], second[1:])


def globs_may_meet(first: str, second: str) -> bool:
    """False only if no path is matched by both globs."""
    return _may_meet(tuple(path_segments(first)), tuple(path_segments(second)))
