"""Value types of the sync provider interface (errors, items, plans, results, name mapping).

Split from ``syncs.providers.base`` (which re-exports every name) to keep modules small."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from secrets_app.plugins import PluginField, PluginFieldError, PluginKind

# --- errors -----------------------------------------------------------------------------------


class ProviderError(Exception):
    """A failure talking to the destination. ``retryable`` decides whether the engine retries;
    ``retry_after`` (seconds) is the destination's own ``Retry-After`` when it sent one."""

    retryable: bool = True

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TransientError(ProviderError):
    """429, 5xx, timeouts, connection resets: retried with backoff (honouring ``retry_after``)."""

    retryable = True


class AuthError(ProviderError):
    """401/403: the credentials are wrong, expired or lack a scope. Final at once: never retried,
    the owner is notified."""

    retryable = False


class ConfigError(ProviderError):
    """The destination config or plan cannot work (bad URL, name rejected by the destination,
    a container that vanished in a way we will not repair). Final, not retried."""

    retryable = False


# --- what flows between engine and provider ---------------------------------------------------


@dataclass(frozen=True)
class Credential(PluginField):
    """One field of a connection's credential schema: the plugin pattern's ``PluginField``
    (``secrets_app.plugins``), secret (sealed, write-only after save) unless ``secret=False``."""

    secret: bool = True  # secrets are encrypted at rest and never returned; others are shown


class ConnectionMethod(PluginKind):
    """A way to authenticate to the destination (``pat``, ``oauth``, ``client_secret``…): a
    ``PluginKind`` whose ``kind`` is the method's slug and whose ``fields`` are its ``Credential``
    declarations, in form order. Secret fields are sealed and write-only; the others are settings
    stored in ``AppConnection.config`` and shown (URL, tenant id, client id). The connection form,
    the API description and the base ``SyncProvider.validate_connection`` all derive from them::

        class PersonalAccessToken(ConnectionMethod):
            kind = "pat"
            label = "Personal access token"
            fields = (ORG_URL, Credential("token", "Personal access token"))
    """

    @property
    def slug(self) -> str:
        return self.kind

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """As ``PluginKind.validate``; a connection setting is one value, never a list."""
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        for name, value in cleaned_config.items():
            if isinstance(value, list):
                raise PluginFieldError(f"config.{name}", "must be text")
        return cleaned_config, cleaned_credentials


@dataclass(frozen=True)
class ConnectionInfo:
    """A decrypted connection handed to a provider for one call. Never logged, never stored."""

    id: int
    method: str
    credentials: Mapping[str, str]  # field name -> value (secret fields included, in memory only)
    config: Mapping[str, Any]  # non-secret connection settings (e.g. ADO organization URL, tenant id)
    organization_id: int = 0

    def __repr__(self) -> str:  # credentials never appear in logs or tracebacks
        return f"<ConnectionInfo {self.id} {self.method}>"


@dataclass(frozen=True)
class SyncContext:
    """What ``read_remote`` and ``apply`` need about one sync."""

    sync_id: int
    connection: ConnectionInfo
    destination: Mapping[str, Any]  # the sync's validated destination config
    created_container: bool = False  # this sync created the container (may delete it on removal)
    state: Mapping[str, Any] = field(default_factory=dict)  # ``SecretSync.remote_state`` from earlier runs
    heartbeat: Callable[[], None] = lambda: None  # call between remote writes on long applies
    # Called by ``apply`` each time a batch of actions is durably at the destination, with the
    # names it covers: the engine records them at once so a killed worker loses no progress.
    progress: Callable[[ApplyProgress], None] = lambda progress: None


@dataclass(frozen=True)
class DesiredItem:
    """One source secret as the destination should hold it."""

    key: str  # the Strongroom key (unique within the sync's source)
    value: str  # plaintext, in memory only
    digest: str  # keyed HMAC of the value (``SyncManagedKey.digest``); never the value
    version: int = 0  # the Strongroom version the value belongs to
    path: str = "/"

    def __repr__(self) -> str:
        return f"<DesiredItem {self.path}:{self.key} v{self.version}>"


