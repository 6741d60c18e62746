"""``strongroom secrets list|get|set|delete``."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse

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


def _secret_url(project: str, key: str) -> str:
    return source.project_path(project) + "secrets/" + urllib.parse.quote(key, safe="") + "/"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n" for row in rows)


def _list(args: argparse.Namespace) -> int:
    client, project = _client(args)
    answer = client.request(
        "GET",
        source.project_path(project) + "secrets/",
        query={
            "environment": args.environment,
            "path": args.path,
            "include_values": "true" if args.values else "false",
            "expand": "true" if args.expand else "false",
            "include_imports": "true" if args.include_imports else "false",
            "recursive": "true" if args.recursive else "false",
            "tags": ",".join(args.tags) if args.tags else None,
        },
    )
    secrets = answer.get("secrets", []) if isinstance(answer, dict) else []
    if args.json:
        sys.stdout.write(json.dumps(secrets, indent=2, ensure_ascii=False) + "\n")
        return 0
    rows = [["KEY", "PATH", "VERSION", "TAGS"] + (["VALUE"] if args.values else [])]
    for item in secrets:
        row = [str(item.get("key")), str(item.get("path")), str(item.get("version")), ",".join(item.get("tags") or [])]
        if args.values:
            row.append(
                json.dumps(item.get("value"), ensure_ascii=False)
                if "\n" in str(item.get("value"))
                else str(item.get("value"))
            )
        rows.append(row)
    sys.stdout.write(_table(rows))
    return 0


def _get(args: argparse.Namespace) -> int:
    client, project = _client(args)
    values: dict[str, str] = {}
    for key in args.keys:
        answer = client.request(
            "GET",
            _secret_url(project, key),
            query={
                "environment": args.environment,
                "path": args.path,
                "expand": "true" if args.expand else "false",
                "include_imports": "true" if args.include_imports else "false",
            },
        )
        values[key] = str(answer.get("value", "")) if isinstance(answer, dict) else ""
    if args.plain:
        sys.stdout.write("".join(value + "\n" for value in values.values()))
    else:
        rows = [["KEY", "VALUE"]] + [
            [k, json.dumps(v, ensure_ascii=False) if "\n" in v else v] for k, v in values.items()
        ]
        sys.stdout.write(_table(rows))
    return 0


def _assignments(args: argparse.Namespace) -> list[dict]:
    items: list[dict] = []
    for assignment in args.assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise CliError("secrets set: expected KEY=VALUE (the value may be empty)", USAGE)
        items.append({"key": key, "value": value})
    for assignment in args.from_files:
        key, sep, path = assignment.partition("=")
        if not sep or not key or not path:
            raise CliError("secrets set: --from-file expects KEY=PATH", USAGE)
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                items.append({"key": key, "value": handle.read()})
        except OSError as exc:
            raise CliError(f"secrets set: cannot read {path}: {exc.strerror}", USAGE) from None
    if not items:
        raise CliError("secrets set: nothing to set (KEY=VALUE or --from-file KEY=PATH)", USAGE)
    return items


def _set(args: argparse.Namespace) -> int:
    client, project = _client(args)
    items = _assignments(args)
    if args.type == "personal":
        for item in items:
            body = {
                "environment": args.environment,
                "path": args.path,
                "key": item["key"],
                "value": item["value"],
                "type": "personal",
            }
            try:
                client.request("POST", source.project_path(project) + "secrets/", body=body)
            except CliError as exc:
                if getattr(exc, "status", None) != 409:
                    raise
                client.request(
                    "PATCH",
                    _secret_url(project, item["key"]),
                    query={"environment": args.environment, "path": args.path, "type": "personal"},
                    body={"value": item["value"]},
                )
        sys.stdout.write("".join(f"set {item['key']} (personal)\n" for item in items))
        return 0
    answer = client.request(
        "POST",
        source.project_path(project) + "secrets/bulk/",
        body={"environment": args.environment, "path": args.path, "secrets": items},
    )
    answer = answer if isinstance(answer, dict) else {}
    for outcome in ("created", "updated", "unchanged"):
        for key in answer.get(outcome, []):
            sys.stdout.write(f"{outcome} {key}\n")
    return 0


def _delete(args: argparse.Namespace) -> int:
    client, project = _client(args)
    for key in args.keys:
        client.request(
            "DELETE",
            _secret_url(project, key),
            query={"environment": args.environment, "path": args.path, "type": args.type},
        )
        sys.stdout.write(f"deleted {key}\n")
    return 0


def handle(args: argparse.Namespace) -> int:
    return {"list": _list, "get": _get, "set": _set, "delete": _delete}[args.action](args)
