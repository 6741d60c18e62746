"""``strongroom gate``: ask a pipeline gate whether the secrets this pipeline reads are in order,
from a script step (the same policy the Azure DevOps Invoke REST API check gets; docs/governance.md).

Exit codes (its own, for scripts): 0 the gate passes; 1 it fails — each reason on a line of its own
on stdout (in Azure Pipelines, also as ``##vso[task.logissue type=error]`` lines); 2 usage,
authentication or connection errors — one readable line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.parse

from strongroom_cli import config
from strongroom_cli.errors import CliError
from strongroom_cli.http import Client

PASS, FAIL, ERROR = 0, 1, 2
GATE_ENV = ("STRONGROOM_GATE_ID",)


def handle(args: argparse.Namespace) -> int:
    try:
        gate = config.pick(args.gate, GATE_ENV)
        if not gate:
            raise CliError("no gate: pass --gate (or set STRONGROOM_GATE_ID)", ERROR)
        domain = config.resolve_domain(args.domain)
        client = Client(domain, config.resolve_token(args.token, domain))
        path = f"/api/v1/governance/pipeline-gates/{urllib.parse.quote(gate, safe='')}/evaluate"
        answer = client.request("POST", path, idempotent_post=False)  # an evaluation writes nothing
    except CliError as exc:
        raise CliError(exc.message, ERROR) from None
    if not isinstance(answer, dict) or answer.get("status") not in ("pass", "fail"):
        raise CliError(f"{domain} did not answer like a Strongroom gate", ERROR)
    if answer["status"] == "pass":
        sys.stdout.write(f"pass: {answer.get('reason', '')}\n")
        return PASS
    findings = [item for item in answer.get("findings") or [] if isinstance(item, dict)]
    reasons = [str(item.get("message", "")) for item in findings] or [str(answer.get("reason", "failed"))]
    in_azure_pipelines = os.environ.get("TF_BUILD", "").lower() == "true"
    for reason in reasons:
        line = " ".join(reason.split())
        sys.stdout.write(f"##vso[task.logissue type=error]{line}\n" if in_azure_pipelines else f"{line}\n")
    sys.stderr.write(f"strongroom: the gate failed ({len(reasons)} reason{'s' if len(reasons) != 1 else ''})\n")
    return FAIL
