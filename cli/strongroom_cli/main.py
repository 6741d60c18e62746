"""``strongroom``: argument parsing and the one place errors become an exit code and a line.

Only argparse and the small config module load at start; each command's module is imported
when it runs, so ``strongroom --version`` and ``strongroom run`` start quickly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from strongroom_cli import __version__
from strongroom_cli.errors import USAGE, CliError, PendingApproval

STATUSES = ("live", "all", "active", "revoking", "revoked", "failed", "irrevocable")
ADO_RUN_HELP = (
    "bind the lease to this Azure DevOps run (revoked when the run completes): ORG/PROJECT/BUILD_ID, ORG a name "
    "or $(System.CollectionUri); `auto` reads the pipeline's SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECTID (or "
    "SYSTEM_TEAMPROJECT) and BUILD_BUILDID. The proof, System.AccessToken, is read from SYSTEM_ACCESSTOKEN only"
)
FORMAT_NAMES = ("dotenv", "dotenv-export", "json", "yaml", "csv", "tfvars", "azure-devops", "github-actions")
EPILOG = """exit codes: 0 ok · 1 usage or invalid request · 2 not authenticated (401, no token) ·
3 forbidden (403) · 4 not found (404) · 5 server unreachable · 6 server sealed ·
7 rate limited or server error after retries · 8 held for approval (a change request was opened) ·
9 a rotation is already running · 10 the rotation failed · 11 timed out waiting for a rotation ·
gate: 0 pass · 1 fail (the reasons on stdout, one per line) · 2 usage, auth or connection error ·
ado: 0 done · 1 the scan or import failed (or a scan is already running) · 2 any other error ·
run: the command's own exit code
(128+N when it died of signal N; 126 not executable, 127 not found). See docs/cli.md."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(f"{message} (see `{self.prog} --help`)", USAGE)


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help_text: str) -> None:
    # Go-style boolean flags, as the Infisical CLI has them: --expand, --expand=true, --expand=false.
    parser.add_argument(
        name,
        dest=name.lstrip("-").replace("-", "_"),
        nargs="?",
        const=True,
        default=default,
        type=parse_bool,
        metavar="true|false",
        help=f"{help_text} (default {str(default).lower()})",
    )


def _gate_usage_error(message: str) -> None:
    raise CliError(f"{message} (see `strongroom gate --help`)", 2)


