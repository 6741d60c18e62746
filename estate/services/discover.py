"""Reading one Azure DevOps project into resource records (HTTP only, no database: this runs in
the scan's thread pool).

A record is what ``EstateResource`` keeps: names and flags. Plain values pass through
``classify.looks_secret`` here and are dropped with the response; secret values never come back
from Azure DevOps (``value: null``) and are never asked for.

Every request first checks ``stop`` (set when the scan is cancelled or failed), so a cancel stops
the walk between two requests.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from estate.ado.rest import PREVIEW, AdoRest, NotFoundError
from estate.models import ResourceKind
from estate.services import classify


class ScanStopped(Exception):
    """The scan was cancelled (or failed elsewhere) while this project was being read."""


@dataclass
class ResourceRecord:
    kind: str
    project_id: str
    project_name: str
    external_id: str
    name: str
    details: dict[str, Any]
    secret_count: int = 0
    variable_count: int = 0


@dataclass
class ProjectRead:
    project_id: str
    project_name: str
    records: list[ResourceRecord] = field(default_factory=list)
    missing: bool = False  # the project disappeared during the scan (404)


def _variables(raw: dict[str, Any] | None, *, keyvault: bool = False) -> tuple[list[dict[str, Any]], int]:
    """Names and flags of a variable map; judges plain values in memory. Returns (list, secrets)."""
    out: list[dict[str, Any]] = []
    secrets = 0
    for name, item in sorted((raw or {}).items(), key=lambda pair: pair[0].lower()):
        item = item if isinstance(item, dict) else {}
        is_secret = bool(item.get("isSecret")) or keyvault
        looks, reason = (False, "") if is_secret else classify.looks_secret(name, item.get("value"))
        entry: dict[str, Any] = {"name": name, "is_secret": is_secret, "looks_secret": looks, "reason": reason}
        if keyvault:
            entry["enabled"] = bool(item.get("enabled", True))
            entry["expires"] = item.get("expires") or None
        if "allowOverride" in item:
            entry["allow_override"] = bool(item.get("allowOverride"))
        secrets += 1 if is_secret else 0
        out.append(entry)
    return out, secrets


def _who(raw: Any) -> str:
    return str((raw or {}).get("displayName") or (raw or {}).get("uniqueName") or "") if isinstance(raw, dict) else ""


class ProjectReader:
    """Reads one project's groups, pipelines, service connections and secure files, with the
    pipeline permissions of each group, connection and file."""

    def __init__(self, rest: AdoRest, stop: threading.Event) -> None:
        self.rest = rest
        self.stop = stop

    def _check(self) -> None:
        if self.stop.is_set():
            raise ScanStopped

    def _list(self, path: str, params: dict[str, Any] | None, what: str) -> list[Any]:
        out: list[Any] = []
        for page in self.rest.pages(path, params, what=what):
            self._check()
            out.extend(page)
        return out

    def _permissions(self, project_id: str, resource_type: str, resource_id: str, what: str) -> dict[str, Any]:
        self._check()
        try:
            body, _ = self.rest.get(
                f"{project_id}/_apis/pipelines/pipelinepermissions/{resource_type}/{resource_id}",
                what=f"read who may use {what}",
                api_version=PREVIEW,
            )
        except NotFoundError:
            return {"all_pipelines": False, "pipeline_ids": []}
        body = body if isinstance(body, dict) else {}
        open_to_all = bool((body.get("allPipelines") or {}).get("authorized"))
        pipeline_ids = sorted(
            int(p["id"])
            for p in body.get("pipelines") or []
            if isinstance(p, dict) and p.get("authorized", True) and str(p.get("id", "")).isdigit()
        )
        return {"all_pipelines": open_to_all, "pipeline_ids": pipeline_ids}

    def read(self, project_id: str, project_name: str) -> ProjectRead:
        """Every resource of one project. A project deleted meanwhile (404) comes back ``missing``."""
        result = ProjectRead(project_id, project_name)
        try:
            result.records += self._groups(project_id, project_name)
            result.records += self._pipelines(project_id, project_name)
            result.records += self._connections(project_id, project_name)
            result.records += self._secure_files(project_id, project_name)
        except NotFoundError:
            return ProjectRead(project_id, project_name, missing=True)
        return result

    def _groups(self, project_id: str, project_name: str) -> list[ResourceRecord]:
        records = []
        raw_groups = self._list(
            f"{project_id}/_apis/distributedtask/variablegroups",
            {"queryOrder": "IdDescending"},
            f"list the variable groups of project {project_name}",
        )
        for raw in raw_groups:
            group_id = str(raw.get("id", ""))
            keyvault = str(raw.get("type") or "").lower() == "azurekeyvault"
            variables, secrets = _variables(raw.get("variables"), keyvault=keyvault)
            provider = raw.get("providerData") or {}
            details: dict[str, Any] = {
                "type": "AzureKeyVault" if keyvault else str(raw.get("type") or "Vsts"),
                "vault": str(provider.get("vault") or "") if keyvault else "",
                "service_endpoint_id": str(provider.get("serviceEndpointId") or "") if keyvault else "",
                "variables": variables,
                "description": str(raw.get("description") or "")[:500],
                "modified_on": str(raw.get("modifiedOn") or ""),
                "modified_by": _who(raw.get("modifiedBy")),
                "project_ids": sorted(
                    str(((ref or {}).get("projectReference") or {}).get("id") or "")
                    for ref in raw.get("variableGroupProjectReferences") or []
                ),
            }
            details.update(
                self._permissions(project_id, "variablegroup", group_id, f"variable group {raw.get('name')}")
            )
            records.append(
                ResourceRecord(
                    ResourceKind.VARIABLE_GROUP,
                    project_id,
                    project_name,
                    group_id,
                    str(raw.get("name") or ""),
                    details,
                    secret_count=secrets,
                    variable_count=len(variables),
                )
            )
        return records

    def _pipelines(self, project_id: str, project_name: str) -> list[ResourceRecord]:
        records = []
        raw_definitions = self._list(
            f"{project_id}/_apis/build/definitions",
            {"includeAllProperties": "true"},
            f"list the pipelines of project {project_name}",
        )
        for raw in raw_definitions:
            variables, secrets = _variables(raw.get("variables"))
            process = raw.get("process") or {}
            repository = raw.get("repository") or {}
            details = {
                "path": str(raw.get("path") or "\\"),
                "process_type": process.get("type"),
                "yaml_filename": str(process.get("yamlFilename") or ""),
                "repository": {
                    "id": str(repository.get("id") or ""),
                    "name": str(repository.get("name") or ""),
                    "type": str(repository.get("type") or ""),
                    "default_branch": str(repository.get("defaultBranch") or ""),
                },
                "variables": variables,
                "variable_group_ids": sorted(
                    int(g["id"]) for g in raw.get("variableGroups") or [] if str((g or {}).get("id", "")).isdigit()
                ),
            }
            records.append(
                ResourceRecord(
                    ResourceKind.PIPELINE,
                    project_id,
                    project_name,
                    str(raw.get("id", "")),
                    str(raw.get("name") or ""),
                    details,
                    secret_count=secrets,
                    variable_count=len(variables),
                )
            )
        return records

    def _connections(self, project_id: str, project_name: str) -> list[ResourceRecord]:
        self._check()
        body, _ = self.rest.get(
            f"{project_id}/_apis/serviceendpoint/endpoints",
            {"includeFailed": "true"},
            what=f"list the service connections of project {project_name}",
        )
        records = []
        for raw in (body or {}).get("value") or []:
            endpoint_id = str(raw.get("id") or "")
            authorization = raw.get("authorization") or {}
            scheme = str(authorization.get("scheme") or "")
            # Only named, non-secret parameters are read; ADO answers the secret ones null anyway.
            parameters = authorization.get("parameters") or {}
            lowered = {str(k).lower(): v for k, v in parameters.items()}
            kind = classify.credential_kind(str(raw.get("type") or ""), scheme, parameters)
            details: dict[str, Any] = {
                "type": str(raw.get("type") or ""),
                "scheme": scheme,
                "authentication_type": str(lowered.get("authenticationtype") or ""),
                "credential_kind": kind,
                "wif_issuer": str(lowered.get("workloadidentityfederationissuer") or ""),
                "wif_subject": str(lowered.get("workloadidentityfederationsubject") or ""),
                "is_shared": bool(raw.get("isShared")),
                "is_ready": bool(raw.get("isReady", True)),
                "project_ids": sorted(
                    str(((ref or {}).get("projectReference") or {}).get("id") or "")
                    for ref in raw.get("serviceEndpointProjectReferences") or []
                ),
            }
            details.update(
                self._permissions(project_id, "endpoint", endpoint_id, f"service connection {raw.get('name')}")
            )
            records.append(
                ResourceRecord(
                    ResourceKind.SERVICE_CONNECTION,
                    project_id,
                    project_name,
                    endpoint_id,
                    str(raw.get("name") or ""),
                    details,
                )
            )
        return records

    def _secure_files(self, project_id: str, project_name: str) -> list[ResourceRecord]:
        self._check()
        body, _ = self.rest.get(
            f"{project_id}/_apis/distributedtask/securefiles",
            what=f"list the secure files of project {project_name}",
        )
        records = []
        for raw in (body or {}).get("value") or []:
            file_id = str(raw.get("id") or "")
            details = self._permissions(project_id, "securefile", file_id, f"secure file {raw.get('name')}")
            records.append(
                ResourceRecord(
                    ResourceKind.SECURE_FILE, project_id, project_name, file_id, str(raw.get("name") or ""), details
                )
            )
        return records
