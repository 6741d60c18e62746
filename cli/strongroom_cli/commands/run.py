"""``strongroom run``: the secrets overlay the inherited environment of one command.

``--lease NAME[:PREFIX]`` (repeatable) also takes a lease of that dynamic secret before the command
starts and puts its credentials in the environment (``PREFIX`` + the provider's names, e.g.
``DB_USERNAME``; they beat a secret of the same name), renews it while the command runs whenever it
would otherwise expire first (``strongroom_cli.leases``), and revokes it when the command ends —
also when it ends because SIGTERM or SIGINT was forwarded to it, and when starting it failed.

Before the command starts (and before each ``--watch`` restart) the environment it would get is
measured (``strongroom_cli.environ_limits``): one ``KEY=value`` over 131,072 bytes or a whole
environment over 1 MiB is refused in one line naming the keys (exit 1; on a restart the running
command is kept, with a warning), instead of the kernel's "Argument list too long" naming none.

Reserved names are never overwritten (the command must still find its programs and home):
``RESERVED_NAMES`` and any name starting with ``XDG_`` or ``LC_``. The command's exit code
is returned; SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

from strongroom_cli import config, source, tokens
from strongroom_cli.environ_limits import oversize_reason
from strongroom_cli.errors import COMMAND_NOT_EXECUTABLE, COMMAND_NOT_FOUND, USAGE, CliError
from strongroom_cli.http import Client

if TYPE_CHECKING:
    from strongroom_cli.leases import LeaseKeeper

RESERVED_NAMES = frozenset(
    {
        "HOME",
        "PATH",
        "PS1",
        "PS2",
        "PWD",
        "OLDPWD",
        "EDITOR",
        "XAUTHORITY",
        "USER",
        "LOGNAME",
        "TERM",
        "TERMINFO",
        "SHELL",
        "SHLVL",
        "MAIL",
    }
)
RESERVED_PREFIXES = ("XDG_", "LC_")
FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
STOP_GRACE_SECONDS = 10.0
LEASE_TICK_SECONDS = 5.0  # how far ahead the access token is renewed while leases are held


def warn(message: str) -> None:
    sys.stderr.write(f"strongroom: warning: {message}\n")
    sys.stderr.flush()


def is_reserved(name: str) -> bool:
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)


def child_environment(secrets: dict[str, str], base: dict[str, str], *, quiet: bool = False) -> dict[str, str]:
    env = dict(base)
    for key, value in secrets.items():
        if is_reserved(key):
            if not quiet:
                warn(f"{key} is a reserved name: the inherited value is kept")
            continue
        if "=" in key or "\0" in key or "\0" in value or not key:
            if not quiet:
                warn(f"{key} cannot be an environment variable (NUL or '='): skipped")
            continue
        env[key] = value
    return env


def export_hint(args: argparse.Namespace) -> str:
    """The ``strongroom export`` command that writes the same selection to a file."""
    words = ["strongroom", "export", "--env", args.environment]
    for path in args.paths or ["/"]:
        words += ["--path", path]
    if args.recursive:
        words.append("--recursive")
    return " ".join(shlex.quote(word) for word in words) + " --format dotenv -o FILE"


def measured_environment(
    values: dict[str, str], base: dict[str, str], *, quiet: bool
) -> tuple[dict[str, str], str | None]:
    """The child's environment and, when the kernel would refuse it, why (keys named, no value)."""
    env = child_environment(values, base, quiet=quiet)
    placed = [key for key, value in values.items() if env.get(key) == value and not is_reserved(key)]
    return env, oversize_reason(env, placed)


