"""``strongroom dynamic-secrets lease create|renew|revoke|list``: leases of dynamic secrets.

``create`` prints the credentials (shown once: the server keeps no copy) — as a table, ``--plain``
(the values only, one per line, in the provider's order), ``--format json`` (the whole answer:
lease, dynamic secret, data) or any export format (``dotenv``, ``azure-devops``, … with
``--prefix``); the lease id and expiry then go to stderr, so stdout holds only the credentials.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from strongroom_cli import config, formats, leases
from strongroom_cli.errors import SERVER, USAGE, CliError
from strongroom_cli.http import Client

LIVE = {"active", "revoking", "failed", "irrevocable"}
STATUSES = ("live", "all", "active", "revoking", "revoked", "failed", "irrevocable")


def _client(args: argparse.Namespace) -> tuple[Client, str]:
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    project = config.pick(args.project_id, config.PROJECT_ENV)
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    return client, project


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n" for row in rows)


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2) + "\n")


def _create(args: argparse.Namespace) -> int:
    ado_run = leases.AdoRun.from_flag(args.ado_run, os.environ)  # before any request: fail fast
    client, project = _client(args)
    path, name = leases.split_name(args.name, args.path)
    secret = leases.find_secret(client, project, environment=args.environment, path=path, name=name)
    answer = leases.lease_create(client, project, str(secret["id"]), args.ttl, ado_run)
    lease, data = answer["lease"], {str(k): str(v) for k, v in answer["data"].items()}
    if args.format == "json":
        _json(answer)
        return 0
    if args.plain:
        sys.stdout.write("".join(value + "\n" for value in data.values()))
    elif args.format == "table":
        rows = [["LEASE", "EXPIRES"], [str(lease["id"]), str(lease["expireAt"])]]
        if lease.get("adoRun"):
            run = lease["adoRun"]
            rows += [["", ""], ["AZURE DEVOPS RUN", "BOUND BY"], [f"{run.get('buildId')} ({run.get('state')})",
                                                                  str(run.get("boundBy"))]]  # fmt: skip
        rows += [["", ""], ["NAME", "VALUE"]]
        rows += [[args.prefix + key, value] for key, value in data.items()]
        sys.stdout.write(_table(rows))
        return 0
    else:
        pairs = [(args.prefix + key, value) for key, value in data.items()]
        sys.stdout.write(formats.FORMATS[args.format](pairs, project=project, environment=args.environment))
    sys.stdout.flush()
    bound = f", bound to Azure DevOps run {lease['adoRun'].get('buildId')}" if lease.get("adoRun") else ""
    sys.stderr.write(f"strongroom: lease {lease['id']} expires at {lease['expireAt']}{bound}\n")
    return 0


def _print_lease(args: argparse.Namespace, lease: dict[str, Any], verb: str) -> None:
    if args.format == "json":
        _json({"lease": lease})
    elif args.plain:
        sys.stdout.write(f"{lease.get('expireAt') if verb == 'renewed' else lease.get('status')}\n")
    else:
        sys.stdout.write(f"lease {lease.get('id')} {verb}: {lease.get('status')}, expires at {lease.get('expireAt')}\n")


def _renew(args: argparse.Namespace) -> int:
    client, project = _client(args)
    _print_lease(args, leases.lease_renew(client, project, args.lease_id, args.ttl), "renewed")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    client, project = _client(args)
    lease = leases.lease_revoke(client, project, args.lease_id, force=args.force)
    _print_lease(args, lease, "revoked")
    if lease.get("status") != "revoked":
        reason = lease.get("lastError") or lease.get("status")
        raise CliError(f"lease {args.lease_id} is not revoked yet ({reason}); the server keeps trying", SERVER)
    return 0


def _list(args: argparse.Namespace) -> int:
    client, project = _client(args)
    status = None if args.status == "all" else args.status
    if args.name:
        path, name = leases.split_name(args.name, args.path)
        secret = leases.find_secret(client, project, environment=args.environment, path=path, name=name)
        answer = client.request(
            "GET", leases.source.project_path(project) + "dynamic-secrets/" + str(secret["id"]) + "/leases/"
        )
        wanted = LIVE if status == "live" else {status}
        items = [item for item in (answer or {}).get("leases", []) if status is None or item.get("status") in wanted]
    else:
        query = {"environment": args.environment, "path": args.path if args.path != "/" else None, "status": status}
        answer = client.request("GET", leases.source.project_path(project) + "leases/", query=query)
        items = list((answer or {}).get("leases", []))
    if args.format == "json":
        _json(items)
    elif args.plain:
        sys.stdout.write("".join(f"{item.get('id')}\n" for item in items))
    else:
        rows = [["ID", "DYNAMIC SECRET", "STATUS", "EXPIRES", "USER", "HOLDER"]]
        rows += [
            [str(item.get("id")), f"{item.get('environment')}:{item.get('path')} {item.get('dynamicSecretName')}",
             str(item.get("status")), str(item.get("expireAt")), str(item.get("externalEntityId")),
             str((item.get("consumer") or {}).get("label", ""))]
            for item in items
        ]  # fmt: skip
        sys.stdout.write(_table(rows))
    return 0


def handle(args: argparse.Namespace) -> int:
    return {"create": _create, "renew": _renew, "revoke": _revoke, "delete": _revoke, "list": _list}[args.action](args)