def build_parser() -> Parser:
    connection = Parser(add_help=False)
    connection.add_argument("--domain", help="server URL (env STRONGROOM_API_URL; default http://127.0.0.1:8000)")
    connection.add_argument("--token", help="access token (env STRONGROOM_TOKEN, INFISICAL_TOKEN; or the stored login)")

    place = Parser(add_help=False)
    place.add_argument(
        "--projectId",
        "--project-id",
        "--project",
        dest="project_id",
        help="project id or slug (env STRONGROOM_PROJECT_ID)",
    )
    place.add_argument("--env", dest="environment", default="dev", help="environment slug (default dev)")

    selection = Parser(add_help=False)
    _bool_flag(selection, "--recursive", False, "include subfolders")
    _bool_flag(selection, "--include-imports", True, "include imported secrets")
    _bool_flag(selection, "--expand", True, "expand ${...} references")
    selection.add_argument("--tags", type=parse_tags, help="only secrets with any of these tag slugs (a,b)")

    parser = Parser(prog="strongroom", description="Strongroom secrets from the command line.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"strongroom {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    login = commands.add_parser("login", parents=[connection], help="log in with a machine identity")
    login.add_argument(
        "--method",
        default="universal-auth",
        choices=("universal-auth", "jwt-auth", "oidc-auth", "kubernetes", "kubernetes-auth"),
    )
    login.add_argument("--client-id", dest="client_id", help="universal-auth (env STRONGROOM_CLIENT_ID)")
    login.add_argument("--client-secret", dest="client_secret", help="universal-auth (env STRONGROOM_CLIENT_SECRET)")
    login.add_argument("--machine-identity-id", "--identity-id", dest="machine_identity_id")
    login.add_argument("--jwt", help="jwt-auth / oidc-auth: the token to present (env STRONGROOM_JWT)")
    login.add_argument("--service-account-token-path", dest="service_account_token_path", help="kubernetes")
    login.add_argument("--plain", action="store_true", help="print only the token and store nothing")
    login.add_argument("--silent", action="store_true", help="print nothing else")
    login.set_defaults(module="login")

    logout = commands.add_parser("logout", help="forget the stored login")
    logout.set_defaults(module="whoami", action="logout")

    run = commands.add_parser(
        "run",
        parents=[connection, place, selection],
        help="run a command with secrets in its environment",
        usage="strongroom run [options] -- COMMAND [ARGS...]  |  strongroom run [options] -c 'shell command'",
    )
    run.add_argument("--path", dest="paths", action="append", help="folder (repeatable; later ones win; default /)")
    run.add_argument("-c", "--command", dest="shell_command", help="run this through sh -c")
    run.add_argument("--watch", action="store_true", help="restart the command when secrets change")
    run.add_argument("--watch-interval", type=float, default=10.0, help="seconds between checks (default 10)")
    run.add_argument("--mask", action="store_true", help="replace secret values in the command's output with ***")
    run.add_argument(
        "--lease",
        dest="leases",
        action="append",
        metavar="NAME[:PREFIX]",
        help="take a lease of this dynamic secret (NAME in the last --path, or /folder/NAME) for the command: "
        "its credentials as PREFIX+DB_USERNAME…, renewed while it runs, revoked when it ends (repeatable)",
    )
    run.add_argument("--lease-ttl", dest="lease_ttl", help="TTL of each lease and renewal (default: the secret's)")
    run.add_argument("--ado-run", dest="ado_run", metavar="ORG/PROJECT/BUILD_ID|auto", help=ADO_RUN_HELP)
    run.set_defaults(module="run")

    export = commands.add_parser("export", parents=[connection, place, selection], help="print secrets in a format")
    export.add_argument("--path", dest="paths", action="append", help="folder (repeatable; later ones win; default /)")
    export.add_argument("--format", "-f", default="dotenv", choices=FORMAT_NAMES)
    export.add_argument("--prefix", default="", help="prepend this to every name (e.g. TF_VAR_)")
    export.add_argument("-o", "--output", help="write to this file (mode 0600, atomically) instead of stdout")
    export.set_defaults(module="export")

    secrets = commands.add_parser("secrets", help="list, get, set and delete secrets")
    secret_commands = secrets.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    secrets_list = secret_commands.add_parser("list", parents=[connection, place, selection], help="list secrets")
    secrets_list.add_argument("--path", default="/")
    secrets_list.add_argument("--values", action="store_true", help="show values too")
    secrets_list.add_argument("--json", action="store_true", help="print JSON")
    secrets_get = secret_commands.add_parser("get", parents=[connection, place], help="print secret values")
    secrets_get.add_argument("keys", nargs="+", metavar="KEY")
    secrets_get.add_argument("--path", default="/")
    secrets_get.add_argument("--plain", action="store_true", help="print only the value(s), one per line")
    _bool_flag(secrets_get, "--expand", True, "expand ${...} references")
    _bool_flag(secrets_get, "--include-imports", True, "look in imported folders too")
    secrets_set = secret_commands.add_parser("set", parents=[connection, place], help="create or update secrets")
    secrets_set.add_argument("assignments", nargs="*", metavar="KEY=VALUE")
    secrets_set.add_argument(
        "--from-file", dest="from_files", action="append", default=[], metavar="KEY=PATH", help="value read from a file"
    )
    secrets_set.add_argument("--path", default="/")
    secrets_set.add_argument("--type", default="shared", choices=("shared", "personal"))
    secrets_delete = secret_commands.add_parser("delete", parents=[connection, place], help="delete secrets")
    secrets_delete.add_argument("keys", nargs="+", metavar="KEY")
    secrets_delete.add_argument("--path", default="/")
    secrets_delete.add_argument("--type", default="shared", choices=("shared", "personal"))
    secrets.set_defaults(module="secrets")

    folders = commands.add_parser("folders", help="list, create and delete folders")
    folder_commands = folders.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    folders_list = folder_commands.add_parser("list", parents=[connection, place], help="subfolders of --path")
    folders_list.add_argument("--path", default="/")
    folders_create = folder_commands.add_parser("create", parents=[connection, place], help="create NAME under --path")
    folders_create.add_argument("name")
    folders_create.add_argument("--path", default="/")
    folders_delete = folder_commands.add_parser("delete", parents=[connection, place], help="delete the folder --path")
    folders_delete.add_argument("--path", required=True)
    folders.set_defaults(module="folders")

    approvals = commands.add_parser("approvals", help="list and show change requests (review in the browser)")
    approval_commands = approvals.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    approvals_list = approval_commands.add_parser(
        "list", parents=[connection, place], help="change requests of the project"
    )
    approvals_list.add_argument("--status", choices=("open", "merged", "closed", "expired"), help="only these")
    approvals_list.add_argument("--json", action="store_true", help="print JSON")
    approvals_show = approval_commands.add_parser("show", parents=[connection, place], help="one change request")
    approvals_show.add_argument("request_id", metavar="ID", help="the request's id or slug")
    approvals_show.add_argument("--json", action="store_true", help="print JSON")
    approvals.set_defaults(module="approvals")

    dynamic = commands.add_parser("dynamic-secrets", help="leases of dynamic secrets")
    dynamic_groups = dynamic.add_subparsers(dest="group", metavar="GROUP", parser_class=Parser)
    lease = dynamic_groups.add_parser("lease", help="create, renew, revoke and list leases")
    lease_actions = lease.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    output = Parser(add_help=False)
    output.add_argument("--plain", action="store_true", help="print only the values (create) or expiry/status")
    lease_create = lease_actions.add_parser(
        "create", parents=[connection, place, output], help="take a lease and print its credentials"
    )
    lease_create.add_argument("name", metavar="NAME", help="the dynamic secret (in --path, or /folder/NAME)")
    lease_create.add_argument("--path", default="/")
    lease_create.add_argument("--ttl", help="e.g. 30m, 1h (default: the dynamic secret's defaultTTL)")
    lease_create.add_argument("--format", "-f", default="table", choices=("table", *FORMAT_NAMES))
    lease_create.add_argument("--prefix", default="", help="prepend this to every credential name")
    lease_create.add_argument("--ado-run", dest="ado_run", metavar="ORG/PROJECT/BUILD_ID|auto", help=ADO_RUN_HELP)
    for verb, help_text in (("renew", "extend a lease"), ("revoke", "revoke a lease now")):
        action = lease_actions.add_parser(
            verb, parents=[connection, place, output], help=help_text, aliases=["delete"] if verb == "revoke" else []
        )
        action.add_argument("lease_id", metavar="LEASE_ID")
        action.add_argument("--format", "-f", default="table", choices=("table", "json"))
        if verb == "renew":
            action.add_argument("--ttl", help="added to the current expiry (default: the secret's defaultTTL)")
        else:
            action.add_argument("--force", action="store_true", help="admins: end it whatever the database says")
    lease_list = lease_actions.add_parser("list", parents=[connection, place, output], help="list leases")
    lease_list.add_argument("name", metavar="NAME", nargs="?", help="only this dynamic secret's")
    lease_list.add_argument("--path", default="/")
    lease_list.add_argument("--status", default="live", choices=STATUSES)
    lease_list.add_argument("--format", "-f", default="table", choices=("table", "json"))
    dynamic.set_defaults(module="dynamic_secrets")

    rotations = commands.add_parser("rotations", help="list rotations and rotate a credential now")
    rotation_actions = rotations.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    rotation_place = Parser(add_help=False)
    rotation_place.add_argument(
        "--projectId",
        "--project-id",
        "--project",
        dest="project_id",
        help="project id or slug (env STRONGROOM_PROJECT_ID)",
    )
    rotation_place.add_argument("--env", dest="environment", help="environment slug (default: all)")
    rotation_place.add_argument("--path", help="folder (needs --env; default: every folder)")
    rotations_list = rotation_actions.add_parser(
        "list", parents=[connection, rotation_place], help="the project's rotations and their status"
    )
    rotations_list.add_argument("--format", "-f", default="table", choices=("table", "json"))
    rotations_list.add_argument("--plain", action="store_true", help="print only the names, one per line")
    rotations_rotate = rotation_actions.add_parser(
        "rotate", parents=[connection, rotation_place], help="rotate NAME now (queued on the server)"
    )
    rotations_rotate.add_argument("name", metavar="NAME", help="the rotation's name (or id)")
    rotations_rotate.add_argument("--wait", action="store_true", help="wait until the run has finished")
    rotations_rotate.add_argument(
        "--timeout", type=float, default=300.0, help="seconds --wait waits at most (default 300)"
    )
    rotations_rotate.add_argument("--format", "-f", default="table", choices=("table", "json"))
    rotations.set_defaults(module="rotations")

    check = commands.add_parser("check", help="checks a pipeline can gate on (exit 0 pass, 1 fail, 2 error)")
    check_actions = check.add_subparsers(dest="action", metavar="CHECK", parser_class=Parser)
    parity = check_actions.add_parser(
        "parity", parents=[connection], help="are the source environment's keys all in the target?"
    )
    parity.add_argument(
        "--projectId",
        "--project-id",
        "--project",
        dest="project_id",
        help="project id or slug (env STRONGROOM_PROJECT_ID)",
    )
    parity.add_argument("--from", dest="source", required=True, help="source environment slug (e.g. staging)")
    parity.add_argument("--to", dest="target", required=True, help="target environment slug (e.g. prod)")
    parity.add_argument("--path", default="/", help="folder (default /)")
    _bool_flag(parity, "--recursive", True, "include subfolders")
    parity.add_argument("--fail-on-same-value", action="store_true", help="fail when a key has the same value in both")
    parity.add_argument("--fail-on-extra", action="store_true", help="fail when the target has keys the source lacks")
    parity.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(module="check")

    gate = commands.add_parser(
        "gate",
        parents=[connection],
        help="ask a pipeline gate whether the secrets this pipeline reads are in order (exit 0 pass, 1 fail, 2 error)",
    )
    gate.add_argument("--gate", help="the pipeline gate's id (env STRONGROOM_GATE_ID)")
    gate.set_defaults(module="gate")
    setattr(gate, "error", _gate_usage_error)  # noqa: B010 - its own exit code for usage errors (2)

    _ado_parsers(commands, connection)

    whoami = commands.add_parser("whoami", parents=[connection], help="show who the token belongs to")
    whoami.set_defaults(module="whoami", action="whoami")
    return parser


def _ado_parsers(commands: argparse._SubParsersAction, connection: Parser) -> None:
    """``strongroom ado …``: the Azure DevOps estate (commands/ado.py; exit 0 done, 1 failed, 2 error)."""
    ado = commands.add_parser("ado", help="discover an Azure DevOps estate and import from it (organization admins)")
    setattr(ado, "error", _ado_usage_error)  # noqa: B010 - usage errors exit 2, like `check`
    actions = ado.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    common = Parser(add_help=False)
    common.add_argument("--org", required=True, help="the Strongroom organization's slug")

    def action(name: str, help_text: str, formats: tuple[str, ...] = ("table", "json")) -> Parser:
        parser: Parser = actions.add_parser(name, parents=[connection, common], help=help_text)
        parser.add_argument("--format", "-f", default="table", choices=formats)
        setattr(parser, "error", _ado_usage_error)  # noqa: B010
        return parser

    discover = action("discover", "scan the Azure DevOps organization behind a connection (read only)")
    discover.add_argument("--connection", required=True, help="the Azure DevOps connection's name (or id)")
    discover.add_argument("--wait", action="store_true", help="follow the scan until it ends, then summarise it")
    discover.add_argument("--timeout", type=float, default=600.0, help="seconds --wait waits at most (default 600)")
    scans = action("scans", "the latest scans and their status", ("table", "json", "csv"))
    scans.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    resources = action("resources", "the inventory: groups, pipelines, connections…", ("table", "json", "csv"))
    resources.add_argument(
        "--kind", choices=("project", "variable_group", "pipeline", "service_connection", "secure_file")
    )
    resources.add_argument("--project", help="only this Azure DevOps project's (name or id)")
    resources.add_argument("--finding", help="only resources with an open finding of this kind")
    resources.add_argument("--q", help="name contains")
    resources.add_argument("--include-removed", action="store_true", help="also what the latest scan no longer saw")
    findings = action("findings", "what the scans found wrong, most severe first", ("table", "json", "csv"))
    findings.add_argument("--severity", choices=("high", "medium", "low", "info"))
    findings.add_argument("--kind", help="only findings of this kind (e.g. plain_secret_variable)")
    findings.add_argument("--include-resolved", action="store_true", help="also findings a later scan no longer found")
    imp = action("import", "bring a variable group's or pipeline's variables into Strongroom")
    imp.add_argument("--resource", required=True, help="the resource's id (see `strongroom ado resources`)")
    imp.add_argument("--project", required=True, help="the Strongroom project (slug or id)")
    imp.add_argument("--env", dest="environment", required=True, help="the Strongroom environment slug")
    imp.add_argument("--path", default="/", help="the folder (default /)")
    imp.add_argument(
        "--key", dest="keys", action="append", default=[], metavar="ADO=KEY", help="import ADO as KEY (repeatable)"
    )
    imp.add_argument("--skip", dest="skips", action="append", default=[], metavar="NAME", help="leave NAME out")
    imp.add_argument(
        "--values-csv", dest="values_csv", metavar="FILE", help="values Azure DevOps will not return: name,value rows"
    )
    imp.add_argument("--apply", action="store_true", help="write the import (otherwise: only the preview)")
    imp.add_argument("--convert-to-sync", action="store_true", help="then let a Strongroom sync own the group")
    imp.add_argument("--sync-name", help="the sync's name (default: the server's)")
    imp.add_argument("--yes", action="store_true", help="confirm --convert-to-sync (it overwrites the group)")
    imp.add_argument("--show-yaml", action="store_true", help="print the pipeline YAML change at the end")
    ado.set_defaults(module="ado")


def _ado_usage_error(message: str) -> None:
    raise CliError(f"{message} (see `strongroom ado --help`)", 2)


def split_command(argv: list[str]) -> tuple[list[str], list[str]]:
    """``run … -- CMD ARGS`` → (options, [CMD, ARGS]); everything after ``--`` is the command's."""
    if "--" in argv:
        index = argv.index("--")
        return argv[:index], argv[index + 1 :]
    return argv, []


# ``strongroom check …`` exits like ``diff``: 0 pass, 1 fail, and this for any error (usage,
# credentials, permission, connection) so a pipeline never mistakes an error for a failed check.
CHECK_ERROR = 2


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    checking = bool(argv) and argv[0] == "check"
    try:
        options, command = split_command(argv)
        try:
            args = build_parser().parse_args(options)
        except CliError as exc:
            if options[:1] in (["gate"], ["ado"]):  # they keep 1 for "the gate (the scan) failed"
                exc.code = 2
            raise
        if not getattr(args, "module", None):
            raise CliError("a command is required (see `strongroom --help`)", USAGE)
        if args.module in ("secrets", "folders", "approvals", "rotations", "check") and not getattr(
            args, "action", None
        ):
            raise CliError(f"`strongroom {args.module}` needs an action (see `strongroom {args.module} --help`)", USAGE)
        if args.module == "ado" and not getattr(args, "action", None):
            raise CliError("`strongroom ado` needs an action: discover, scans, resources, findings or import", 2)
        if args.module == "dynamic_secrets" and not getattr(args, "action", None):
            raise CliError("`strongroom dynamic-secrets lease` needs an action: create, renew, revoke or list", USAGE)
        if command and args.module != "run":
            raise CliError("only `strongroom run` takes a command after --", USAGE)
        args.argv = command
        module = importlib.import_module(f"strongroom_cli.commands.{args.module}")
        code = module.handle(args)
    except PendingApproval as exc:  # not an error: the write waits for review (one line, exit 8)
        sys.stderr.write(f"{exc.message}\n")
        code = exc.code
    except CliError as exc:
        sys.stderr.write(f"strongroom: error: {exc.message}\n")
        code = CHECK_ERROR if checking else exc.code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # never a traceback (it could quote what we were handling)
        if os.environ.get("STRONGROOM_DEBUG"):
            raise
        sys.stderr.write(
            f"strongroom: error: internal error ({type(exc).__name__}); set STRONGROOM_DEBUG=1 for details\n"
        )
        code = CHECK_ERROR if checking else 70
    sys.stdout.flush()
    sys.exit(code)