@dataclass(frozen=True)
class RemoteItem:
    """One item as the destination holds it now.

    ``value`` is None when the destination does not reveal it (ADO secret variables always);
    ``version`` is whatever token tells a later change apart (KV version id, ADO group
    ``modifiedOn``); ``deleted`` marks a soft-deleted item that can be recovered (KV);
    ``tags`` are destination tags/labels (KV tags)."""

    name: str
    value: str | None = None
    is_secret: bool = True
    version: str = ""
    enabled: bool = True
    deleted: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)
    modified_by: str = ""  # who last changed it, when the destination says (ADO: group modifiedBy id)

    def __repr__(self) -> str:
        return f"<RemoteItem {self.name} v={self.version!r} secret={self.is_secret}>"


@dataclass(frozen=True)
class ManagedState:
    """What this sync recorded about a remote name it manages (a ``SyncManagedKey`` row)."""

    name: str
    digest: str = ""  # HMAC of the last value we wrote ("" when we never wrote one)
    version: str = ""  # the remote version/modifiedOn right after our last write
    created_by_sync: bool = False
    source_key: str = ""


class InitialBehavior:
    OVERWRITE_DESTINATION = "overwrite_destination"
    IMPORT_DESTINATION = "import_destination"  # import remote-only keys; Strongroom wins a clash
    IMPORT_PREFER_DESTINATION = "import_prefer_destination"  # import; the destination wins a clash


@dataclass(frozen=True)
class PlanOptions:
    """Everything ``plan`` needs besides the three maps. Plain values only (plan stays pure).

    ``first_run``: no successful run yet, so ``initial_behavior`` decides clashes with existing
    remote items. After the first run a clash with an unmanaged item is taken over only when
    ``initial_behavior`` is ``overwrite_destination`` (an explicit, audited choice); otherwise it
    is reported and skipped.
    ``force``: rewrite every managed value even if our digest says it is current (drift overwrite).
    ``delete_removed``: a managed key whose source secret is gone is removed at the destination
    (``SyncProvider.removal_action``); otherwise it is left there and stays recorded as managed.
    """

    key_name_template: str = "{{secretKey}}"
    environment: str = ""
    first_run: bool = False
    initial_behavior: str = InitialBehavior.OVERWRITE_DESTINATION
    delete_removed: bool = True
    force: bool = False
    provider_options: Mapping[str, Any] = field(default_factory=dict)  # e.g. KV {"removal": "disable"}


class ActionKind:
    CREATE = "create"  # write a new remote item (we create it: created_by_sync)
    UPDATE = "update"  # write a new value into an item we manage
    TAKE_OVER = "take_over"  # write our value into an existing unmanaged item, then manage it
    RECOVER = "recover"  # recover a soft-deleted item, then write (KV)
    DELETE = "delete"  # remove a managed item whose source is gone
    DISABLE = "disable"  # disable instead of delete (KV)
    IMPORT = "import"  # write the remote value into Strongroom, then manage the item (no remote write)
    KEEP = "keep"  # remote item unchanged, but record it as managed (e.g. unreadable on import)

    WRITES = frozenset({CREATE, UPDATE, TAKE_OVER, RECOVER})
    REMOVALS = frozenset({DELETE, DISABLE})


@dataclass(frozen=True)
class PlanAction:
    kind: str
    name: str  # the remote name
    key: str = ""  # the Strongroom key (empty for removals of keys no longer in the source)
    value: str | None = None  # for writes (from Strongroom) and imports (from the destination)
    digest: str = ""  # digest of ``value`` for writes; "" for imports (the engine computes it)
    version: int = 0
    path: str = "/"

    def __repr__(self) -> str:
        return f"<PlanAction {self.kind} {self.name}>"


@dataclass(frozen=True)
class PlanError:
    """A problem found while planning. ``blocking`` errors stop the whole run before any write
    (name collisions, names the destination refuses); others skip one name and are reported."""

    code: str  # "name_collision", "invalid_name", "unmanaged_conflict", "unreadable_remote", …
    message: str  # safe to show: names only, never values
    names: tuple[str, ...] = ()
    blocking: bool = True


