"""Server-side expansion of secret references.

``${KEY}`` is KEY in the same environment and folder, ``${env.KEY}`` is KEY at the root of
environment *env*, ``${env.a.b.KEY}`` is KEY in folder ``/a/b`` of *env*. A relative reference
inside a referenced secret resolves in *that* secret's place. References the reader may not read,
that do not exist, that form a cycle or go deeper than the limit are left as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

REFERENCE_RE = re.compile(r"\$\{([^{}\s$]+)\}")

# (environment slug, folder path, key) -> plaintext value, or None when absent or not readable.
Resolver = Callable[[str, str, str], "str | None"]


@dataclass
class Expansion:
    value: str
    references: set[tuple[str, str, str]] = field(default_factory=set)


def parse_reference(inner: str, environment: str, path: str) -> tuple[str, str, str] | None:
    parts = inner.split(".")
    if any(not part for part in parts):
        return None
    if len(parts) == 1:
        return environment, path, parts[0]
    return parts[0], "/" + "/".join(parts[1:-1]), parts[-1]


def expand_references(
    value: str, *, environment: str, path: str, resolve: Resolver, max_depth: int = 10, key: str | None = None
) -> Expansion:
    """Expand *value*, the value of secret *key* at environment/path. Naming *key* lets a reference
    back to the secret being expanded count as a cycle at once (else ``x${SELF}y`` became ``xx${SELF}yy``)."""
    result = Expansion(value=value)

    def expand(text: str, env: str, folder: str, depth: int, stack: frozenset[tuple[str, str, str]]) -> str:
        def substitute(match: re.Match[str]) -> str:
            target = parse_reference(match.group(1), env, folder)
            if target is None or target in stack or depth >= max_depth:
                return match.group(0)
            resolved = resolve(*target)
            if resolved is None:
                return match.group(0)
            result.references.add(target)
            return expand(resolved, target[0], target[1], depth + 1, stack | {target})

        return REFERENCE_RE.sub(substitute, text)

    start = frozenset({(environment, path, key)}) if key is not None else frozenset()
    result.value = expand(value, environment, path, 0, start)
    return result
