"""The Azure DevOps emulator, grown to a whole estate for discovery (ado-governance.md §3.0–3.4).

``EstateEmulator`` subclasses ``AzureDevOpsEmulator`` (every existing route, helper and fault keeps
working: the sync routes a guided import converts through included) and adds the read routes a
scan walks, speaking the documented wire:

- collections are ``{"count", "value"}``; lists page with ``$top`` + an opaque ``continuationToken``
  and send the next token in the ``x-ms-continuationtoken`` response header: projects use a skip
  count, variable groups the last id returned (``queryOrder`` IdDescending by default), build
  definitions an opaque base64 token;
- ``api-version`` is read from the query or the ``Accept`` header (required; pipeline
  permissions need ``7.1-preview.1``); routes match case-insensitively;
- ``GET _apis/projects``; ``GET {p}/_apis/distributedtask/variablegroups`` (Key Vault-linked groups:
  ``type: "AzureKeyVault"``, ``providerData``, variables with ``enabled``/``contentType``/``expires``);
  ``GET {p}/_apis/pipelines/pipelinepermissions/{resourceType}/{resourceId}`` (``allPipelines``
  present only when open); ``GET {p}/_apis/build/definitions[/{id}]`` (``includeAllProperties``);
  ``GET {p}/_apis/serviceendpoint/endpoints`` (``type=``/``authSchemes=`` filters; secret
  authorization parameters come back null, as ADO answers); ``GET {p}/_apis/distributedtask/securefiles``.

Secret values stay server side: definitions and groups answer ``value: null`` for secrets, while
``values()`` / ``definition_values()`` let a test read them. ``read_delay`` (seconds) slows every
estate read to model a remote's latency (the bench uses it to show concurrency).
"""

from __future__ import annotations

import base64
import fnmatch
import random
import time
import uuid
from typing import Any
from urllib.parse import unquote

from tests.emulators.azure_devops import AzureDevOpsEmulator, Recorded, Variable, _now, _wrapped

PREVIEW = "7.1-preview.1"

# Authorization parameters ADO never returns (it answers them null).
SECRET_PARAMETERS = frozenset(
    {
        "serviceprincipalkey",
        "serviceprincipalcertificate",
        "password",
        "apitoken",
        "accesstoken",
        "certificate",
        "privatekey",
        "clientsecret",
        "secret",
        "kubeconfig",
        "servicepassword",
        "token",
    }
)

Result = tuple[int, dict[str, str], Any]


def _page_size(query: dict[str, list[str]], default: int = 100) -> int:
    raw = (query.get("$top") or [""])[0]
    return max(1, min(int(raw), 1000)) if raw.isdigit() else default


def _token(query: dict[str, list[str]]) -> str:
    return (query.get("continuationToken") or [""])[0]


