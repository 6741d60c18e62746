"""``strongroom approvals list|show``: read-only views of change requests. Approving, rejecting
and merging happen in the browser (the review page), where values can be compared on purpose."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from typing import Any

from strongroom_cli import config, source
from strongroom_cli.errors import USAGE, CliError
from strongroom_cli.http import Client


def _client(args: argparse.Namespace) -> tuple[Client, str]:
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    project = config.pick(args.project_id, config.PROJECT_ENV)
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    return client, project


def _keys(request: dict[str, Any]) -> str:
    keys = [str(item.get("key")) for item in request.get("items", []) if item.get("key")]
    return ",".join(keys) if keys else str(request.get("operation", ""))


def _list(args: argparse.Namespace) -> int:
    client, project = _client(args)
    query = {"status": args.status} if args.status else None
    answer = client.request("GET", source.project_path(project) + "change-requests/", query=query)
    requests = answer.get("changeRequests", []) if isinstance(answer, dict) else []
    if args.json:
        sys.stdout.write(json.dumps(requests, indent=2) + "\n")
        return 0
    rows = [["ID", "STATUS", "WHERE", "KEYS", "APPROVALS", "BY"]]
    for request in requests:
        rows.append(
            [
                str(request.get("slug")),
                str(request.get("status")),
                f"{request.get('environment')}:{request.get('path')}",
                _keys(request),
                f"{request.get('approvals')}/{request.get('approvalsRequired')}",
                str((request.get("committer") or {}).get("name", "")),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    sys.stdout.write("".join("  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() + "\n" for r in rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    client, project = _client(args)
    url = source.project_path(project) + "change-requests/" + urllib.parse.quote(args.request_id, safe="") + "/"
    request = client.request("GET", url)
    request = request if isinstance(request, dict) else {}
    if args.json:
        sys.stdout.write(json.dumps(request, indent=2) + "\n")
        return 0
    policy = request.get("policy") or {}
    lines = [
        f"Change request {request.get('slug')} ({request.get('id')})",
        f"status:     {request.get('status')}" + (" (break-glass)" if request.get("bypassed") else ""),
        f"where:      {request.get('environment')}:{request.get('path')} ({request.get('operation')})",
        f"requested:  by {(request.get('committer') or {}).get('name', '')} at {request.get('createdAt')}",
        f"policy:     {policy.get('name', '-')} ({policy.get('enforcement', '-')})",
        f"approvals:  {request.get('approvals')} of {request.get('approvalsRequired')} (revision {request.get('revision')})",
        f"expires:    {request.get('expiresAt')}",
    ]
    if request.get("rejectedBy"):
        lines.append(f"rejected:   by {', '.join(request['rejectedBy'])}")
    lines.append("changes:")
    for item in request.get("items", []):
        conflict = f"  CONFLICT: {item.get('conflictReason')}" if item.get("conflict") else ""
        base = f" (based on v{item.get('baseVersion')})" if item.get("baseVersion") else ""
        lines.append(f"  {item.get('op'):<16} {item.get('key') or '-'}{base}{conflict}")
    lines.append(f"review:     {request.get('url')}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def handle(args: argparse.Namespace) -> int:
    return {"list": _list, "show": _show}[args.action](args)
