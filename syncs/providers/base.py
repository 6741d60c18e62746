"""The interface every sync destination implements (copy a provider folder to add one).

A provider is stateless: the engine (``syncs.services.runs``) hands it a connection's decrypted
credentials and a sync's destination config, and persists whatever the provider reports back.

The reconcile loop, for one run of one sync::

    desired = engine builds {source key: DesiredItem} from Strongroom (values decrypted, references expanded)
    remote  = provider.read_remote(ctx)                     # {remote name: RemoteItem}
    plan    = provider.plan(desired, remote, managed, opts) # PURE: no I/O, no clock, no database
    result  = provider.apply(ctx, plan)                     # only the actions in the plan
    engine records result.applied / result.removed as SyncManagedKey rows

Ownership rules every provider keeps (tested for each one):
- only names recorded as managed by *this* sync (``managed``) are ever updated without an explicit
  take-over, removed or disabled; every other remote item survives every run untouched;
- a container (ADO variable group, ...) is deleted only if this sync created it;
- an error in the plan that is ``blocking`` means nothing at all is written.

Errors raised by ``test_connection``, ``read_remote`` and ``apply`` must be ``ProviderError``
subclasses whose ``str()`` is safe to store and show: never a secret value, credential or
response body that might echo one. The engine truncates them to 240 characters anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from secrets_app.plugins import PluginField, PluginFieldError, clean_declared
from syncs.providers.types import (  # noqa: F401  (re-exported: the interface's public names)
    ActionKind,
    AppliedItem,
    ApplyProgress,
    ApplyResult,
    AuthError,
    ConfigError,
    ConnectionInfo,
    ConnectionMethod,
    Credential,
    DesiredItem,
    DriftItem,
    InitialBehavior,
    ManagedState,
    Plan,
    PlanAction,
    PlanError,
    PlanOptions,
    ProviderError,
    RemoteItem,
    SyncContext,
    TransientError,
    map_name,
    plan_write,
    unmap_name,
    validate_template,
)

# --- the provider base class -----------------------------------------------------------------


class SyncProvider:
    """Base class of a sync destination. Subclasses set the class attributes and implement the
    I/O methods; ``plan`` is shared and pure, steered by the small hooks below.

    Class attributes:
    - ``kind``: registry key and ``AppConnection.kind`` value (``azure_devops``).
    - ``label`` / ``description``: shown in the UI and the API schema.
    - ``methods``: the connection methods (``ConnectionMethod``, one ``PluginKind`` each) and
      their declared fields; the connection form and the API description derive from them.
    - ``reveals_values``: the destination returns values on read (KV yes, ADO secrets no); it
      decides whether drift can see a changed value and whether adopt/import is possible.
    - ``destination_fields`` / ``option_fields``: what a sync names at the destination (the API's
      ``destination``) and its per-sync options (``options``), declared as ``PluginField``s; the
      "new sync" form and the default ``validate_destination`` derive from them.
    - ``destination_noun`` ("a variable group") and ``form_labels`` (a shared sync form field
      relabelled for this destination: ``{"confirm_overwrite": "…"}``): UI wording only.
    - ``max_value_bytes``: the most bytes (UTF-8) the destination stores in one value, None for no
      limit; saving a larger value in a folder a sync of this kind reads warns in the UI
      (``secrets_app/ui/value_size.py``). Not enforced here: the destination refuses the write.
    """

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    methods: ClassVar[tuple[ConnectionMethod, ...]] = ()
    reveals_values: ClassVar[bool] = False
    destination_fields: ClassVar[tuple[PluginField, ...]] = ()
    option_fields: ClassVar[tuple[PluginField, ...]] = ()
    destination_noun: ClassVar[str] = ""
    form_labels: ClassVar[dict[str, str]] = {}
    max_value_bytes: ClassVar[int | None] = None

    # --- connections ------------------------------------------------------------------------
    def method(self, slug: str) -> ConnectionMethod:
        """The declared method *slug*, or ``ConfigError`` on ``method`` listing the known ones."""
        for method in self.methods:
            if method.kind == slug:
                return method
        raise ConfigError(f"method: must be one of {', '.join(method.kind for method in self.methods)}")

    def validate_connection(
        self, *, method: str, credentials: Mapping[str, str], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Check a connection's fields before they are saved; return the cleaned non-secret
        *config*. Raise ``ConfigError`` naming the field (never echoing a credential).
        The base cleans every field as the method declares it (``PluginKind.validate``: required
        fields present, no unknown field, lengths, choices, URL schemes); override (calling
        super) for checks a declaration cannot state (addresses a URL may reach, etc.)."""
        try:
            cleaned, _ = self.method(method).validate(config=config, credentials=credentials)
        except PluginFieldError as exc:
            raise ConfigError(str(exc)) from None
        return cleaned

    def test_connection(self, connection: ConnectionInfo) -> str:
        """Make one cheap authenticated call. Return a short safe description of what was
        reached ("organization https://dev.azure.com/acme"); raise ``ProviderError`` otherwise."""
        raise NotImplementedError

    # --- destinations -------------------------------------------------------------------------
    def validate_destination(
        self, destination: Mapping[str, Any], connection_config: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return the cleaned destination config for a sync, or raise ``ConfigError`` naming the
        field. Called at save time *and* again before each run (URLs are re-checked at connect
        time, so a DNS change cannot turn a saved destination into an internal one).
        The base cleans the declared ``destination_fields``; override (calling it or not) for
        checks a declaration cannot state."""
        try:
            return clean_declared(self.destination_fields, destination, prefix="destination")
        except PluginFieldError as exc:
            raise ConfigError(str(exc)) from None

    def target_key(self, destination: Mapping[str, Any]) -> str:
        """A stable string naming the remote container (``ado:https://dev.azure.com/acme/proj/grp``).
        Runs of every sync with the same target key are serialised by one lock."""
        raise NotImplementedError

    def describe_destination(self, destination: Mapping[str, Any]) -> str:
        """One line for lists and audit metadata (no secrets in destination configs anyway)."""
        return self.target_key(destination)

    # --- names (hooks for plan) ---------------------------------------------------------------
    def normalize_name(self, name: str) -> str:
        """The name as the destination will store it (KV: ``_`` → ``-``). Two source keys whose
        normalised names are equal (case-insensitively when ``names_case_insensitive``) collide."""
        return name

    names_case_insensitive: ClassVar[bool] = True

    def validate_name(self, name: str) -> str | None:
        """None when the destination accepts *name* (already normalised), else why not."""
        return None

    def removal_action(self, options: PlanOptions) -> str:
        """``ActionKind.DELETE`` or ``ActionKind.DISABLE`` for a managed key whose source is gone."""
        return ActionKind.DELETE

    def needs_rewrite(self, item: RemoteItem) -> bool:
        """A managed item that must be written again even though its value is current
        (KV: disabled; ADO: no longer ``isSecret``)."""
        return not item.enabled

    def remote_name_key(self, name: str) -> str:
        return name.lower() if self.names_case_insensitive else name

    # --- the reconcile loop -------------------------------------------------------------------
    def read_remote(self, ctx: SyncContext) -> dict[str, RemoteItem]:
        """Every item in the destination container, keyed by remote name (managed or not).
        Returns {} when the container does not exist yet (it is created by ``apply``).
        Must not return values it cannot read (None instead)."""
        raise NotImplementedError

    def plan(
        self,
        desired: Mapping[str, DesiredItem],
        remote: Mapping[str, RemoteItem],
        managed: Mapping[str, ManagedState],
        options: PlanOptions,
    ) -> Plan:
        """PURE: decide what to change. *desired* is keyed by Strongroom key, *remote* and
        *managed* by remote name (a ``set`` of names is not enough: digests decide "current").

        - name mapping (``map_name`` + ``normalize_name``) and collisions: two keys mapping to one
          remote name, or a name the destination refuses, are **blocking** errors;
        - managed + in source: UPDATE when our digest differs, the item is missing (CREATE again),
          disabled, or differs by readable value; else unchanged (``force`` rewrites anyway);
        - not managed + exists remotely: a clash, settled by ``initial_behavior`` (see
          ``PlanOptions``); soft-deleted remote items are RECOVERed;
        - not managed + absent: CREATE;
        - managed + gone from the source: ``removal_action`` when ``delete_removed`` and the item
          still exists remotely; otherwise nothing;
        - remote items neither managed nor in the source: never touched (imported only on a first
          run with an ``import_*`` behaviour and a readable value).
        Deterministic: actions are sorted by remote name."""
        result = Plan()
        by_remote: dict[str, DesiredItem] = {}
        remote_name_of: dict[str, str] = {}
        seen: dict[str, str] = {}  # normalised comparison key -> first Strongroom key
        for key in sorted(desired):
            name = self.normalize_name(map_name(key, options.key_name_template, environment=options.environment))
            problem = self.validate_name(name)
            if problem:
                result.errors.append(PlanError("invalid_name", f"{key} → {name}: {problem}", (key,)))
                continue
            compare = self.remote_name_key(name)
            if compare in seen:
                result.errors.append(
                    PlanError(
                        "name_collision",
                        f"{seen[compare]} and {key} both map to the destination name {name}",
                        (seen[compare], key),
                    )
                )
                continue
            seen[compare] = key
            by_remote[name] = desired[key]
            remote_name_of[key] = name
        if result.blocked:
            return result

        remote_by_key = {self.remote_name_key(name): item for name, item in remote.items()}
        managed_by_key = {self.remote_name_key(name): state for name, state in managed.items()}

        for name in sorted(by_remote):
            item = by_remote[name]
            compare = self.remote_name_key(name)
            there = remote_by_key.get(compare)
            state = managed_by_key.get(compare)
            if there is not None and there.deleted:
                if state is None and not self._may_take_over(options):
                    result.errors.append(self._conflict(name, item.key, blocking=False))
                    continue
                result.actions.append(plan_write(ActionKind.RECOVER, there.name, item))
                continue
            if there is None:
                result.actions.append(plan_write(ActionKind.CREATE, name, item))
                continue
            if state is not None:
                stale = (
                    options.force
                    or state.digest != item.digest
                    or self.needs_rewrite(there)
                    or (there.value is not None and there.value != item.value)
                )
                if stale:
                    result.actions.append(plan_write(ActionKind.UPDATE, there.name, item))
                else:
                    result.unchanged.append(there.name)
                continue
            # A clash with an item this sync does not manage.
            if options.first_run and options.initial_behavior == InitialBehavior.IMPORT_PREFER_DESTINATION:
                if there.value is not None:
                    if there.value == item.value:
                        result.actions.append(PlanAction(ActionKind.KEEP, there.name, key=item.key, digest=item.digest))
                    else:
                        result.actions.append(
                            PlanAction(ActionKind.IMPORT, there.name, key=item.key, value=there.value, path=item.path)
                        )
                else:
                    result.errors.append(
                        PlanError(
                            "unreadable_remote",
                            f"{there.name}: the destination does not reveal its value, so it was kept and not imported",
                            (there.name,),
                            blocking=False,
                        )
                    )
                continue
            if self._may_take_over(options):
                result.actions.append(plan_write(ActionKind.TAKE_OVER, there.name, item))
            else:
                result.errors.append(self._conflict(there.name, item.key, blocking=False))

        # Remote items this sync neither manages nor has in its source.
        wanted = {self.remote_name_key(name) for name in by_remote}
        if options.first_run and options.initial_behavior in (
            InitialBehavior.IMPORT_DESTINATION,
            InitialBehavior.IMPORT_PREFER_DESTINATION,
        ):
            for compare, there in sorted(remote_by_key.items()):
                if compare in wanted or compare in managed_by_key or there.deleted:
                    continue
                if there.value is None:
                    result.errors.append(
                        PlanError(
                            "unreadable_remote",
                            f"{there.name}: the destination does not reveal its value, so it was not imported",
                            (there.name,),
                            blocking=False,
                        )
                    )
                    continue
                source_key = unmap_name(there.name, options.key_name_template, environment=options.environment)
                if source_key is None:
                    continue  # a name outside this sync's template is not ours to import
                result.actions.append(PlanAction(ActionKind.IMPORT, there.name, key=source_key, value=there.value))

        # Managed items whose source secret is gone.
        if options.delete_removed:
            removal = self.removal_action(options)
            for compare, state in sorted(managed_by_key.items()):
                if compare in wanted:
                    continue
                there = remote_by_key.get(compare)
                if there is None or there.deleted:
                    continue
                if removal == ActionKind.DISABLE and not there.enabled:
                    continue
                result.actions.append(PlanAction(removal, there.name, key=state.source_key))

        result.actions.sort(key=lambda action: (action.name, action.kind))
        return result

    @staticmethod
    def _may_take_over(options: PlanOptions) -> bool:
        if options.initial_behavior == InitialBehavior.OVERWRITE_DESTINATION:
            return True
        # import_destination lets Strongroom win a clash on the first run only.
        return options.first_run and options.initial_behavior == InitialBehavior.IMPORT_DESTINATION

    @staticmethod
    def _conflict(name: str, key: str, *, blocking: bool) -> PlanError:
        return PlanError(
            "unmanaged_conflict",
            f"{name} already exists at the destination and is not managed by this sync; {key} was skipped",
            (name,),
            blocking=blocking,
        )

    def apply(self, ctx: SyncContext, plan: Plan) -> ApplyResult:
        """Carry out *plan* (never called when ``plan.blocked``). Idempotent: applying the same
        plan twice leaves the destination as applying it once. Creates the container when absent
        (``ApplyResult.container_created``). Writes only the names in the plan's actions, leaves
        every other remote item as it is, and reports progress per durable batch through
        ``ctx.progress``. IMPORT and KEEP actions need no remote write (the engine handles them).
        Raises ``ProviderError``; what was reported through ``ctx.progress`` before the error
        stays recorded."""
        raise NotImplementedError

    def delete_items(self, ctx: SyncContext, names: list[str], *, delete_container: bool) -> dict[str, str] | None:
        """Remove *names* (all managed by the sync being deleted) from the destination, and the
        container itself when *delete_container* (only passed when the sync created it) and it
        is then empty. Items not in *names* are never touched. "Not found" counts as done.
        Returns the names deliberately left alone, each with the reason (e.g. a Key Vault secret
        whose managed-by tag was removed by hand); None or ``{}`` when every name was removed."""
        raise NotImplementedError

    def drift(
        self,
        remote: Mapping[str, RemoteItem],
        managed: Mapping[str, ManagedState],
        desired_names: set[str],
        state: Mapping[str, Any] | None = None,
    ) -> list[DriftItem]:
        """PURE: compare the destination with what the sync last applied. ``desired_names`` are
        the remote names the source maps to; ``state`` is ``SecretSync.remote_state``. Default:
        missing managed items, unmanaged items, and items whose ``version`` moved since our last
        write; providers refine it."""
        items: list[DriftItem] = []
        remote_by_key = {self.remote_name_key(name): item for name, item in remote.items()}
        managed_keys = {self.remote_name_key(name) for name in managed}
        for name, record in sorted(managed.items()):
            there = remote_by_key.get(self.remote_name_key(name))
            if there is None or there.deleted:
                items.append(DriftItem(name, "missing", "managed item is gone from the destination"))
            elif record.version and there.version and there.version != record.version:
                items.append(
                    DriftItem(
                        name, "changed", "changed at the destination since our last write", there.value is not None
                    )
                )
        for compare, there in sorted(remote_by_key.items()):
            if compare not in managed_keys and not there.deleted:
                items.append(DriftItem(there.name, "unmanaged", "not managed by this sync", there.value is not None))
        return items
