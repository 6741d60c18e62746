"""``strongroom check parity --from staging --to prod``: before a promotion, are the keys of the
source environment all present in the target?

Exit codes (as ``diff`` has them, so a pipeline step can branch on them): 0 parity holds, 1 it
does not (the differences follow, one per line), 2 the check could not run (usage, credentials,
permission, connection: one ``strongroom: error:`` line; main.CHECK_ERROR).

Lines on stdout, one per key, ``PATH:KEY`` after a fixed word so scripts can grep them:

    missing NEW_FLAG at /                 in the source, not in the target (fails)
    extra LEGACY at /                     in the target, not in the source (fails with --fail-on-extra)
    warning: same value API_TOKEN at /    equal values in both (fails with --fail-on-same-value)
    unknown CACHE at /backend (…)         you may not see enough to decide (presence unknown fails)

and a last line saying whether parity holds. ``--json`` prints the API's answer instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from strongroom_cli import config
from strongroom_cli.errors import USAGE, CliError
from strongroom_cli.http import Client
from strongroom_cli.source import project_path

PARITY_HOLDS, PARITY_FAILS = 0, 1

_UNKNOWN = {
    "presence": "you may not list it in the other environment",
    "value": "you may not read its value in both environments",
}


def _entries(answer: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = answer.get(name)
    if not isinstance(items, list):
        raise CliError("the server's answer is not a parity report: is --domain a Strongroom server?", USAGE)
    return [item for item in items if isinstance(item, dict)]


def _where(item: dict[str, Any]) -> str:
    quarantined = " (quarantined)" if item.get("quarantined") else ""
    return f"{item.get('key')} at {item.get('path')}{quarantined}"


def handle(args: argparse.Namespace) -> int:
    if args.action != "parity":
        raise CliError("`strongroom check` needs a check: parity", USAGE)
    project = config.pick(args.project_id, config.PROJECT_ENV)
    if not project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    if args.source == args.target:
        raise CliError("--from and --to name the same environment", USAGE)
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    answer = client.request(
        "GET",
        project_path(project) + "governance/parity/",
        query={
            "from": args.source,
            "to": args.target,
            "path": args.path,
            "recursive": "true" if args.recursive else "false",
        },
    )
    if not isinstance(answer, dict):
        raise CliError("the server's answer is not a parity report: is --domain a Strongroom server?", USAGE)
    missing, extra = _entries(answer, "missing"), _entries(answer, "extra")
    same, unknown = _entries(answer, "sameValue"), _entries(answer, "unknown")
    presence_unknown = [item for item in unknown if item.get("reason") == "presence"]
    fails = bool(missing or presence_unknown or (args.fail_on_extra and extra) or (args.fail_on_same_value and same))
    if args.json:
        sys.stdout.write(json.dumps(answer, indent=2, sort_keys=True) + "\n")
        return PARITY_FAILS if fails else PARITY_HOLDS
    lines = [f"missing {_where(item)}" for item in missing]
    lines += [f"extra {_where(item)}" for item in extra]
    lines += [f"warning: same value {_where(item)}" for item in same]
    lines += [f"unknown {_where(item)} ({_UNKNOWN.get(str(item.get('reason')), 'unknown')})" for item in unknown]
    source, target = answer.get("source", args.source), answer.get("target", args.target)
    counts = f"{len(missing)} missing, {len(extra)} extra, {len(same)} with the same value"
    if unknown:
        counts += f", {len(unknown)} unknown"
    verdict = "does not hold" if fails else "holds"
    lines.append(f"parity from {source} to {target} at {answer.get('path', args.path)} {verdict}: {counts}")
    sys.stdout.write("\n".join(lines) + "\n")
    return PARITY_FAILS if fails else PARITY_HOLDS
