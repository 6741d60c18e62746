"""Warnings shown after a secret is saved with a large value: where that value will not fit later.

They warn, never refuse (the API takes values up to ``STRONGROOM_MAX_SECRET_BYTES``), and are
rendered server-side in the save response (``components/notice.html``, ``notice_warnings``):

- above ``RUN_WARN_BYTES`` (32 KiB of UTF-8): ``strongroom run`` passes values as environment
  variables, and Linux refuses one ``KEY=value`` over 131,072 bytes (``run`` then refuses to start
  the command, see docs/cli.md); values this large belong in a file (``strongroom export -o``).
- above a destination's per-value limit when the folder is the source of a sync to it (its own
  folder, or a parent's with ``recursive``) and the person may see syncs (``syncs.read``): a sync
  provider declares the limit (``SyncProvider.max_value_bytes``; Azure Key Vault stores at most
  "25k bytes" per secret value), so the sync would fail on this one. The providers do not check
  sizes themselves; the destination answers the write with an error.

A warning names the key, its size and the syncs, never the value.
"""

from __future__ import annotations

from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope

RUN_WARN_BYTES = 32 * 1024
RUN_LIMIT_BYTES = 131_072  # Linux MAX_ARG_STRLEN: KEY=value and its NUL


def limited_syncs_of(scope: ProjectScope, environment: str, path: str, size: int) -> list[tuple[str, int, list[str]]]:
    """``(destination label, its limit, names of the syncs)`` for each destination kind whose
    per-value limit *size* bytes exceed and that a sync whose source holds *path* in *environment*
    writes to (syncs sorted, kinds in registry order); empty when the person may not see syncs."""
    if not scope.access.can("syncs.read"):
        return []
    # The UI composes apps; secrets_app does not need syncs.
    from syncs.models import SecretSync
    from syncs.providers.registry import PROVIDERS

    limits = {}
    for kind, label in PROVIDERS.kinds():
        limit = PROVIDERS.get(kind).max_value_bytes
        if limit is not None and size > limit:
            limits[kind] = (label, limit)
    if not limits:
        return []
    path = canonical_path(path)
    rows = SecretSync.objects.filter(
        project=scope.project, environment__slug=environment, connection__kind__in=list(limits)
    ).values_list("connection__kind", "name", "path", "recursive")
    names: dict[str, list[str]] = {}
    for kind, name, source, recursive in rows:
        source = canonical_path(source)
        if path == source or (recursive and (source == "/" or path.startswith(source + "/"))):
            names.setdefault(kind, []).append(name)
    return [(label, limit, sorted(names[kind])) for kind, (label, limit) in limits.items() if kind in names]


def value_size_warnings(scope: ProjectScope, *, environment: str, path: str, key: str, value: str) -> list[str]:
    """What to tell the person who just saved *value* under *key*; empty for ordinary values."""
    size = len(value.encode("utf-8", "surrogatepass"))
    warnings = []
    if size > RUN_WARN_BYTES:
        over = len(key.encode("utf-8", "surrogatepass")) + 2 + size > RUN_LIMIT_BYTES
        consequence = (
            "this one is over it, so `strongroom run` will not start a command with it"
            if over
            else "and `strongroom run` refuses a whole environment over 1 MiB"
        )
        warnings.append(
            f"{key} is {size:,} bytes. `strongroom run` passes values as environment variables; Linux refuses "
            f"one over 128 KiB ({RUN_LIMIT_BYTES:,} bytes with its key), {consequence}. Large values are better "
            "written to a file: `strongroom export --format dotenv -o FILE`."
        )
    for destination, limit, syncs in limited_syncs_of(scope, environment, path, size):
        warnings.append(
            f"{key} is {size:,} bytes, and this folder is synced to {destination} ({', '.join(syncs)}), "
            f"which stores at most {limit:,} bytes per secret: the sync will fail on it."
        )
    return warnings
