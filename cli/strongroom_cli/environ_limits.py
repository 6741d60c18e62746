"""How big an environment ``strongroom run`` hands to ``execve``, and the refusal when it is too big.

Linux copies each environment string ``KEY=value`` with its terminating NUL onto the new
program's stack and refuses, with E2BIG ("Argument list too long"), any one string longer than
``MAX_ARG_STRLEN`` (32 pages = 131,072 bytes, NUL included), and the whole argv + environment
past a quarter of the stack limit. The error names no variable, so ``run`` measures first:

- one entry: ``len(KEY) + 1 + len(value) + 1`` bytes ("=" and the NUL), KEY and value encoded as
  ``subprocess`` encodes them (``os.fsencode``: UTF-8 on Linux). Over ``MAX_ENTRY_BYTES`` → refused.
- the environment: the sum of those sizes over every variable the command would get (inherited +
  secrets + leased credentials). Over ``MAX_ENVIRONMENT_BYTES`` (1 MiB, half the default 8 MiB
  stack's quarter, leaving room for argv) → refused.

The refusal is one line naming keys and sizes, never values. The same limits apply on every
platform, so a run that works on a laptop works on a Linux CI agent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

MAX_ENTRY_BYTES = 131_072  # Linux MAX_ARG_STRLEN, terminating NUL included
MAX_ENVIRONMENT_BYTES = 1_048_576  # 1 MiB over all entries


def _encoded_length(text: str) -> int:
    try:
        return len(os.fsencode(text))
    except UnicodeEncodeError:  # a lone surrogate: subprocess would refuse it too; count it anyway
        return len(text.encode("utf-8", "surrogatepass"))


def entry_size(key: str, value: str) -> int:
    """Bytes ``KEY=value`` takes in the new program's environment: key, "=", value, NUL."""
    return _encoded_length(key) + 1 + _encoded_length(value) + 1


def environment_size(env: Mapping[str, str]) -> int:
    return sum(entry_size(key, value) for key, value in env.items())


def oversize_reason(env: Mapping[str, str], secret_keys: Iterable[str]) -> str | None:
    """None when *env* can be passed to a new program; else why not, naming keys (never values).

    *secret_keys* are the keys that came from Strongroom (secrets, leases): when the total is too
    big, the largest of them are named, as many as removing would bring it under the limit.
    """
    sizes = {key: entry_size(key, value) for key, value in env.items()}
    too_long = sorted((key for key, size in sizes.items() if size > MAX_ENTRY_BYTES), key=lambda k: (-sizes[k], k))
    if too_long:
        listed = ", ".join(f"{key} ({sizes[key]:,} bytes)" for key in too_long)
        verb = "is" if len(too_long) == 1 else "are"
        return (
            f"{listed} {verb} over the {MAX_ENTRY_BYTES:,}-byte limit of one environment variable "
            "(KEY=value and its NUL; Linux MAX_ARG_STRLEN)"
        )
    total = sum(sizes.values())
    if total <= MAX_ENVIRONMENT_BYTES:
        return None
    ours = sorted((key for key in set(secret_keys) if key in sizes), key=lambda k: (-sizes[k], k))
    named: list[str] = []
    remaining = total
    for key in ours:
        if remaining <= MAX_ENVIRONMENT_BYTES:
            break
        named.append(key)
        remaining -= sizes[key]
    largest = ", ".join(f"{key} ({sizes[key]:,} bytes)" for key in named)
    alone = "" if remaining <= MAX_ENVIRONMENT_BYTES else f"; the inherited environment alone is {remaining:,} bytes"
    return (
        f"the command's environment would be {total:,} bytes, over the {MAX_ENVIRONMENT_BYTES:,}-byte (1 MiB) "
        f"limit of strongroom run; largest secrets: {largest or 'none'}{alone}"
    )
