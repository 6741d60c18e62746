"""``strongroom rotations list|rotate``: rotations of credentials (docs/rotation.md).

``list`` prints name, kind, place, mode, status and the last and next rotation (``--plain``: the
names; ``--format json``: the API's objects). ``rotate NAME`` asks the server for a run now (HTTP
202); while a run holds the rotation the server answers 409, reported as one line and exit 9.
``--wait`` then follows the rotation's attempts until the run it queued has finished: exit 0 when
it rotated, 10 with the server's sanitised reason when it failed, 11 when ``--timeout`` ran out.
No password is ever printed: the API never returns one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
import uuid
from typing import Any

from strongroom_cli import config, source
from strongroom_cli.errors import NOT_FOUND, ROTATION_FAILED, ROTATION_RUNNING, USAGE, WAIT_TIMEOUT, CliError
from strongroom_cli.http import ApiError, Client

POLL_FIRST = 0.25  # seconds; doubled up to POLL_CAP while waiting
POLL_CAP = 3.0


def _client(args: argparse.Namespace) -> tuple[Client, str]:
    if args.path and not args.environment:
        raise CliError("--path needs --env (a folder belongs to one environment)", USAGE)
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    project = config.pick(args.project_id, config.PROJECT_ENV)
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    return client, project


def _base(project: str) -> str:
    return source.project_path(project) + "rotations/"


def _rotation_path(project: str, rotation_id: str) -> str:
    return _base(project) + urllib.parse.quote(rotation_id, safe="") + "/"


def _list(client: Client, project: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    query = {"environment": args.environment, "path": args.path}
    answer = client.request("GET", _base(project), query=query)
    return list((answer or {}).get("rotations", []))


def _find(client: Client, project: str, args: argparse.Namespace) -> dict[str, Any]:
    """The rotation called NAME (or with that id) among those the caller sees, narrowed by --env/--path."""
    try:
        uuid.UUID(args.name)
    except ValueError:
        pass
    else:
        found: dict[str, Any] = client.request("GET", _rotation_path(project, args.name))
        return found
    matches = [item for item in _list(client, project, args) if item.get("name") == args.name]
    if not matches:
        where = f" in {args.environment}:{args.path or '/'}" if args.environment else ""
        raise CliError(f"no rotation named {args.name!r}{where} (see `strongroom rotations list`)", NOT_FOUND)
    if len(matches) > 1:
        places = ", ".join(f"{item.get('environment')}:{item.get('path')}" for item in matches)
        raise CliError(f"{len(matches)} rotations are named {args.name!r} ({places}): pass --env and --path", USAGE)
    return matches[0]


def _status(item: dict[str, Any]) -> str:
    return f"{item.get('status')} (paused)" if item.get("paused") else str(item.get("status"))


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n" for row in rows)


def _print_list(args: argparse.Namespace, items: list[dict[str, Any]]) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(items, indent=2) + "\n")
    elif args.plain:
        sys.stdout.write("".join(f"{item.get('name')}\n" for item in items))
    elif not items:
        sys.stderr.write("strongroom: no rotations here (create one in the web UI or with the API)\n")
    else:
        rows = [["NAME", "KIND", "PLACE", "MODE", "STATUS", "LAST ROTATED", "NEXT ROTATION"]]
        rows += [
            [str(item.get("name")), str(item.get("kind")), f"{item.get('environment')}:{item.get('path')}",
             str(item.get("mode")), _status(item), str(item.get("lastRotatedAt") or "never"),
             str(item.get("nextRunAt") or "-")]
            for item in items
        ]  # fmt: skip
        sys.stdout.write(_table(rows))


def _attempts(client: Client, project: str, rotation_id: str) -> list[dict[str, Any]]:
    answer = client.request("GET", _rotation_path(project, rotation_id) + "attempts/")
    return list((answer or {}).get("attempts", []))


def _wait(client: Client, project: str, rotation: dict[str, Any], before: set[str], timeout: float) -> dict[str, Any]:
    """The first attempt that was not there before the request once it has finished.

    Attempts, not the rotation's status, tell when *our* run is done: the status still says
    ``success`` from the previous run while the new one waits in the queue."""
    deadline = time.monotonic() + timeout
    delay = POLL_FIRST
    while True:
        new = [a for a in _attempts(client, project, str(rotation["id"])) if str(a.get("id")) not in before]
        finished = [a for a in new if a.get("outcome") != "running"]
        if finished:
            return finished[-1]  # newest first: the last of them is the earliest, the run we queued
        if time.monotonic() >= deadline:
            state = "is still running" if new else "has not started"
            raise CliError(
                f"the rotation of {rotation.get('name')} {state} after {timeout:g} s; see `strongroom rotations list`",
                WAIT_TIMEOUT,
            )
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(POLL_CAP, delay * 2)


def _rotate(args: argparse.Namespace) -> int:
    client, project = _client(args)
    rotation = _find(client, project, args)
    name = str(rotation.get("name"))
    before = {str(a.get("id")) for a in _attempts(client, project, str(rotation["id"]))} if args.wait else set()
    try:
        client.request("POST", _rotation_path(project, str(rotation["id"])) + "rotate/", body={})
    except ApiError as exc:
        if exc.status == 409:
            raise CliError(f"a rotation of {name} is already running", ROTATION_RUNNING) from None
        raise
    if not args.wait:
        if args.format == "json":
            sys.stdout.write(json.dumps({"queued": True, "rotation": rotation}, indent=2) + "\n")
        else:
            sys.stdout.write(f"rotation of {name} queued\n")
        return 0
    attempt = _wait(client, project, rotation, before, args.timeout)
    if args.format == "json":
        sys.stdout.write(json.dumps({"attempt": attempt}, indent=2) + "\n")
    if attempt.get("outcome") != "success":
        reason = " ".join(str(attempt.get("error") or "no reason given").split())
        raise CliError(
            f"the rotation of {name} failed: {reason} (the owned secrets keep the previous credential)",
            ROTATION_FAILED,
        )
    if args.format != "json":
        sys.stdout.write(f"rotated {name}: the owned secrets now hold user {attempt.get('username')}\n")
    return 0


def handle(args: argparse.Namespace) -> int:
    if args.action == "list":
        client, project = _client(args)
        _print_list(args, _list(client, project, args))
        return 0
    return _rotate(args)