def fingerprint(secrets: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for key in sorted(secrets):
        digest.update(
            key.encode("utf-8", "surrogatepass") + b"\0" + secrets[key].encode("utf-8", "surrogatepass") + b"\0"
        )
    return digest.hexdigest()


class Session:
    """The token, the client and how to fetch; renews an identity token as it nears expiry."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.domain = config.resolve_domain(args.domain)
        self.token = config.resolve_token(args.token, self.domain)
        self.client = Client(self.domain, self.token)
        self.project = config.pick(args.project_id, config.PROJECT_ENV)

    def fetch(self) -> dict[str, str]:
        args = self.args
        items = source.fetch_secrets(
            self.client,
            project=self.project,
            environment=args.environment,
            paths=args.paths or ["/"],
            recursive=args.recursive,
            include_imports=args.include_imports,
            expand=args.expand,
            tags=args.tags,
        )
        return source.merge(items)

    def renew_if_due(self, interval: float) -> None:
        if not self.token or not tokens.needs_renewal(self.token, interval):
            return
        try:
            self.token = tokens.renew(Client(self.domain), self.token)
        except CliError as renew_error:
            fresh = self._login_again()
            if fresh is None:
                warn(f"token renewal failed: {renew_error.message}")
                return
            self.token = fresh
        self.client.token = self.token

    def _login_again(self) -> str | None:
        """With universal-auth credentials in the environment, log in again (past the max TTL)."""
        client_id, client_secret = config.first_env(config.CLIENT_ID_ENV), config.first_env(config.CLIENT_SECRET_ENV)
        if not (client_id and client_secret):
            return None
        from strongroom_cli.commands.login import login

        try:
            answer = login(
                Client(self.domain), "universal-auth", {"clientId": client_id, "clientSecret": client_secret}
            )
        except CliError as exc:
            warn(f"login again failed: {exc.message}")
            return None
        return str(answer["accessToken"])


class Child:
    """One run of the command, with its output optionally masked."""

    def __init__(self, argv: list[str], env: dict[str, str], mask_values: list[str] | None) -> None:
        pipe = subprocess.PIPE if mask_values is not None else None
        try:
            self.process = subprocess.Popen(argv, env=env, stdout=pipe, stderr=pipe)
        except FileNotFoundError:
            raise CliError(f"command not found: {argv[0]}", COMMAND_NOT_FOUND) from None
        except PermissionError:
            raise CliError(f"command not executable: {argv[0]}", COMMAND_NOT_EXECUTABLE) from None
        except OSError as exc:
            raise CliError(f"cannot start {argv[0]}: {exc.strerror}", COMMAND_NOT_EXECUTABLE) from None
        self.pumps: list[threading.Thread] = []
        if mask_values is not None:
            from strongroom_cli.mask import Masker, mask_patterns, pump

            patterns = mask_patterns(mask_values)
            for stream, sink in ((self.process.stdout, 1), (self.process.stderr, 2)):
                thread = threading.Thread(target=pump, args=(stream, sink, Masker(patterns)), daemon=True)
                thread.start()
                self.pumps.append(thread)

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.drain()

    def drain(self) -> None:
        for thread in self.pumps:
            thread.join(timeout=10)

    def exit_code(self) -> int:
        code = self.process.returncode
        return 128 - code if code < 0 else code


def handle(args: argparse.Namespace) -> int:
    if args.shell_command is not None and args.argv:
        raise CliError("give either -c 'shell command' or -- COMMAND ARGS, not both", USAGE)
    if args.shell_command is not None:
        argv = ["sh", "-c", args.shell_command]
    elif args.argv:
        argv = args.argv
    else:
        raise CliError("nothing to run: strongroom run [options] -- COMMAND [ARGS...]", USAGE)
    if args.watch_interval <= 0:
        raise CliError("--watch-interval must be positive", USAGE)

    session = Session(args)
    keeper = _lease_keeper(args, session)
    current: list[Child] = []

    def forward(signum: int, _frame: object) -> None:
        if not current and keeper is not None:
            # Before the command started: stop here, and the leases taken so far are revoked.
            raise CliError(f"stopped by {signal.Signals(signum).name} before the command started", 128 + signum)
        for child in current:
            child.signal(signum)

    for name in FORWARDED_SIGNALS:
        signal.signal(getattr(signal, name), forward)
    try:
        return _run(args, argv, session, keeper, current)
    finally:
        if keeper is not None:
            session.renew_if_due(LEASE_TICK_SECONDS)  # a long command may have outlived the token
            keeper.revoke_all(warn)


def _lease_keeper(args: argparse.Namespace, session: Session) -> LeaseKeeper | None:
    if not args.leases:
        if args.ado_run is not None:
            raise CliError("--ado-run binds the leases of --lease: give at least one --lease", USAGE)
        return None
    from strongroom_cli.leases import AdoRun, LeaseKeeper, LeaseSpec  # only when leasing: `run` starts fast

    if not session.project:
        raise CliError("no project: pass --projectId (or set STRONGROOM_PROJECT_ID / INFISICAL_PROJECT_ID)", USAGE)
    default_path = (args.paths or ["/"])[-1]
    specs = [LeaseSpec.parse(text, default_path) for text in args.leases]
    ado_run = AdoRun.from_flag(args.ado_run, os.environ)
    return LeaseKeeper(session.client, session.project, args.environment, specs, args.lease_ttl, ado_run)


def _run(
    args: argparse.Namespace, argv: list[str], session: Session, keeper: LeaseKeeper | None, current: list[Child]
) -> int:
    secrets = session.fetch()
    leased = keeper.take_all() if keeper is not None else {}
    seen_values = set(secrets.values()) | set(leased.values())

    def environment(values: dict[str, str], quiet: bool = False) -> tuple[dict[str, str], str | None]:
        return measured_environment({**values, **leased}, dict(os.environ), quiet=quiet)

    def start(env: dict[str, str]) -> Child:
        return Child(argv, env, sorted(seen_values) if args.mask else None)

    env, too_big = environment(secrets)
    if too_big is not None:
        hint = export_hint(args)
        raise CliError(f"{too_big}; the command was not started. Write such secrets to a file instead: {hint}", USAGE)
    child = start(env)
    current.append(child)
    last = fingerprint(secrets)
    next_check = time.monotonic() + args.watch_interval
    while True:
        waits = [next_check - time.monotonic()] if args.watch else []
        due = keeper.next_due() if keeper is not None else None
        if due is not None:
            waits.append(due - time.monotonic())
        try:
            child.process.wait(max(0.05, min(waits)) if waits else None)
            child.drain()
            return child.exit_code()
        except subprocess.TimeoutExpired:
            pass
        if keeper is not None:
            session.renew_if_due(LEASE_TICK_SECONDS)
            keeper.renew_due(warn)
        if not args.watch or time.monotonic() < next_check:
            continue
        next_check = time.monotonic() + args.watch_interval
        session.renew_if_due(args.watch_interval)
        try:
            fresh = session.fetch()
        except CliError as exc:
            warn(f"could not check for changes, keeping the running command: {exc.message}")
            continue
        if fingerprint(fresh) == last:
            continue
        last = fingerprint(fresh)
        fresh_env, too_big = environment(fresh, quiet=True)
        if too_big is not None:
            warn(
                f"secrets changed but {too_big}; the running command is kept. Write such secrets to a file: {export_hint(args)}"
            )
            continue
        seen_values.update(fresh.values())
        sys.stderr.write("strongroom: secrets changed, restarting the command\n")
        sys.stderr.flush()
        child.stop()
        current.clear()
        # Started before it is visible to the signal handler: a signal in between reaches no one,
        # exactly as if it had come during the restart.
        child = start(fresh_env)
        current.append(child)
        time.sleep(0)
