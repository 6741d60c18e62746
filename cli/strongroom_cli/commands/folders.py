"""``strongroom folders list|create|delete``."""

from __future__ import annotations

import argparse
import sys

from strongroom_cli import config, source
from strongroom_cli.errors import USAGE, CliError
from strongroom_cli.http import Client


def handle(args: argparse.Namespace) -> int:
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    project = config.pick(args.project_id, config.PROJECT_ENV)
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    url = source.project_path(project) + "folders/"
    if args.action == "list":
        answer = client.request("GET", url, query={"environment": args.environment, "path": args.path})
        for folder in answer.get("folders", []) if isinstance(answer, dict) else []:
            sys.stdout.write(f"{folder.get('path')}\n")
    elif args.action == "create":
        answer = client.request(
            "POST", url, body={"environment": args.environment, "path": args.path, "name": args.name}
        )
        sys.stdout.write(f"created {answer.get('path') if isinstance(answer, dict) else args.name}\n")
    else:
        client.request("DELETE", url, query={"environment": args.environment, "path": args.path})
        sys.stdout.write(f"deleted {args.path}\n")
    return 0