@dataclass
class Plan:
    actions: list[PlanAction] = field(default_factory=list)
    errors: list[PlanError] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # managed names already current

    @property
    def blocked(self) -> bool:
        return any(error.blocking for error in self.errors)

    def of_kind(self, *kinds: str) -> list[PlanAction]:
        return [action for action in self.actions if action.kind in kinds]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for action in self.actions:
            counts[action.kind] = counts.get(action.kind, 0) + 1
        counts["unchanged"] = len(self.unchanged)
        return counts


@dataclass(frozen=True)
class AppliedItem:
    """One name durably written by ``apply``: what the engine records as managed."""

    name: str
    key: str
    digest: str
    version: str = ""  # remote version / modifiedOn after the write
    created: bool = False  # we created the remote item


@dataclass(frozen=True)
class ApplyProgress:
    """A batch that is now at the destination (reported through ``SyncContext.progress``)."""

    applied: tuple[AppliedItem, ...] = ()
    removed: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    container_created: bool = False


@dataclass
class ApplyResult:
    applied: list[AppliedItem] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # deleted at the destination: stop managing
    disabled: list[str] = field(default_factory=list)  # disabled at the destination: still managed
    container_created: bool = False
    container_version: str = ""  # e.g. ADO group modifiedOn after the final write
    state: dict[str, Any] = field(default_factory=dict)  # merged into ``SecretSync.remote_state``

    def counts(self) -> dict[str, int]:
        return {"written": len(self.applied), "removed": len(self.removed), "disabled": len(self.disabled)}


@dataclass(frozen=True)
class DriftItem:
    name: str
    kind: str  # "changed" | "missing" | "unmanaged" | "possibly_changed"
    detail: str = ""  # safe text (no values)
    adoptable: bool = False  # the remote value is readable, so adopt can write it to Strongroom


# --- names ------------------------------------------------------------------------------------

_TEMPLATE_TOKEN = re.compile(r"\{\{\s*(secretKey|environment)\s*\}\}")


def map_name(key: str, template: str, *, environment: str = "") -> str:
    """Apply a key name template: ``{{secretKey}}`` is the Strongroom key, ``{{environment}}``
    the source environment slug. Pure. ``map_name("DB", "APP_{{secretKey}}") == "APP_DB"``."""
    values = {"secretKey": key, "environment": environment}
    return _TEMPLATE_TOKEN.sub(lambda match: values[match.group(1)], template)


def unmap_name(name: str, template: str, *, environment: str = "") -> str | None:
    """The Strongroom key a remote *name* stands for under *template*, or None when the name does
    not fit the template (``unmap_name("APP_DB", "APP_{{secretKey}}") == "DB"``). Pure."""
    prefix, _, suffix = template.replace("{{ secretKey }}", "{{secretKey}}").partition("{{secretKey}}")
    prefix = map_name("", prefix, environment=environment)
    suffix = map_name("", suffix, environment=environment)
    if not name.startswith(prefix) or not name.endswith(suffix) or len(name) <= len(prefix) + len(suffix):
        return None
    return name[len(prefix) : len(name) - len(suffix)]


def validate_template(template: str) -> str | None:
    """None when *template* is usable, else why not (it must contain ``{{secretKey}}`` once, so
    two keys never map to the same name, and nothing but known tokens)."""
    if len(_TEMPLATE_TOKEN.findall(template)) == 0 or "secretKey" not in template:
        return "the template must contain {{secretKey}}"
    if template.count("{{secretKey}}") + template.count("{{ secretKey }}") != 1:
        return "the template must contain {{secretKey}} exactly once"
    leftover = _TEMPLATE_TOKEN.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        return "unknown token in template (known: {{secretKey}}, {{environment}})"
    return None


def plan_write(kind: str, name: str, item: DesiredItem) -> PlanAction:
    return PlanAction(
        kind, name, key=item.key, value=item.value, digest=item.digest, version=item.version, path=item.path
    )
