"""Azure DevOps variable groups (wire-protocols.md §1), through the ``azure-devops`` SDK's v7_1
task-agent client.

Destination: organization URL, project (name or GUID), variable group name (created when absent;
``SecretSync.created_container`` records that we created it, and only then may removing the sync
delete it). What we guarantee and how:

- Every variable we write is ``isSecret: true``.
- PUT replaces the whole variable set (§1.6), so every PUT carries *every* variable of the group:
  ours, and the ones we do not manage exactly as ADO gave them — non-secret ones with their value,
  secret ones without a value (ADO then keeps the stored value). Only names in the plan get a value.
- Writes go in batches of ``STRONGROOM_SYNC_ADO_BATCH`` values per PUT, each re-sending the whole
  set; after each PUT the engine records the batch, so a worker killed mid-run loses nothing.
- Between our read and our PUT somebody else could edit the group (ADO has no ETag for variable
  groups): the window is one round trip; runs of all syncs on one group are serialised by the
  engine's destination lock, so our own writers never lose each other's updates.

Drift: ADO never returns secret values, and ``modifiedOn``/``modifiedBy`` exist only per group.
Detectable: a managed variable deleted (missing), a managed variable turned non-secret (its value
is then visible and compared), variables we do not manage (unmanaged), and an edit of the group by
someone other than the identity our last write used (``modifiedBy`` differs after our recorded
``modifiedOn``): then every managed secret is *possibly* changed. Not detectable: which secret
value was changed. Adopt is impossible for secret variables (the value is unreadable): overwrite only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from secrets_app.plugins import PluginField
from syncs.netguard import check_destination_url
from syncs.providers import entra
from syncs.providers.base import (
    ActionKind,
    AppliedItem,
    ApplyProgress,
    ApplyResult,
    ConfigError,
    ConnectionInfo,
    ConnectionMethod,
    Credential,
    DriftItem,
    ManagedState,
    Plan,
    PlanAction,
    RemoteItem,
    SyncContext,
    SyncProvider,
)

_GROUP_NAME = re.compile(r"^[^\\/:*?\"<>|;#$%&'+,=@^`{}~\[\]]{1,256}$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,256}$")

ORG_URL = Credential(
    "organization_url",
    "Organization URL",
    secret=False,
    input="url",
    placeholder="https://dev.azure.com/acme",
    help="https://dev.azure.com/your-org",
)


class PersonalAccessToken(ConnectionMethod):
    kind = "pat"
    label = "Personal access token"
    fields = (
        ORG_URL,
        Credential(
            "token",
            "Personal access token",
            help="Scopes: Variable Groups (Read, create & manage), Project and Team (Read)",
        ),
    )


class AccessToken(ConnectionMethod):
    kind = "oauth"
    label = "OAuth / Entra ID access token"
    description = "Sent as a Bearer token."
    fields = (ORG_URL, Credential("access_token", "Access token"))


class ServicePrincipal(ConnectionMethod):
    kind = "client_secret"
    label = entra.METHOD_LABEL
    description = "Token for the Azure DevOps resource 499b84ac-1321-427f-aa17-267ca6975798."
    fields = (ORG_URL, entra.TENANT_ID, entra.CLIENT_ID, entra.CLIENT_SECRET, entra.AUTHORITY_HOST)


def _iso(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class AzureDevOpsProvider(SyncProvider):
    kind = "azure_devops"
    label = "Azure DevOps variable group"
    reveals_values = False
    names_case_insensitive = True  # ADO variable names are case-insensitive
    description = "Variables of a variable group, every one a secret"
    methods = (PersonalAccessToken(), AccessToken(), ServicePrincipal())
    # The API also takes ``organization_url`` (must be the connection's) and ``description``.
    destination_fields = (
        PluginField("project", "Azure DevOps project", max_length=200),
        PluginField(
            "group_name",
            "Variable group",
            placeholder="e.g. app-dev-secrets",
            help="Created if absent. Variables already in it that this sync does not manage are never touched.",
            max_length=200,
        ),
    )

    # --- connections ------------------------------------------------------------------------
    def validate_connection(
        self, *, method: str, credentials: Mapping[str, str], config: Mapping[str, Any]
    ) -> dict[str, Any]:
        cleaned = super().validate_connection(method=method, credentials=credentials, config=config)
        cleaned["organization_url"] = check_destination_url(
            cleaned["organization_url"], field="config.organization_url"
        )
        if cleaned.get("authority_host"):
            cleaned["authority_host"] = entra.clean_authority_host(cleaned["authority_host"])
        return cleaned

    def _connect(self, info: ConnectionInfo, destination: Mapping[str, Any] | None = None) -> Any:
        """A GuardedConnection to the *connection's* organization URL: its credential goes nowhere
        else. A destination naming another organization (a sync saved before the override was
        refused) fails permanently before any request."""
        from syncs.providers.azure_devops.client import GuardedConnection, credentials_for

        url = check_destination_url(info.config.get("organization_url", ""), field="organization_url")
        named = str((destination or {}).get("organization_url") or url).strip().rstrip("/")
        if named.lower() != url.lower():
            raise ConfigError(
                f"refused to send the connection's credential to {urlsplit(named).hostname or named}: the sync's "
                f"destination names another organization than its connection ({url})"
            )
        return GuardedConnection(url, credentials_for(info.method, dict(info.credentials), dict(info.config)))

    def test_connection(self, connection: ConnectionInfo) -> str:
        from syncs.providers.azure_devops.client import call

        url = connection.config.get("organization_url", "")
        ado = self._connect(connection)
        core = call(ado, "discover the organization", ado.clients_v7_1.get_core_client)
        projects = call(ado, "list projects", core.get_projects, top=100)
        return f"reached {url} ({len(projects or [])} project(s) visible)"

    # --- destinations -------------------------------------------------------------------------
    def validate_destination(
        self, destination: Mapping[str, Any], connection_config: Mapping[str, Any]
    ) -> dict[str, Any]:
        organization_url = str(connection_config.get("organization_url") or "")
        if destination.get("organization_url"):
            _same_organization(
                str(destination["organization_url"]), organization_url, field="destination.organization_url"
            )
        project = str(destination.get("project") or "").strip()
        group = str(destination.get("group_name") or "").strip()
        if not project:
            raise ConfigError("destination.project: this field is required")
        if not group:
            raise ConfigError("destination.group_name: this field is required")
        if not _GROUP_NAME.match(group):
            raise ConfigError("destination.group_name: not a valid variable group name")
        unknown = set(destination) - {"organization_url", "project", "group_name", "description"}
        if unknown:
            raise ConfigError(f"destination: unknown field(s) {', '.join(sorted(unknown))}")
        return {
            "organization_url": check_destination_url(organization_url, field="destination.organization_url"),
            "project": project,
            "group_name": group,
            "description": str(destination.get("description") or "Managed by Strongroom")[:200],
        }

    def target_key(self, destination: Mapping[str, Any]) -> str:
        return f"ado:{destination['organization_url'].lower()}/{destination['project'].lower()}/{destination['group_name'].lower()}"

    def describe_destination(self, destination: Mapping[str, Any]) -> str:
        return f"{destination['organization_url']} · {destination['project']} · {destination['group_name']}"

    def validate_name(self, name: str) -> str | None:
        if not _VARIABLE_NAME.match(name):
            return "Azure DevOps variable names may use letters, digits, '.', '_' and '-' only"
        if name.lower().startswith("system.") or name.lower().startswith("azure_devops_"):
            return "names starting with 'system.' or 'AZURE_DEVOPS_' are reserved by Azure DevOps"
        return None

    def needs_rewrite(self, item: RemoteItem) -> bool:
        return not item.is_secret  # every variable we manage must be a secret

    # --- remote access ------------------------------------------------------------------------
    def _session(self, ctx: SyncContext) -> tuple[Any, Any, Any]:
        from syncs.providers.azure_devops.client import call

        ado = self._connect(ctx.connection, ctx.destination)
        # Creating a client may call ResourceAreas (discovery): errors there count like any other.
        agent = call(ado, "discover the organization", ado.clients_v7_1.get_task_agent_client)
        core = call(ado, "discover the organization", ado.clients_v7_1.get_core_client)
        return ado, agent, core

    @staticmethod
    def _find_group(ado: Any, agent: Any, destination: Mapping[str, Any]) -> Any:
        from syncs.providers.azure_devops.client import call

        name = destination["group_name"]
        groups = call(
            ado, "read the variable group", agent.get_variable_groups, project=destination["project"], group_name=name
        )
        matches = [group for group in groups or [] if (group.name or "").lower() == name.lower()]
        return matches[0] if matches else None

    @staticmethod
    def _project_ref(ado: Any, core: Any, ctx: SyncContext) -> tuple[str, str]:
        """(project GUID, project name): a group reference needs both."""
        from syncs.providers.azure_devops.client import call

        project = ctx.destination["project"]
        state = ctx.state or {}
        if state.get("project_id") and state.get("project_ref") == project:
            return state["project_id"], state.get("project_name", project)
        found = call(ado, "look up the project", core.get_project, project)
        if found is None:
            raise ConfigError(f"Azure DevOps project {project} not found")
        return str(found.id), str(found.name)

    def read_remote(self, ctx: SyncContext) -> dict[str, RemoteItem]:
        ado, agent, _ = self._session(ctx)
        group = self._find_group(ado, agent, ctx.destination)
        if group is None:
            return {}
        return self._items(group)

    @staticmethod
    def _items(group: Any) -> dict[str, RemoteItem]:
        modified_on = _iso(group.modified_on)
        modified_by = str(getattr(group.modified_by, "id", "") or "")
        items = {}
        for name, variable in (group.variables or {}).items():
            secret = bool(variable.is_secret)
            items[name] = RemoteItem(
                name=name,
                value=None if secret else (variable.value or ""),
                is_secret=secret,
                version=modified_on,
                modified_by=modified_by,
            )
        return items

    # --- apply --------------------------------------------------------------------------------
    @staticmethod
    def _carried(group: Any) -> dict[str, Any]:
        """The group's variables as they must be sent back untouched."""
        from azure.devops.v7_1.task_agent.models import VariableValue  # type: ignore[import-untyped]

        carried = {}
        for name, variable in ((group.variables if group is not None else None) or {}).items():
            if variable.is_secret:
                # No value: ADO keeps the stored one (§1.6).
                carried[name] = VariableValue(is_secret=True, is_read_only=variable.is_read_only or None)
            else:
                carried[name] = VariableValue(
                    value=variable.value or "", is_secret=False, is_read_only=variable.is_read_only or None
                )
        return carried

    def _parameters(self, ctx: SyncContext, project: tuple[str, str], group: Any, variables: dict[str, Any]) -> Any:
        from azure.devops.v7_1.task_agent.models import (
            ProjectReference,
            VariableGroupParameters,
            VariableGroupProjectReference,
        )

        name = group.name if group is not None else ctx.destination["group_name"]
        description = (group.description if group is not None else None) or ctx.destination.get("description", "")
        references = []
        if group is not None and group.variable_group_project_references:
            references = list(group.variable_group_project_references)
        else:
            references = [
                VariableGroupProjectReference(
                    name=name,
                    description=description,
                    project_reference=ProjectReference(id=project[0], name=project[1]),
                )
            ]
        return VariableGroupParameters(
            name=name,
            description=description,
            type=(group.type if group is not None else None) or "Vsts",
            variable_group_project_references=references,
            variables=variables,
        )

    def apply(self, ctx: SyncContext, plan: Plan) -> ApplyResult:
        from azure.devops.v7_1.task_agent.models import VariableValue

        from syncs.providers.azure_devops.client import call

        writes = plan.of_kind(*ActionKind.WRITES)
        removals = {action.name.lower() for action in plan.of_kind(ActionKind.DELETE, ActionKind.DISABLE)}
        result = ApplyResult()
        if not writes and not removals:
            return result
        ado, agent, core = self._session(ctx)
        project = self._project_ref(ado, core, ctx)
        result.state.update(
            {"project_id": project[0], "project_name": project[1], "project_ref": ctx.destination["project"]}
        )
        group = self._find_group(ado, agent, ctx.destination)
        size = max(1, settings.STRONGROOM_SYNC_ADO_BATCH)
        batches: list[list[PlanAction]] = [writes[i : i + size] for i in range(0, len(writes), size)] or [[]]
        removed_names = [action.name for action in plan.of_kind(ActionKind.DELETE, ActionKind.DISABLE)]
        for batch in batches:
            ctx.heartbeat()
            variables = {name: value for name, value in self._carried(group).items() if name.lower() not in removals}
            for action in batch:
                # Drop any differently-cased twin first: ADO names are case-insensitive.
                for existing in [name for name in variables if name.lower() == action.name.lower()]:
                    del variables[existing]
                variables[action.name] = VariableValue(value=action.value, is_secret=True)
            created = group is None
            if group is None:
                if not batch:
                    return result  # only removals and no group: nothing to do
                parameters = self._parameters(ctx, project, None, variables)
                group = call(ado, "create the variable group", agent.add_variable_group, parameters)
                result.container_created = True
            else:
                parameters = self._parameters(ctx, project, group, variables)
                group = call(ado, "update the variable group", agent.update_variable_group, parameters, group.id)
            version = _iso(group.modified_on)
            applied = tuple(
                AppliedItem(
                    name=action.name,
                    key=action.key,
                    digest=action.digest,
                    version=version,
                    created=action.kind == ActionKind.CREATE,
                )
                for action in batch
            )
            result.applied.extend(applied)
            ctx.progress(ApplyProgress(applied=applied, removed=tuple(removed_names), container_created=created))
            if removed_names:
                result.removed, removed_names, removals = removed_names, [], set()
        result.container_version = _iso(group.modified_on)
        result.state.update(
            {
                "group_id": group.id,
                "modified_on": result.container_version,
                "modified_by": str(getattr(group.modified_by, "id", "") or ""),
            }
        )
        return result

    def delete_items(self, ctx: SyncContext, names: list[str], *, delete_container: bool) -> dict[str, str] | None:
        from syncs.providers.azure_devops.client import call

        ado, agent, core = self._session(ctx)
        group = self._find_group(ado, agent, ctx.destination)
        if group is None:
            return None
        doomed = {name.lower() for name in names}
        variables = {name: value for name, value in self._carried(group).items() if name.lower() not in doomed}
        if delete_container and not variables:
            project_id = self._project_ref(ado, core, ctx)[0]
            call(ado, "delete the variable group", agent.delete_variable_group, group.id, [project_id])
            return None
        if len(variables) == len(group.variables or {}):
            return None  # none of ours is there any more
        project = self._project_ref(ado, core, ctx)
        parameters = self._parameters(ctx, project, group, variables)
        call(ado, "update the variable group", agent.update_variable_group, parameters, group.id)
        return None

    # --- drift --------------------------------------------------------------------------------
    def drift(
        self,
        remote: Mapping[str, RemoteItem],
        managed: Mapping[str, ManagedState],
        desired_names: set[str],
        state: Mapping[str, Any] | None = None,
    ) -> list[DriftItem]:
        state = state or {}
        items: list[DriftItem] = []
        by_key = {name.lower(): item for name, item in remote.items()}
        managed_keys = {name.lower() for name in managed}
        any_item = next(iter(remote.values()), None)
        edited_by_other = bool(
            any_item is not None
            and state.get("modified_on")
            and any_item.version
            and any_item.version != state.get("modified_on")
            and any_item.modified_by != state.get("modified_by")
        )
        for name in sorted(managed):
            there = by_key.get(name.lower())
            if there is None:
                items.append(DriftItem(name, "missing", "deleted from the variable group"))
            elif not there.is_secret:
                items.append(
                    DriftItem(
                        name, "changed", "turned into a plain (non-secret) variable at the destination", adoptable=True
                    )
                )
            elif edited_by_other:
                items.append(
                    DriftItem(
                        name,
                        "possibly_changed",
                        "the group was edited by someone else since our last write; ADO hides secret values",
                    )
                )
        for key, there in sorted(by_key.items()):
            if key not in managed_keys:
                items.append(
                    DriftItem(there.name, "unmanaged", "not managed by this sync", adoptable=not there.is_secret)
                )
        return items


def _same_organization(url: str, connection_url: str, *, field: str) -> None:
    """The connection's credential is bound to its organization URL: a destination may repeat that
    URL but never name another one (a project admin could otherwise send an org admin's PAT to a
    host of their choosing)."""
    if url.strip().rstrip("/").lower() != connection_url.strip().rstrip("/").lower():
        raise ConfigError(
            f"{field}: refused {urlsplit(url.strip()).netloc or url[:80]}: must be the connection's organization URL "
            f"({connection_url}); a connection's credential is only ever sent to its own organization"
        )


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
