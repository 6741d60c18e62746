"""``strongroom ado discover|scans|resources|findings|import``: the Azure DevOps estate of an
organization (organization admins; docs/cli.md, "strongroom ado").

``discover`` asks the server to scan the Azure DevOps organization behind a connection (read only);
with ``--wait`` it follows the scan, printing progress lines (projects done of total) on stderr,
and ends with a summary: what was found and the open findings by severity. When a scan of that
Azure DevOps organization is already queued or running, ``--wait`` follows that one instead.
``resources`` and ``findings`` list the inventory (names and flags, never a value). ``import``
brings one variable group or pipeline's variables into a Strongroom place: it creates (or finds)
the import, shows its preview, and with ``--apply`` writes it.

Exit codes (as ``check`` has them, so a pipeline step can branch on them): 0 done (the scan
succeeded, the import applied); 1 the scan failed or was cancelled, a scan is already running
(without ``--wait``), the import could not be completed, or ``--timeout`` ran out; 2 any other
error (usage, credentials, permission, not found, connection): one ``strongroom: error:`` line.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import time
import urllib.parse
from typing import Any

from strongroom_cli import config
from strongroom_cli.errors import CliError, PendingApproval
from strongroom_cli.http import ApiError, Client

DONE, FAILED, ERROR = 0, 1, 2
POLL_FIRST = 0.2  # seconds; doubled up to POLL_CAP while waiting
POLL_CAP = 2.0
PAGE = 500
ENDED = ("succeeded", "failed", "cancelled")
SEVERITIES = ("high", "medium", "low", "info")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class Failed(CliError):
    """The work ran and did not succeed (exit 1), as opposed to an error (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, FAILED)


# --- plumbing -------------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> tuple[Client, str]:
    org = (args.org or "").strip()
    if not org:
        raise CliError("no organization: pass --org ORG_SLUG", ERROR)
    domain = config.resolve_domain(args.domain)
    client = Client(domain, config.resolve_token(args.token, domain))
    return client, "/api/v1/organizations/" + urllib.parse.quote(org, safe="") + "/estate/"


