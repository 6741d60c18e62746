"""An Azure DevOps variable-group emulator on 127.0.0.1 (plain HTTP, fresh port per instance).

It implements the requests the ``azure-devops`` 7.1.0b4 client sends (wire-protocols.md §1.2–1.8):
``OPTIONS {org}/_apis`` (location table), ``GET {org}/_apis/ResourceAreas`` (empty list, so the
client uses the org URL), variable groups create/update/delete (organization level) and
list/get (project level); plus ``GET {org}/_apis/projects[/{id}]`` (the core area, location
603fe2ac…) which Strongroom uses to resolve the project GUID a group reference needs and to test a
connection; and builds (``GET {org}/{project}/_apis/build/builds/{buildId}`` and
``…/build/builds?buildIds=1,2``, location 0cd358e1…, ado-governance.md §3.1) for run-scoped
leases and the pipeline gate's run proof, readable with a PAT or a pipeline's job token
(``job_tokens``: token → the one project it may read, as ``System.AccessToken`` is scoped to its
project); and the plan events route an Invoke REST API check in Callback mode is completed through
(``POST {org}/{projectId}/_apis/distributedtask/hubs/{hub}/plans/{planId}/events``, §1.4: a job
token as ``Bearer`` or ``Basic base64(":" + token)``, body ``name``/``taskId``/``jobId``/``result``,
204; recorded in ``plan_events``) with the task log routes a check appends its lines through (create a
log, append lines, point the task's timeline record at it: ``plan_logs``, ``timeline_records``). Service semantics follow §1.6: secret values are never returned (``value: null``),
PUT replaces the whole variable set, a secret sent without a value keeps its stored value, POST
needs a project reference, DELETE removes the group from the listed projects.

Authentication (§1.7): ``Basic base64(":" + pat)`` for an accepted PAT, or ``Bearer <token>`` for
an accepted token; anything else gets an empty-bodied 401 (the SDK raises
``AzureDevOpsAuthenticationError``). Faults are injected with ``fail_next``. Every request is
recorded (method, path, query, body) so tests assert on what reached the remote.

Run standalone: ``python -m tests.emulators.azure_devops --pat secret`` (prints the org URL).
"""

from __future__ import annotations

import base64
import copy
import datetime
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LOCATION_RESOURCE_AREAS = "e81700f7-3be2-46de-8624-2eb35882fcaa"
LOCATION_GROUPS_ORG = "ef5b7057-ffc3-4c77-bbad-c10b4a4abcc7"
LOCATION_GROUPS_PROJECT = "f5b09dd5-9d54-45a1-8b5a-1c8287d634cc"
LOCATION_PROJECTS = "603fe2ac-9723-48b9-88ad-09305aa6c6e1"
LOCATION_BUILDS = "0cd358e1-9217-4d94-8269-1c1ee6f93dcf"

LOCATIONS = [
    {
        "id": LOCATION_RESOURCE_AREAS,
        "area": "Location",
        "resourceName": "ResourceAreas",
        "routeTemplate": "_apis/{resource}/{areaId}",
        "resourceVersion": 1,
        "minVersion": "3.2",
        "maxVersion": "7.2",
        "releasedVersion": "0.0",
    },
    {
        "id": LOCATION_GROUPS_ORG,
        "area": "distributedtask",
        "resourceName": "variablegroups",
        "routeTemplate": "_apis/{area}/{resource}/{groupId}",
        "resourceVersion": 2,
        "minVersion": "5.1",
        "maxVersion": "7.2",
        "releasedVersion": "7.1",
    },
    {
        "id": LOCATION_GROUPS_PROJECT,
        "area": "distributedtask",
        "resourceName": "variablegroups",
        "routeTemplate": "{project}/_apis/{area}/{resource}/{groupId}",
        "resourceVersion": 2,
        "minVersion": "3.2",
        "maxVersion": "7.2",
        "releasedVersion": "7.1",
    },
    {
        "id": LOCATION_PROJECTS,
        "area": "core",
        "resourceName": "projects",
        "routeTemplate": "_apis/{resource}/{*projectId}",
        "resourceVersion": 4,
        "minVersion": "1.0",
        "maxVersion": "7.2",
        "releasedVersion": "7.1",
    },
    {
        "id": LOCATION_BUILDS,
        "area": "build",
        "resourceName": "Builds",
        "routeTemplate": "{project}/_apis/{area}/{resource}/{buildId}",
        "resourceVersion": 7,
        "minVersion": "1.0",
        "maxVersion": "7.2",
        "releasedVersion": "7.1",
    },
]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _wrapped(message: str, type_key: str, status: int) -> dict[str, Any]:
    return {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.DistributedTask.WebApi.{type_key}, Microsoft.TeamFoundation.DistributedTask.WebApi",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": 3000,
    }


