"""Warnings shown after a secret is saved with a large value: where that value will not fit later.

They warn, never refuse (the API takes values up to ``STRONGROOM_MAX_SECRET_BYTES``), and are
rendered server-side in the save response (``components/notice.html``, ``notice_warnings``):

- above ``RUN_WARN_BYTES`` (32 KiB of UTF-8): ``strongroom run`` passes values as environment
  variables, and Linux refuses one ``KEY=value`` over 131,072 bytes (``run`` then refuses to start
  the command, see docs/cli.md); values this large belong in a file (``strongroom export -o``).
- above ``KEY_VAULT_MAX_BYTES`` when the folder is the source of a sync to Azure Key Vault (its
  own folder, or a parent's with ``recursive``) and the person may see syncs (``syncs.read``):
  Key Vault stores at most "25k bytes" per secret value, so the sync would fail on this one. Our
  Key Vault provider does not check sizes itself; the vault answers the write with an error.

A warning names the key, its size and the syncs, never the value.
"""

from __future__ import annotations

from secrets_app.paths import canonical_path
from secrets_app.selectors.access import ProjectScope

RUN_WARN_BYTES = 32 * 1024
RUN_LIMIT_BYTES = 131_072  # Linux MAX_ARG_STRLEN: KEY=value and its NUL
KEY_VAULT_MAX_BYTES = 25_000  # Azure Key Vault: "maximum size of 25k bytes" per secret value


def key_vault_syncs_of(scope: ProjectScope, environment: str, path: str) -> list[str]:
    """Names of the Azure Key Vault syncs whose source holds *path* in *environment* (sorted);
    empty when the person may not see syncs."""
    if not scope.access.can("syncs.read"):
        return []
    from syncs.models import ConnectionKind, SecretSync  # the UI composes apps; secrets_app does not need syncs

    path = canonical_path(path)
    rows = SecretSync.objects.filter(
        project=scope.project, environment__slug=environment, connection__kind=ConnectionKind.AZURE_KEY_VAULT
    ).values_list("name", "path", "recursive")
    names = []
    for name, source, recursive in rows:
        source = canonical_path(source)
        if path == source or (recursive and (source == "/" or path.startswith(source + "/"))):
            names.append(name)
    return sorted(names)


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
    if size > KEY_VAULT_MAX_BYTES:
        syncs = key_vault_syncs_of(scope, environment, path)
        if syncs:
            warnings.append(
                f"{key} is {size:,} bytes, and this folder is synced to Azure Key Vault ({', '.join(syncs)}), "
                f"which stores at most {KEY_VAULT_MAX_BYTES:,} bytes per secret: the sync will fail on it."
            )
    return warnings