def _every(client: Client, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of a paged list (``limit``/``offset``), page after page."""
    rows: list[dict[str, Any]] = []
    while True:
        answer = client.request("GET", path, query={**query, "limit": PAGE, "offset": len(rows)})
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise CliError("the server's answer is not a page of results: is --domain a Strongroom server?", ERROR)
        page = [row for row in answer["results"] if isinstance(row, dict)]
        rows += page
        if not page or len(rows) >= int(answer.get("count") or 0):
            return rows


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n" for row in rows)


def _cell(value: Any) -> str:
    # A spreadsheet runs a cell that starts like a formula: Azure DevOps names are not ours to trust.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return buffer.getvalue()


def _print(args: argparse.Namespace, data: Any, header: list[str], rows: list[list[Any]], empty: str) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
    elif args.format == "csv":
        sys.stdout.write(_csv(header, rows))
    elif not rows:
        sys.stderr.write(f"strongroom: {empty}\n")
    else:
        sys.stdout.write(_table([header, *[[str("" if v is None else v) for v in row] for row in rows]]))


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


# --- discover -------------------------------------------------------------------------------------


def _progress_line(scan: dict[str, Any]) -> str:
    progress = _obj(scan.get("progress"))
    total, done = progress.get("projectsTotal"), progress.get("projectsDone")
    line = f"strongroom: scan {scan.get('status')}"
    if isinstance(total, int):
        line += f": projects {done or 0}/{total}"
    if progress.get("phase"):
        line += f" ({progress['phase']})"
    return line + "\n"


def _start(client: Client, base: str, args: argparse.Namespace) -> str:
    """The id of the scan to follow: the one we queued, or (with --wait) the one already running."""
    try:
        scan = client.request("POST", base + "scans/", body={"connection": args.connection, "trigger": "cli"})
    except ApiError as exc:
        if exc.status != 409:
            raise
        running = _UUID.search(str(exc.details.get("message", "")))
        if not args.wait:
            raise Failed(
                f"a scan of this Azure DevOps organization is already queued or running"
                f"{f' ({running.group(0)})' if running else ''}; pass --wait to follow it"
            ) from None
        if running is None:
            raise
        sys.stderr.write(f"strongroom: a scan is already running ({running.group(0)}); following it\n")
        return running.group(0)
    if not isinstance(scan, dict) or not scan.get("id"):
        raise CliError("the server's answer is not a scan: is --domain a Strongroom server?", ERROR)
    return str(scan["id"])


def _follow(client: Client, base: str, scan_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay, last = POLL_FIRST, ""
    while True:
        scan = client.request("GET", f"{base}scans/{scan_id}/")
        if not isinstance(scan, dict):
            raise CliError("the server's answer is not a scan: is --domain a Strongroom server?", ERROR)
        line = _progress_line(scan)
        if line != last:
            sys.stderr.write(line)
            last = line
        if scan.get("status") in ENDED:
            return scan
        if time.monotonic() >= deadline:
            raise Failed(f"the scan {scan_id} is still {scan.get('status')} after {timeout:g} s (it goes on)")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(POLL_CAP, delay * 2)


def _summary_lines(scan: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    counts = _obj(scan.get("counts"))
    diff = _obj(scan.get("diff"))
    found = ", ".join(
        _plural(int(counts.get(key) or 0), word)
        for key, word in (
            ("projects", "project"),
            ("variableGroups", "variable group"),
            ("pipelines", "pipeline"),
            ("serviceConnections", "service connection"),
            ("secureFiles", "secure file"),
            ("secretVariables", "secret variable"),
        )
    )
    by_severity = _obj(summary.get("findingsBySeverity"))
    findings = ", ".join(f"{int(by_severity.get(level) or 0)} {level}" for level in SEVERITIES)
    return [
        f"scan {scan.get('id')} of {scan.get('organizationUrl')} {scan.get('status')}",
        f"found: {found}",
        f"changes since the previous scan: {int(diff.get('added') or 0)} added, "
        f"{int(diff.get('changed') or 0)} changed, {int(diff.get('removed') or 0)} removed",
        f"open findings: {int(summary.get('openFindings') or 0)} ({findings})",
    ]


def _discover(args: argparse.Namespace) -> int:
    if not (args.connection or "").strip():
        raise CliError("no connection: pass --connection NAME (an Azure DevOps connection)", ERROR)
    if args.timeout <= 0:
        raise CliError("--timeout must be a positive number of seconds", ERROR)
    client, base = _client(args)
    scan_id = _start(client, base, args)
    if not args.wait:
        scan = client.request("GET", f"{base}scans/{scan_id}/")
        if args.format == "json":
            sys.stdout.write(json.dumps({"scan": scan}, indent=2, sort_keys=True) + "\n")
        else:
            sys.stdout.write(f"scan {scan_id} queued; follow it with `strongroom ado scans --org {args.org}`\n")
        return DONE
    scan = _follow(client, base, scan_id, args.timeout)
    summary = client.request("GET", base + "summary/") if scan.get("status") == "succeeded" else {}
    summary = _obj(summary)
    if args.format == "json":
        sys.stdout.write(json.dumps({"scan": scan, "summary": summary}, indent=2, sort_keys=True) + "\n")
    elif scan.get("status") == "succeeded":
        sys.stdout.write("\n".join(_summary_lines(scan, summary)) + "\n")
    if scan.get("status") != "succeeded":
        reason = " ".join(str(scan.get("error") or "").split())
        raise Failed(f"the scan {scan_id} {scan.get('status')}" + (f": {reason}" if reason else ""))
    return DONE


# --- lists ----------------------------------------------------------------------------------------


def _scans(args: argparse.Namespace) -> int:
    client, base = _client(args)
    answer = client.request("GET", base + "scans/", query={"limit": args.limit})
    scans = [row for row in (answer or {}).get("results", []) if isinstance(row, dict)]
    rows = [
        [s.get("id"), s.get("status"), (s.get("connection") or {}).get("name"), s.get("queuedAt"),
         s.get("finishedAt") or "", (s.get("counts") or {}).get("findings", ""), s.get("error") or ""]
        for s in scans
    ]  # fmt: skip
    header = ["ID", "STATUS", "CONNECTION", "QUEUED", "FINISHED", "FINDINGS", "ERROR"]
    _print(args, scans, header, rows, "no scans yet: run `strongroom ado discover`")
    return DONE


def _resources(args: argparse.Namespace) -> int:
    client, base = _client(args)
    query = {"kind": args.kind, "project": args.project, "finding": args.finding, "q": args.q}
    if args.include_removed:
        query["includeRemoved"] = "true"
    items = _every(client, base + "resources/", {k: v for k, v in query.items() if v})
    rows = [
        [r.get("id"), r.get("kind"), r.get("adoProjectName"), r.get("name"), r.get("variableCount"),
         r.get("secretCount"), "removed" if r.get("removedAt") else ""]
        for r in items
    ]  # fmt: skip
    header = ["ID", "KIND", "PROJECT", "NAME", "VARIABLES", "SECRET", "STATE"]
    _print(args, items, header, rows, "no resources: run `strongroom ado discover` first")
    return DONE


def _findings(args: argparse.Namespace) -> int:
    client, base = _client(args)
    query = {"kind": args.kind, "severity": args.severity}
    if args.include_resolved:
        query["includeResolved"] = "true"
    items = _every(client, base + "findings/", {k: v for k, v in query.items() if v})
    rows = [
        [f.get("id"), f.get("severity"), f.get("kind"), (f.get("resource") or {}).get("adoProjectName", ""),
         (f.get("resource") or {}).get("name", ""), f.get("subject"), f.get("detail")]
        for f in items
    ]  # fmt: skip
    header = ["ID", "SEVERITY", "KIND", "PROJECT", "RESOURCE", "SUBJECT", "DETAIL"]
    _print(args, items, header, rows, "no open findings")
    return DONE


# --- import ---------------------------------------------------------------------------------------


def _import_body(args: argparse.Namespace) -> dict[str, Any]:
    if not str(args.resource).isdigit():
        raise CliError("--resource takes a resource's id, a number (see `strongroom ado resources`)", ERROR)
    keys: dict[str, str] = {}
    for pair in args.keys:
        name, sep, key = pair.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise CliError(f"--key takes ADO_NAME=KEY, got {pair!r}", ERROR)
        keys[name.strip()] = key.strip()
    body: dict[str, Any] = {
        "resource": int(args.resource),
        "project": args.project,
        "environment": args.environment,
        "path": args.path,
    }
    if keys:
        body["keys"] = keys
    if args.skips:
        body["skip"] = list(args.skips)
    return body


def _values_csv(args: argparse.Namespace) -> str | None:
    """The CSV's text (read before anything is sent: a wrong path writes nothing). Never printed."""
    if not args.values_csv:
        return None
    try:
        with open(args.values_csv, encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise CliError(f"cannot read --values-csv {args.values_csv}: {reason}", ERROR) from None


def _preview_lines(preview: dict[str, Any]) -> list[str]:
    rows = [["ADO NAME", "KEY", "SECRET", "SOURCE", "ACTION", "NOTE"]]
    rows += [
        [str(r.get("adoName")), str(r.get("key")), "yes" if r.get("isSecret") else "no", str(r.get("source")),
         str(r.get("action")), " ".join(str(r.get("note") or "").split())]
        for r in preview.get("rows") or [] if isinstance(r, dict)
    ]  # fmt: skip
    counts = _obj(preview.get("counts"))
    lines = _table(rows).splitlines()
    lines.append("preview: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items())))
    for name in ("vaultError", "syncNote"):
        if preview.get(name):
            lines.append(f"note: {' '.join(str(preview[name]).split())}")
    return lines


def _import(args: argparse.Namespace) -> int:
    if args.convert_to_sync and not args.yes:
        raise CliError("--convert-to-sync overwrites the group in Azure DevOps: confirm with --yes", ERROR)
    if args.sync_name and not args.convert_to_sync:
        raise CliError("--sync-name goes with --convert-to-sync", ERROR)
    body, values = _import_body(args), _values_csv(args)
    client, base = _client(args)
    created = client.request("POST", base + "imports/", body=body)
    if not isinstance(created, dict) or not created.get("id"):
        raise CliError("the server's answer is not an import: is --domain a Strongroom server?", ERROR)
    path = f"{base}imports/{created['id']}/"
    out: dict[str, Any] = {"preview": client.request("POST", path + "preview/", body={})}
    text = [] if args.format == "json" else _preview_lines(out["preview"] or {})
    if args.apply:
        counts = _obj(_obj(client.request("POST", path + "apply/", body={})).get("counts"))
        text.append("applied: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(counts.items())))
    if values is not None:
        entered = _obj(client.request("POST", path + "values/", body={"csv": values}))
        done = [i for i in entered.get("items") or [] if isinstance(i, dict) and i.get("status") == "imported"]
        text.append(f"values entered: {len(done)} of {len(entered.get('items') or [])} items imported")
    if args.convert_to_sync:
        convert: dict[str, Any] = {"confirm": True, **({"name": args.sync_name} if args.sync_name else {})}
        out["conversion"] = _obj(client.request("POST", path + "convert-to-sync/", body=convert))
        sync = _obj(out["conversion"].get("sync"))
        text.append(f"converted: the sync {sync.get('name')} ({sync.get('id')}) now owns the group")
    final = _obj(client.request("GET", path))
    out["import"] = final
    status = str(final.get("status"))
    text.append(f"import {final.get('id')}: {status} into {final.get('project')}:{final.get('environment')}"
                f"{final.get('path')}")  # fmt: skip
    if args.show_yaml and args.format != "json":
        yaml = _obj(final.get("pipelineYaml"))
        text += ["", "# the pipeline step that reads them from Strongroom:", str(yaml.get("cli") or "").rstrip()]
        if yaml.get("oidc"):
            text += ["", "# or with workload identity federation (OIDC):", str(yaml["oidc"]).rstrip()]
    if args.format == "json":
        sys.stdout.write(json.dumps(out, indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write("\n".join(text) + "\n")
    if status == "needs_values":
        missing = [str(i.get("adoName")) for i in final.get("items") or [] if i.get("status") == "needs_value"]
        raise Failed(f"{len(missing)} need a value Azure DevOps does not return: {', '.join(missing)} "
                     "(enter them with --values-csv FILE, rows name,value)")  # fmt: skip
    if status in ("held", "failed"):
        why = f" (change request {final.get('changeRequestId')})" if status == "held" else f": {final.get('error')}"
        raise Failed(f"the import is {status}{why}")
    return DONE


def handle(args: argparse.Namespace) -> int:
    actions = {
        "discover": _discover,
        "scans": _scans,
        "resources": _resources,
        "findings": _findings,
        "import": _import,
    }
    try:
        return actions[args.action](args)
    except Failed:
        raise
    except PendingApproval as exc:  # a change policy held the write: not done, not an error
        raise Failed(exc.message) from None
    except ApiError as exc:
        # The generic hint names --projectId/--env/--path; here a 404 is the organization or an id.
        message = exc.message.replace("; check --projectId, --env and --path", "; check --org and the ids given")
        raise CliError(message, ERROR) from None
    except CliError as exc:
        raise CliError(exc.message, ERROR) from None