@dataclass
class Fault:
    status: int
    count: int = 1
    retry_after: str | None = None
    method: str | None = None  # only requests with this method
    path_contains: str | None = None
    body: Any = None  # JSON body; None → ADO error envelope (401: empty body)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class Variable:
    value: str = ""
    is_secret: bool = False
    is_read_only: bool = False


@dataclass
class Group:
    id: int
    name: str
    description: str
    projects: dict[str, str]  # project id -> name
    variables: dict[str, Variable]
    created_on: str
    modified_on: str
    created_by: str
    modified_by: str
    type: str = "Vsts"


class AzureDevOpsEmulator:
    """State + HTTP server. ``org_url`` is the organization URL to give the client."""

    def __init__(
        self, *, organization: str = "acme", pats: tuple[str, ...] = ("good-pat",), tokens: tuple[str, ...] = ()
    ) -> None:
        self.organization = organization
        self.pats = set(pats)
        self.tokens = set(tokens)
        self.job_tokens: dict[str, str] = {}  # System.AccessToken -> the project id it may read
        self.builds: dict[int, dict[str, Any]] = {}
        self.plan_events: list[dict[str, Any]] = []  # TaskCompleted events received (hub, plan, body, auth kind)
        self.plan_logs: dict[int, dict[str, Any]] = {}  # log id -> {"plan_id", "path", "lines"}
        self.timeline_records: list[dict[str, Any]] = []  # records PATCHed (plan, timeline, record)
        self.projects: dict[str, str] = {}  # id -> name
        self.groups: dict[int, Group] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.delay = 0.0  # seconds slept before answering each variable-group write
        # What GET _apis/ResourceAreas answers: [] (on-premises style, the client uses the org URL),
        # or a list of {"id", "name", "locationUrl"}; a list without the core area (603fe2ac…'s
        # area 79134c72-4a58-4b42-976c-04e7115f32bf) makes the SDK fall back to app.vssps.visualstudio.com.
        self.resource_areas: list[dict[str, str]] = []
        self._next_id = 1
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_project("proj1", "11111111-1111-1111-1111-111111111111")

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> AzureDevOpsEmulator:
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> AzureDevOpsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def org_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.organization}"

    # --- test helpers ------------------------------------------------------------------------
    def add_project(self, name: str, project_id: str | None = None) -> str:
        project_id = project_id or str(uuid.uuid4())
        self.projects[project_id] = name
        return project_id

    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: str | float | None = None,
        method: str | None = None,
        path_contains: str | None = None,
        body: Any = None,
    ) -> None:
        """Answer the next *count* matching requests with *status* (before auth and routing)."""
        with self._lock:
            self.faults.append(
                Fault(
                    status=status,
                    count=count,
                    retry_after=None if retry_after is None else str(retry_after),
                    method=method,
                    path_contains=path_contains,
                    body=body,
                )
            )

    def seed_group(
        self, name: str, variables: dict[str, tuple[str, bool]], *, project: str = "proj1", by: str = "someone-else"
    ) -> int:
        """A group created by someone else: ``{"NAME": (value, is_secret)}``."""
        project_id = self._project_id(project)
        assert project_id is not None
        with self._lock:
            group = self._new_group(name, "", {project_id: self.projects[project_id]}, by)
            group.variables = {
                key: Variable(value=value, is_secret=secret) for key, (value, secret) in variables.items()
            }
            return group.id

    def group_by_name(self, name: str, project: str = "proj1") -> Group | None:
        project_id = self._project_id(project)
        with self._lock:
            for group in self.groups.values():
                if group.name.lower() == name.lower() and project_id in group.projects:
                    return group
        return None

    def values(self, name: str, project: str = "proj1") -> dict[str, str] | None:
        """The stored values of a group (secrets included: the emulator knows them)."""
        group = self.group_by_name(name, project)
        if group is None:
            return None
        with self._lock:
            return {key: variable.value for key, variable in group.variables.items()}

    def edit_variable(
        self, group_name: str, key: str, value: str | None, *, secret: bool = True, by: str = "human"
    ) -> None:
        """An edit made in the ADO UI by someone else (None deletes the variable)."""
        group = self.group_by_name(group_name)
        assert group is not None
        with self._lock:
            if value is None:
                group.variables.pop(key, None)
            else:
                group.variables[key] = Variable(value=value, is_secret=secret)
            group.modified_on = _now()
            group.modified_by = by

    def add_build(
        self, *, project: str = "proj1", status: str = "inProgress", build_id: int | None = None, definition_id: int = 7
    ) -> int:
        """A pipeline run (build) in *project*; ``status`` inProgress | completed | cancelling | notStarted."""
        project_id = self._project_id(project)
        assert project_id is not None
        with self._lock:
            build_id = build_id or (max(self.builds, default=100) + 1)
            self.builds[build_id] = {
                "project_id": project_id,
                "status": status,
                "result": None,
                "definition_id": definition_id,
            }
            return build_id

    def finish_build(self, build_id: int, result: str = "succeeded") -> None:
        with self._lock:
            self.builds[build_id].update(status="completed", result=result)

    def job_token(self, project: str = "proj1") -> str:
        """A fresh ``System.AccessToken`` of a run in *project*."""
        project_id = self._project_id(project)
        assert project_id is not None
        token = "job." + uuid.uuid4().hex + uuid.uuid4().hex
        self.job_tokens[token] = project_id
        return token

    def build_reads(self) -> list[Recorded]:
        return [r for r in self.requests if "/_apis/build/builds" in r.path.lower()]

    def writes(self) -> list[Recorded]:
        return [
            r for r in self.requests if r.method in ("POST", "PUT", "DELETE", "PATCH") and "variablegroups" in r.path
        ]

    # --- internals ---------------------------------------------------------------------------
    def _project_id(self, ref: str) -> str | None:
        if ref in self.projects:
            return ref
        for project_id, name in self.projects.items():
            if name.lower() == ref.lower():
                return project_id
        return None

    def _new_group(self, name: str, description: str, projects: dict[str, str], by: str) -> Group:
        now = _now()
        group = Group(self._next_id, name, description, projects, {}, now, now, by, by)
        self.groups[group.id] = group
        self._next_id += 1
        return group

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _caller(self, headers: dict[str, str]) -> str | None:
        """The authenticated identity, or None."""
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            try:
                decoded = base64.b64decode(auth[6:]).decode()
            except Exception:
                return None
            pat = decoded.split(":", 1)[1] if ":" in decoded else ""
            if pat in self.job_tokens:  # VssBasicCredential("", token): a job token sent as Basic
                return f"job:{self.job_tokens[pat]}"
            return f"pat:{pat[:4]}" if pat in self.pats else None
        if auth.startswith("Bearer "):
            token = auth[7:]
            if token in self.job_tokens:
                return f"job:{self.job_tokens[token]}"
            return f"token:{token[:4]}" if token in self.tokens else None
        return None

    def group_json(self, group: Group) -> dict[str, Any]:
        variables: dict[str, Any] = {}
        for key, variable in group.variables.items():
            item: dict[str, Any] = {"value": None if variable.is_secret else variable.value}
            if variable.is_secret:
                item["isSecret"] = True
            if variable.is_read_only:
                item["isReadOnly"] = True
            variables[key] = item
        return {
            "variables": variables,
            "id": group.id,
            "type": group.type,
            "name": group.name,
            "description": group.description,
            "createdBy": {"id": group.created_by, "displayName": group.created_by},
            "createdOn": group.created_on,
            "modifiedBy": {"id": group.modified_by, "displayName": group.modified_by},
            "modifiedOn": group.modified_on,
            "isShared": False,
            "variableGroupProjectReferences": [
                {"name": group.name, "description": group.description, "projectReference": {"id": pid, "name": pname}}
                for pid, pname in group.projects.items()
            ],
        }

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        """Route one request: (status, headers, JSON body or None)."""
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
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if not parts or parts[0] != self.organization:
            return 404, {}, _wrapped("Organization not found", "OrganizationNotFoundException", 404)
        parts = parts[1:]
        caller = self._caller(headers)
        if caller is None:
            return 401, {"WWW-Authenticate": 'Basic realm="https://tfsprodcus.visualstudio.com/"'}, None
        if method == "OPTIONS" and parts == ["_apis"]:
            return 200, {}, {"count": len(LOCATIONS), "value": LOCATIONS}
        if method == "GET" and parts == ["_apis", "ResourceAreas"]:
            areas = list(self.resource_areas)
            return 200, {}, {"count": len(areas), "value": areas}
        if method == "GET" and parts[:2] == ["_apis", "projects"]:
            return self._projects(parts[2:])
        if len(parts) >= 4 and [p.lower() for p in parts[1:4]] == ["_apis", "build", "builds"]:
            with self._lock:
                return self._builds(parts[0], parts[4:], query, caller)
        if len(parts) == 8 and [p.lower() for p in (parts[1], parts[2], parts[3], parts[5], parts[7])] == [
            "_apis",
            "distributedtask",
            "hubs",
            "plans",
            "events",
        ]:
            with self._lock:
                return self._plan_event(method, parts[0], parts[4], parts[6], query, headers, body, caller)
        if len(parts) >= 8 and [p.lower() for p in (parts[1], parts[2], parts[3], parts[5])] == [
            "_apis",
            "distributedtask",
            "hubs",
            "plans",
        ]:
            with self._lock:
                return self._plan_logs(method, parts[0], parts[6], parts[7:], body, caller)
        if caller.startswith("job:"):
            return 401, {}, None  # a job token reads builds and completes its plan's tasks only (in this emulator)
        with self._lock:
            if parts[:3] == ["_apis", "distributedtask", "variablegroups"]:
                if self.delay and method in ("POST", "PUT", "DELETE"):
                    time.sleep(self.delay)
                return self._org_level(method, parts[3:], query, body, caller)
            if len(parts) >= 4 and parts[1:4] == ["_apis", "distributedtask", "variablegroups"]:
                return self._project_level(method, parts[0], parts[4:], query)
        return 404, {}, _wrapped("Not found", "RouteNotFound", 404)

    def _projects(self, rest: list[str]) -> tuple[int, dict[str, str], Any]:
        def project_json(project_id: str) -> dict[str, Any]:
            return {"id": project_id, "name": self.projects[project_id], "state": "wellFormed", "visibility": "private"}

        if not rest:
            return 200, {}, {"count": len(self.projects), "value": [project_json(pid) for pid in self.projects]}
        project_id = self._project_id(rest[0])
        if project_id is None:
            return (
                404,
                {},
                _wrapped(
                    f"TF200016: The following project does not exist: {rest[0]}.",
                    "ProjectDoesNotExistWithNameException",
                    404,
                ),
            )
        return 200, {}, project_json(project_id)

    def _parse_parameters(self, body: Any) -> tuple[str, str, dict[str, str], dict[str, Any]] | str:
        if not isinstance(body, dict) or not body.get("name"):
            return "Variable group name is required."
        references = body.get("variableGroupProjectReferences") or []
        projects: dict[str, str] = {}
        for reference in references:
            project = (reference or {}).get("projectReference") or {}
            project_id = self._project_id(str(project.get("id") or project.get("name") or ""))
            if project_id is None:
                return "Project reference is invalid."
            projects[project_id] = self.projects[project_id]
        if not projects:
            return "At least one variable group project reference is required."
        return body["name"], body.get("description") or "", projects, body.get("variables") or {}

    def _apply_variables(self, group: Group, variables: dict[str, Any]) -> None:
        # PUT replaces the whole set; a secret sent without a value keeps its stored value (§1.6).
        previous = group.variables
        replaced: dict[str, Variable] = {}
        for key, item in variables.items():
            item = item or {}
            is_secret = bool(item.get("isSecret"))
            value = item.get("value")
            if value is None:
                kept = previous.get(key)
                value = kept.value if (kept is not None and is_secret) else ""
            replaced[key] = Variable(value=str(value), is_secret=is_secret, is_read_only=bool(item.get("isReadOnly")))
        group.variables = replaced

    def _org_level(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: Any, caller: str
    ) -> tuple[int, dict[str, str], Any]:
        if method == "POST" and not rest:
            parsed = self._parse_parameters(body)
            if isinstance(parsed, str):
                return 400, {}, _wrapped(parsed, "ArgumentException", 400)
            name, description, projects, variables = parsed
            for group in self.groups.values():
                if group.name.lower() == name.lower() and set(group.projects) & set(projects):
                    return (
                        400,
                        {},
                        _wrapped(
                            f"Variable group with name {name} already exists.", "VariableGroupExistsException", 400
                        ),
                    )
            group = self._new_group(name, description, projects, caller)
            self._apply_variables(group, variables)
            return 200, {}, self.group_json(group)
        if not rest or not rest[0].isdigit():
            return 404, {}, _wrapped("Not found", "RouteNotFound", 404)
        group = self.groups.get(int(rest[0]))
        if group is None:
            return 404, {}, _wrapped(f"Variable group {rest[0]} not found.", "VariableGroupNotFoundException", 404)
        if method == "PUT":
            parsed = self._parse_parameters(body)
            if isinstance(parsed, str):
                return 400, {}, _wrapped(parsed, "ArgumentException", 400)
            name, description, projects, variables = parsed
            group.name, group.description, group.projects = name, description, projects
            self._apply_variables(group, variables)
            group.modified_on = _now()
            group.modified_by = caller
            return 200, {}, self.group_json(group)
        if method == "DELETE":
            project_ids = ",".join(query.get("projectIds", [])).split(",")
            for project_id in project_ids:
                group.projects.pop(project_id.strip(), None)
            if not group.projects:
                del self.groups[group.id]
            return 204, {}, None
        return 405, {}, _wrapped("Method not allowed", "MethodNotAllowed", 405)

    def _project_level(
        self, method: str, project: str, rest: list[str], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], Any]:
        project_id = self._project_id(project)
        if project_id is None:
            return (
                404,
                {},
                _wrapped(
                    f"TF200016: The following project does not exist: {project}.",
                    "ProjectDoesNotExistWithNameException",
                    404,
                ),
            )
        if method != "GET":
            return 405, {}, _wrapped("Method not allowed", "MethodNotAllowed", 405)
        in_project = [group for group in self.groups.values() if project_id in group.projects]
        if rest:
            group = next((g for g in in_project if str(g.id) == rest[0]), None)
            if group is None:
                return 200, {}, None  # UNVERIFIED in §1.6; the SDK maps an empty body to None
            return 200, {}, self.group_json(group)
        if "groupIds" in query:
            wanted = {int(x) for x in ",".join(query["groupIds"]).split(",") if x.strip().isdigit()}
            found = [g for g in in_project if g.id in wanted]
        else:
            pattern = (query.get("groupName") or ["*"])[0]
            import fnmatch

            found = [g for g in in_project if fnmatch.fnmatch(g.name.lower(), pattern.lower())]
        top = int((query.get("$top") or ["1000"])[0])
        found = sorted(found, key=lambda g: g.id)[: min(top, 1000)]
        return 200, {}, {"count": len(found), "value": [self.group_json(g) for g in found]}

    def build_json(self, build_id: int) -> dict[str, Any]:
        build = self.builds[build_id]
        project_id = build["project_id"]
        url = f"{self.org_url}/{project_id}/_apis/build/Builds/{build_id}"
        return {
            "id": build_id,
            "buildNumber": f"20260901.{build_id}",
            "status": build["status"],
            "result": build["result"],
            "url": url,
            "project": {"id": project_id, "name": self.projects[project_id], "state": "wellFormed"},
            "definition": {"id": build.get("definition_id", 7), "name": "web-ci", "type": "build"},
            "_links": {"web": {"href": f"{self.org_url}/{project_id}/_build/results?buildId={build_id}"}},
        }

    def _plan_event(
        self,
        method: str,
        project: str,
        hub: str,
        plan_id: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
        caller: str,
    ) -> tuple[int, dict[str, str], Any]:
        """``POST …/hubs/{hub}/plans/{planId}/events?api-version=2.0-preview.1`` (§1.4): a job token of
        the project; ``name``, ``taskId``, ``jobId`` and ``result`` required; 204."""
        if method != "POST":
            return 405, {}, _wrapped("Method not allowed", "MethodNotAllowed", 405)
        project_id = self._project_id(project)
        if project_id is None or not caller.startswith("job:") or caller[4:] != project_id:
            return 401, {}, None
        version = (query.get("api-version") or [""])[0] or headers.get("accept", "").partition("api-version=")[2]
        if not version.startswith("2.0-preview"):
            return 400, {}, _wrapped("api-version 2.0-preview.1 is required", "VssInvalidPreviewVersionException", 400)
        if not isinstance(body, dict) or any(
            not str(body.get(name) or "") for name in ("name", "taskId", "jobId", "result")
        ):
            return 400, {}, _wrapped("name, taskId, jobId and result are required", "ArgumentNullException", 400)
        if body["name"] != "TaskCompleted" or body["result"] not in ("succeeded", "failed"):
            return 400, {}, _wrapped("unknown event or result", "ArgumentException", 400)
        scheme = headers.get("authorization", "").split(" ", 1)[0]
        self.plan_events.append(
            {"project_id": project_id, "hub": hub, "plan_id": plan_id, "body": copy.deepcopy(body), "auth": scheme}
        )
        return 204, {}, None

    def _plan_logs(
        self, method: str, project: str, plan_id: str, rest: list[str], body: Any, caller: str
    ) -> tuple[int, dict[str, str], Any]:
        """Task logs and timeline records of a plan (§1.4 step 3): ``POST …/logs`` {"path"} → {"id"};
        ``POST …/logs/{id}`` (octet-stream lines); ``PATCH …/timelines/{id}/records`` {"value": [...]}."""
        project_id = self._project_id(project)
        if project_id is None or not caller.startswith("job:") or caller[4:] != project_id:
            return 401, {}, None
        kind = rest[0].lower()
        if kind == "logs" and len(rest) == 1 and method == "POST" and isinstance(body, dict) and body.get("path"):
            log_id = len(self.plan_logs) + 1
            self.plan_logs[log_id] = {"plan_id": plan_id, "path": str(body["path"]), "lines": []}
            return 200, {}, {"id": log_id, "path": body["path"], "lineCount": 0, "createdOn": _now()}
        if kind == "logs" and len(rest) == 2 and method == "POST" and rest[1].isdigit():
            log = self.plan_logs.get(int(rest[1]))
            if log is None or log["plan_id"] != plan_id:
                return 404, {}, _wrapped("Log not found", "TaskLogNotFoundException", 404)
            text = body if isinstance(body, str) else ""
            log["lines"] += text.splitlines()
            return 200, {}, {"id": int(rest[1]), "path": log["path"], "lineCount": len(log["lines"])}
        if kind == "timelines" and len(rest) == 3 and rest[2].lower() == "records" and method == "PATCH":
            records = body.get("value") if isinstance(body, dict) else None
            if not isinstance(records, list) or not records:
                return 400, {}, _wrapped("records are required", "ArgumentNullException", 400)
            for record in records:
                self.timeline_records.append({"plan_id": plan_id, "timeline_id": rest[1], "record": record})
            return 200, {}, {"count": len(records), "value": records}
        return 404, {}, _wrapped("Not found", "RouteNotFound", 404)

    def _builds(
        self, project: str, rest: list[str], query: dict[str, list[str]], caller: str
    ) -> tuple[int, dict[str, str], Any]:
        project_id = self._project_id(project)
        if project_id is None:
            return (
                404,
                {},
                _wrapped(
                    f"TF200016: The following project does not exist: {project}.",
                    "ProjectDoesNotExistWithNameException",
                    404,
                ),
            )
        if caller.startswith("job:") and caller[4:] != project_id:
            # A job token is scoped to its own project (the project does not exist for it).
            return 401, {}, None
        if rest:
            build_id = int(rest[0]) if rest[0].isdigit() else -1
            build = self.builds.get(build_id)
            if build is None or build["project_id"] != project_id:
                return (
                    404,
                    {},
                    _wrapped(f"The requested build {rest[0]} could not be found.", "BuildNotFoundException", 404),
                )
            return 200, {}, self.build_json(build_id)
        wanted = {int(x) for x in ",".join(query.get("buildIds", [])).split(",") if x.strip().isdigit()}
        found = [
            self.build_json(build_id)
            for build_id, build in sorted(self.builds.items())
            if build["project_id"] == project_id and (not wanted or build_id in wanted)
        ]
        return 200, {}, {"count": len(found), "value": found}


class _Handler(BaseHTTPRequestHandler):
    emulator: AzureDevOpsEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            # Octet-stream and text bodies (a task log's lines) are kept as text; bad JSON is None.
            content_type = (self.headers.get("Content-Type") or "").lower()
            body = raw.decode("utf-8", "replace") if content_type.startswith(("application/octet", "text/")) else None
        headers = {key.lower(): value for key, value in self.headers.items()}
        query = parse_qs(split.query)
        record = Recorded(self.command, split.path, query, headers, copy.deepcopy(body))
        self.emulator.requests.append(record)
        status, extra, payload = self.emulator.handle(self.command, split.path, query, headers, body)
        record.status = status
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8; api-version=7.1-preview.2")
        for key, value in extra.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--pat", default="good-pat")
    args = parser.parse_args()
    with AzureDevOpsEmulator(pats=(args.pat,)) as emulator:
        print(emulator.org_url, flush=True)
        threading.Event().wait()
