"""The hook through which another app says that a revealed secret belongs to one of its rotations.

The core never imports ``rotation``. In an environment where a reveal marks values due
(``Environment.reveal_marks_due``), the rotation app registers a resolver at startup
(``reveal_rotation_register`` in its ``AppConfig.ready``) that names the rotation owning a secret.
The core asks it twice: before the value is shown (the reveal control says what a reveal sets in
motion) and when recording the reveal (a secret a rotation owns is not marked due: the rotation,
queued by the app's ``secret_revealed`` receiver, replaces the value instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class RevealRotation:
    """The rotation a reveal of a secret queues: its name and how soon it runs (hours, 0: at once)."""

    name: str
    within_hours: int


# (project_id, environment slug, canonical path, key) -> the owning rotation's name, or None.
Resolver = Callable[[int, str, str, str], "str | None"]
_resolvers: list[Resolver] = []


def reveal_rotation_register(resolver: Resolver) -> None:
    """Register *resolver* (idempotent: ``ready()`` may run twice in tests)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def reveal_rotation_name(*, project_id: int, environment: str, path: str, key: str) -> str | None:
    """The name of the (unpaused) rotation owning the shared secret at this address, or None."""
    for resolver in _resolvers:
        name = resolver(project_id, environment, path, key)
        if name:
            return name
    return None