class EstateEmulator(AzureDevOpsEmulator):
    """An Azure DevOps organization with projects, groups (plain and Key Vault), pipelines,
    service connections, secure files and pipeline permissions."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keyvault: dict[int, dict[str, Any]] = {}  # group id -> vault, endpoint, refreshed, variable meta
        # (project id, resource type, resource id) -> {"all": bool, "pipelines": [ids]}
        self.permissions: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.definitions: dict[int, dict[str, Any]] = {}
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.secure_files: dict[str, dict[str, Any]] = {}
        self.read_delay = 0.0
        self._next_definition = 1

    def __enter__(self) -> EstateEmulator:
        self.start()
        return self

    # --- test helpers ------------------------------------------------------------------------
    def seed_keyvault_group(
        self,
        name: str,
        *,
        vault: str,
        service_endpoint_id: str,
        secrets: dict[str, dict[str, Any]],
        project: str = "proj1",
    ) -> int:
        """A Key Vault-linked group mapping *secrets* (``{"name": {"enabled", "contentType",
        "expires", "value"?}}``; values live in the vault, never on the wire)."""
        group_id = self.seed_group(name, {}, project=project)
        with self._lock:
            group = self.groups[group_id]
            group.type = "AzureKeyVault"
            group.variables = {
                key: Variable(value=str(spec.get("value", "")), is_secret=True) for key, spec in secrets.items()
            }
            self.keyvault[group_id] = {
                "vault": vault,
                "service_endpoint_id": service_endpoint_id,
                "last_refreshed_on": _now(),
                "meta": {
                    key: {
                        "enabled": bool(spec.get("enabled", True)),
                        "contentType": str(spec.get("contentType", "")),
                        "expires": spec.get("expires"),
                    }
                    for key, spec in secrets.items()
                },
            }
        return group_id

    def delete_group(self, group_id: int) -> None:
        """Someone deleted the group in the ADO UI."""
        with self._lock:
            self.groups.pop(group_id, None)
            self.keyvault.pop(group_id, None)

    def authorize_pipelines(
        self,
        resource_type: str,
        resource_id: str | int,
        *,
        project: str = "proj1",
        all_pipelines: bool = False,
        pipeline_ids: tuple[int, ...] | list[int] = (),
    ) -> None:
        """Set who may use a resource (``variablegroup``, ``endpoint``, ``securefile``, …)."""
        project_id = self._project_id(project)
        assert project_id is not None
        with self._lock:
            self.permissions[(project_id, resource_type.lower(), str(resource_id).lower())] = {
                "all": all_pipelines,
                "pipelines": list(pipeline_ids),
            }

    def add_definition(
        self,
        name: str,
        *,
        project: str = "proj1",
        variables: dict[str, tuple[str | None, bool]] | None = None,
        variable_group_ids: tuple[int, ...] | list[int] = (),
        yaml_filename: str = "azure-pipelines.yml",
        repository: dict[str, Any] | None = None,
        path: str = "\\",
    ) -> int:
        """A YAML pipeline (build definition) with pipeline variables ``{"NAME": (value, is_secret)}``."""
        project_id = self._project_id(project)
        assert project_id is not None
        with self._lock:
            definition_id = self._next_definition
            self._next_definition += 1
            self.definitions[definition_id] = {
                "id": definition_id,
                "name": name,
                "project_id": project_id,
                "path": path,
                "yaml_filename": yaml_filename,
                "repository": repository
                or {
                    "id": str(uuid.uuid4()),
                    "type": "TfsGit",
                    "name": name,
                    "defaultBranch": "refs/heads/main",
                },
                "variables": {
                    key: Variable(value=value or "", is_secret=secret)
                    for key, (value, secret) in (variables or {}).items()
                },
                "variable_group_ids": list(variable_group_ids),
                "revision": 1,
            }
            return definition_id

    def set_definition_variable(self, definition_id: int, key: str, value: str | None, *, secret: bool = False) -> None:
        """An edit of a pipeline's variables (None deletes it)."""
        with self._lock:
            definition = self.definitions[definition_id]
            if value is None:
                definition["variables"].pop(key, None)
            else:
                definition["variables"][key] = Variable(value=value, is_secret=secret)
            definition["revision"] += 1

    def definition_values(self, definition_id: int) -> dict[str, str]:
        with self._lock:
            return {key: v.value for key, v in self.definitions[definition_id]["variables"].items()}

    def add_service_endpoint(
        self,
        name: str,
        *,
        type: str,  # noqa: A002 - the wire's field name
        scheme: str,
        parameters: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        is_shared: bool = False,
        project: str = "proj1",
    ) -> str:
        """A service connection; secret authorization parameters are kept but answered null."""
        project_id = self._project_id(project)
        assert project_id is not None
        endpoint_id = str(uuid.uuid4())
        with self._lock:
            self.endpoints[endpoint_id] = {
                "id": endpoint_id,
                "name": name,
                "type": type,
                "scheme": scheme,
                "parameters": dict(parameters or {}),
                "data": dict(data or {}),
                "is_shared": is_shared,
                "project_id": project_id,
            }
        return endpoint_id

    def add_secure_file(self, name: str, *, project: str = "proj1") -> str:
        project_id = self._project_id(project)
        assert project_id is not None
        file_id = str(uuid.uuid4())
        with self._lock:
            self.secure_files[file_id] = {"id": file_id, "name": name, "project_id": project_id, "on": _now()}
        return file_id

    def generate_estate(
        self,
        projects: int,
        groups_per_project: int,
        *,
        variables_per_group: int = 6,
        definitions_per_project: int = 3,
        endpoints_per_project: int = 2,
        secure_files_per_project: int = 1,
        seed: int = 7,
    ) -> dict[str, int]:
        """A deterministic estate for the bench: every 10th group Key Vault-linked, every 7th open
        to all pipelines, a plain variable that looks like a secret in every 5th group, a client-secret
        and a federated connection per project. Returns the counts created."""
        rng = random.Random(seed)  # noqa: S311 - test data
        counts = {"projects": 0, "variable_groups": 0, "pipelines": 0, "service_connections": 0, "secure_files": 0}
        for p in range(projects):
            project = f"bench-{p:03d}"
            self.add_project(project)
            counts["projects"] += 1
            group_ids: list[int] = []
            for g in range(groups_per_project):
                name = f"{project}-group-{g:03d}"
                if g % 10 == 9:
                    group_id = self.seed_keyvault_group(
                        name,
                        vault=f"kv-{p:03d}",
                        service_endpoint_id=str(uuid.uuid4()),
                        secrets={f"kv-secret-{i}": {"enabled": True} for i in range(variables_per_group)},
                        project=project,
                    )
                else:
                    variables: dict[str, tuple[str, bool]] = {
                        f"SETTING_{i}": (f"value-{rng.randrange(1000)}", False) for i in range(variables_per_group - 2)
                    }
                    variables["DB_PASSWORD"] = ("s3cr3t-" + uuid.UUID(int=rng.getrandbits(128)).hex, True)
                    variables["LOG_LEVEL"] = ("info", False)
                    if g % 5 == 0:
                        variables["API_TOKEN"] = ("ghp_" + uuid.UUID(int=rng.getrandbits(128)).hex + "abcd", False)
                    group_id = self.seed_group(name, variables, project=project)
                if g % 7 == 0:
                    self.authorize_pipelines("variablegroup", group_id, project=project, all_pipelines=True)
                group_ids.append(group_id)
            counts["variable_groups"] += groups_per_project
            for d in range(definitions_per_project):
                definition_id = self.add_definition(
                    f"{project}-pipeline-{d}",
                    project=project,
                    variables={"BUILD_FLAVOR": ("release", False), "SIGNING_KEY": (None, True)},
                    variable_group_ids=group_ids[d : d + 1],
                )
                if group_ids:
                    self.authorize_pipelines(
                        "variablegroup", group_ids[0], project=project, pipeline_ids=[definition_id]
                    )
            counts["pipelines"] += definitions_per_project
            for e in range(endpoints_per_project):
                if e % 2 == 0:
                    endpoint_id = self.add_service_endpoint(
                        f"{project}-arm-{e}",
                        type="azurerm",
                        scheme="ServicePrincipal",
                        parameters={
                            "serviceprincipalid": str(uuid.uuid4()),
                            "tenantid": str(uuid.uuid4()),
                            "authenticationType": "spnKey",
                            "serviceprincipalkey": "never-on-the-wire",
                        },
                        project=project,
                    )
                else:
                    endpoint_id = self.add_service_endpoint(
                        f"{project}-wif-{e}",
                        type="azurerm",
                        scheme="WorkloadIdentityFederation",
                        parameters={
                            "serviceprincipalid": str(uuid.uuid4()),
                            "tenantid": str(uuid.uuid4()),
                            "workloadIdentityFederationIssuer": "https://vstoken.dev.azure.com/" + str(uuid.uuid4()),
                            "workloadIdentityFederationSubject": f"sc://{self.organization}/{project}/wif-{e}",
                        },
                        project=project,
                    )
                self.authorize_pipelines("endpoint", endpoint_id, project=project, all_pipelines=e == 0)
            counts["service_connections"] += endpoints_per_project
            for f in range(secure_files_per_project):
                self.add_secure_file(f"{project}-cert-{f}.pfx", project=project)
            counts["secure_files"] += secure_files_per_project
        return counts

    def reads(self, path_contains: str = "") -> list[Recorded]:
        """The GETs received whose path contains *path_contains* (case-insensitive)."""
        needle = path_contains.lower()
        return [r for r in list(self.requests) if r.method == "GET" and needle in r.path.lower()]

    def writes(self) -> list[Recorded]:
        """Every request that could change something (any method but GET, HEAD, OPTIONS)."""
        return [r for r in list(self.requests) if r.method not in ("GET", "HEAD", "OPTIONS")]

    # --- wire --------------------------------------------------------------------------------
    def group_json(self, group: Any) -> dict[str, Any]:
        payload = super().group_json(group)
        linked = self.keyvault.get(group.id)
        if group.type == "AzureKeyVault" and linked is not None:
            payload["providerData"] = {
                "serviceEndpointId": linked["service_endpoint_id"],
                "vault": linked["vault"],
                "lastRefreshedOn": linked["last_refreshed_on"],
            }
            payload["variables"] = {
                key: {
                    "value": None,
                    "isSecret": True,
                    **linked["meta"].get(key, {"enabled": True, "contentType": "", "expires": None}),
                }
                for key in group.variables
            }
        return payload

    def handle(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any) -> Result:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        route = self._estate_route(method, parts)
        if route is None:
            return super().handle(method, path, query, headers, body)
        fault = self._take_fault(method, path)
        if fault is not None:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            if fault.status == 401 and fault.body is None:
                return 401, extra, None
            payload = (
                fault.body
                if fault.body is not None
                else _wrapped(f"Injected {fault.status}", "InjectedException", fault.status)
            )
            return fault.status, extra, payload
        caller = self._caller(headers)
        if caller is None or caller.startswith("job:"):
            return 401, {"WWW-Authenticate": 'Basic realm="https://tfsprodcus.visualstudio.com/"'}, None
        version = (query.get("api-version") or [""])[0] or headers.get("accept", "").partition("api-version=")[2].split(
            ";"
        )[0]
        if not version:
            return (
                400,
                {},
                _wrapped("No api-version was supplied for the GET request.", "VssInvalidApiVersionException", 400),
            )
        if route[0] == "permissions" and "preview" not in version:
            return (
                400,
                {},
                _wrapped(
                    f'The requested version "{version}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests.',
                    "VssInvalidPreviewVersionException",
                    400,
                ),
            )
        if self.read_delay:
            time.sleep(self.read_delay)
        with self._lock:
            return route[1](parts[1:], query)

    def _estate_route(self, method: str, parts: list[str]) -> tuple[str, Any] | None:
        if method != "GET" or not parts or parts[0] != self.organization:
            return None
        low = [part.lower() for part in parts[1:]]
        if low == ["_apis", "projects"]:
            return "projects", self._list_projects
        if len(low) < 4 or low[1] != "_apis":
            return None
        tail = low[2:]
        if tail == ["distributedtask", "variablegroups"]:
            return "groups", self._list_groups
        if len(tail) == 4 and tail[:2] == ["pipelines", "pipelinepermissions"]:
            return "permissions", self._permissions
        if tail[:2] == ["build", "definitions"] and len(tail) <= 3:
            return "definitions", self._definitions
        if tail == ["serviceendpoint", "endpoints"]:
            return "endpoints", self._endpoints
        if tail == ["distributedtask", "securefiles"]:
            return "securefiles", self._secure_files
        return None

    def _missing_project(self, project: str) -> Result:
        return (
            404,
            {},
            _wrapped(
                f"TF200016: The following project does not exist: {project}.",
                "ProjectDoesNotExistWithNameException",
                404,
            ),
        )

    def _list_projects(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        ordered = sorted(self.projects.items(), key=lambda item: (item[1].lower(), item[0]))
        raw = _token(query) or (query.get("$skip") or ["0"])[0]
        skip = int(raw) if raw.isdigit() else 0
        top = _page_size(query)
        page = ordered[skip : skip + top]
        extra = {"x-ms-continuationtoken": str(skip + top)} if skip + top < len(ordered) else {}
        value = [
            {"id": pid, "name": name, "state": "wellFormed", "visibility": "private", "revision": 1}
            for pid, name in page
        ]
        return 200, extra, {"count": len(value), "value": value}

    def _list_groups(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        project_id = self._project_id(parts[0])
        if project_id is None:
            return self._missing_project(parts[0])
        found = [g for g in self.groups.values() if project_id in g.projects]
        if "groupIds" in query:
            wanted = {int(x) for x in ",".join(query["groupIds"]).split(",") if x.strip().isdigit()}
            found = [g for g in found if g.id in wanted]
        pattern = (query.get("groupName") or ["*"])[0].lower()
        found = [g for g in found if fnmatch.fnmatch(g.name.lower(), pattern)]
        descending = (query.get("queryOrder") or ["IdDescending"])[0].lower() != "idascending"
        found.sort(key=lambda g: g.id, reverse=descending)
        token = _token(query)
        if token.isdigit():  # the last id of the previous page
            last = int(token)
            found = [g for g in found if (g.id < last if descending else g.id > last)]
        top = _page_size(query)
        page = found[:top]
        extra = {"x-ms-continuationtoken": str(page[-1].id)} if len(found) > top else {}
        return 200, extra, {"count": len(page), "value": [self.group_json(g) for g in page]}

    def _permissions(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        project_id = self._project_id(parts[0])
        if project_id is None:
            return self._missing_project(parts[0])
        resource_type, resource_id = parts[4], parts[5]
        stored = self.permissions.get(
            (project_id, resource_type.lower(), resource_id.lower()), {"all": False, "pipelines": []}
        )
        payload: dict[str, Any] = {
            "resource": {"type": resource_type.lower(), "id": resource_id, "name": None},
            "pipelines": [
                {"id": pid, "authorized": True, "authorizedBy": {"displayName": "someone"}, "authorizedOn": _now()}
                for pid in stored["pipelines"]
            ],
        }
        if stored["all"]:
            payload["allPipelines"] = {
                "authorized": True,
                "authorizedBy": {"displayName": "someone"},
                "authorizedOn": _now(),
            }
        return 200, {}, payload

    def _definition_json(self, definition: dict[str, Any], *, full: bool) -> dict[str, Any]:
        project_id = definition["project_id"]
        payload: dict[str, Any] = {
            "id": definition["id"],
            "name": definition["name"],
            "path": definition["path"],
            "revision": definition["revision"],
            "type": "build",
            "queueStatus": "enabled",
            "url": f"{self.org_url}/{project_id}/_apis/build/Definitions/{definition['id']}",
            "project": {"id": project_id, "name": self.projects.get(project_id, ""), "state": "wellFormed"},
        }
        if full:
            payload["variables"] = {
                key: {"value": None if v.is_secret else v.value, "isSecret": v.is_secret, "allowOverride": False}
                for key, v in definition["variables"].items()
            }
            payload["variableGroups"] = [
                {"id": gid, "name": self.groups[gid].name if gid in self.groups else None, "type": "Vsts"}
                for gid in definition["variable_group_ids"]
            ]
            payload["process"] = {"type": 2, "yamlFilename": definition["yaml_filename"]}
            payload["repository"] = dict(definition["repository"])
        return payload

    def _definitions(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        project_id = self._project_id(parts[0])
        if project_id is None:
            return self._missing_project(parts[0])
        mine = sorted((d for d in self.definitions.values() if d["project_id"] == project_id), key=lambda d: d["id"])
        if len(parts) == 5:
            found = next((d for d in mine if str(d["id"]) == parts[4]), None)
            if found is None:
                return (
                    404,
                    {},
                    _wrapped(f"The definition {parts[4]} could not be found.", "DefinitionNotFoundException", 404),
                )
            return 200, {}, self._definition_json(found, full=True)
        full = (query.get("includeAllProperties") or ["false"])[0].lower() == "true"
        token = _token(query)
        if token:
            try:
                after = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("after:"))
            except ValueError:
                return 400, {}, _wrapped("The continuation token is invalid.", "ArgumentException", 400)
            mine = [d for d in mine if d["id"] > after]
        top = _page_size(query)
        page = mine[:top]
        extra = {}
        if len(mine) > top:
            extra["x-ms-continuationtoken"] = base64.urlsafe_b64encode(f"after:{page[-1]['id']}".encode()).decode()
        return 200, extra, {"count": len(page), "value": [self._definition_json(d, full=full) for d in page]}

    def _endpoint_json(self, endpoint: dict[str, Any]) -> dict[str, Any]:
        project_id = endpoint["project_id"]
        parameters = {
            key: (None if key.lower() in SECRET_PARAMETERS else value) for key, value in endpoint["parameters"].items()
        }
        return {
            "id": endpoint["id"],
            "name": endpoint["name"],
            "type": endpoint["type"],
            "url": "https://management.azure.com/" if endpoint["type"] == "azurerm" else "https://example.invalid/",
            "authorization": {"scheme": endpoint["scheme"], "parameters": parameters},
            "data": dict(endpoint["data"]),
            "isShared": endpoint["is_shared"],
            "isReady": True,
            "owner": "Library",
            "serviceEndpointProjectReferences": [
                {
                    "name": endpoint["name"],
                    "description": "",
                    "projectReference": {"id": project_id, "name": self.projects.get(project_id, "")},
                }
            ],
        }

    def _endpoints(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        project_id = self._project_id(parts[0])
        if project_id is None:
            return self._missing_project(parts[0])
        wanted_type = (query.get("type") or [""])[0].lower()
        schemes = {s.strip().lower() for s in ",".join(query.get("authSchemes", [])).split(",") if s.strip()}
        found = [
            e
            for e in self.endpoints.values()
            if e["project_id"] == project_id
            and (not wanted_type or e["type"].lower() == wanted_type)
            and (not schemes or e["scheme"].lower() in schemes)
        ]
        value = [self._endpoint_json(e) for e in sorted(found, key=lambda e: e["name"].lower())]
        return 200, {}, {"count": len(value), "value": value}

    def _secure_files(self, parts: list[str], query: dict[str, list[str]]) -> Result:
        project_id = self._project_id(parts[0])
        if project_id is None:
            return self._missing_project(parts[0])
        value = [
            {
                "id": f["id"],
                "name": f["name"],
                "createdBy": {"displayName": "someone"},
                "createdOn": f["on"],
                "modifiedBy": {"displayName": "someone"},
                "modifiedOn": f["on"],
                "properties": {},
            }
            for f in sorted(self.secure_files.values(), key=lambda f: f["name"].lower())
            if f["project_id"] == project_id
        ]
        return 200, {}, {"count": len(value), "value": value}
