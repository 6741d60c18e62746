"""Fetching the secrets that ``run`` and ``export`` use, and merging several folders into one map."""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Sequence

from strongroom_cli.errors import USAGE, CliError
from strongroom_cli.http import Client


def _flag(value: bool) -> str:
    return "true" if value else "false"


def project_path(project: str) -> str:
    return "/api/v1/projects/" + urllib.parse.quote(project, safe="") + "/"


def fetch_secrets(
    client: Client,
    *,
    project: str | None,
    environment: str,
    paths: Sequence[str],
    recursive: bool = False,
    include_imports: bool = True,
    expand: bool = True,
    tags: Sequence[str] | None = None,
) -> list[dict]:
    """Every secret (with its value) of *paths*, one request per path, in path order. The server's
    warnings (a quarantined key left out) go to stderr, one line each: the command still runs."""
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    items: list[dict] = []
    for path in paths or ["/"]:
        answer = client.request(
            "GET",
            project_path(project) + "secrets/",
            query={
                "environment": environment,
                "path": path,
                "include_values": "true",
                "expand": _flag(expand),
                "include_imports": _flag(include_imports),
                "recursive": _flag(recursive),
                "tags": ",".join(tags) if tags else None,
            },
        )
        secrets = answer.get("secrets") if isinstance(answer, dict) else None
        if not isinstance(secrets, list):
            raise CliError("the server's answer has no secrets list: is --domain a Strongroom server?", 7)
        items.extend(item for item in secrets if isinstance(item, dict) and isinstance(item.get("key"), str))
        warnings = answer.get("warnings") if isinstance(answer, dict) else None
        for warning in warnings if isinstance(warnings, list) else []:
            if isinstance(warning, str):
                sys.stderr.write(f"strongroom: warning: {warning}\n")
    return items


def merge(items: list[dict]) -> dict[str, str]:
    """One value per key. Later ``--path`` flags win over earlier ones; within one folder listing a
    folder's own secret beats an imported one, and (with ``--recursive``) a deeper folder beats its
    parent — the server lists folders in path order, so later simply wins. Secrets without a readable
    value are left out."""
    own: dict[str, str] = {}
    imported: dict[str, str] = {}
    for item in items:
        value = item.get("value")
        if not isinstance(value, str):
            continue
        target = imported if item.get("importedFrom") else own
        target[item["key"]] = value
    merged = dict(imported)
    merged.update(own)
    return merged
