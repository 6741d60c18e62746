"""``strongroom run``: secrets in the child's environment, exit codes, signals, reserved names,
masking and watching — the CLI as a subprocess against a live server."""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from tests.cli.conftest import CliServer, put

PY = sys.executable


def _wait_for(stream: Any, marker: bytes, timeout: float = 20) -> bytes:
    """Read *stream* line by line until a line contains *marker*; returns everything read."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        seen += line
        if marker in line:
            return seen
    raise AssertionError(f"{marker!r} never came; got {seen!r}")


def test_it_puts_secrets_in_the_childs_environment_and_returns_its_exit_code(cli_server: CliServer) -> None:
    result = cli_server.run(
        "run",
        f"--token={cli_server.token}",
        f"--projectId={cli_server.project_id}",
        "--env=prod",
        "--path=/backend/api",
        "--",
        PY,
        "-c",
        "import os, sys; print(os.environ['DATABASE_URL']); sys.exit(3)",
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout == b"postgres://prod-db/app\n"
    assert result.stderr == b""


def test_it_runs_a_shell_command_with_c(cli_server: CliServer) -> None:
    result = cli_server.run(
        "run", "--token", cli_server.token, "--projectId", "acme", "--env", "staging", "--path", "/backend/api",
        "-c", 'echo "db=$DATABASE_URL"; exit 5',
    )  # fmt: skip
    assert result.returncode == 5
    assert result.stdout == b"db=postgres://staging-db/app\n"


def test_it_honours_the_infisical_variable_names(cli_server: CliServer) -> None:
    env = {
        "STRONGROOM_API_URL": "",
        "INFISICAL_API_URL": cli_server.url + "/api",  # Infisical's form, /api included
        "INFISICAL_TOKEN": cli_server.token,
        "INFISICAL_PROJECT_ID": cli_server.project_id,
    }
    result = cli_server.run("run", "--env", "dev", "--", "sh", "-c", 'printf %s "$GREETING"', env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello-from-dev"


def test_it_merges_several_paths_later_ones_winning(cli_server: CliServer) -> None:
    put(cli_server.cast, "DATABASE_URL", "from-backend", environment="prod", path="/backend")
    put(cli_server.cast, "ONLY_BACKEND", "b", environment="prod", path="/backend")
    result = cli_server.run(
        "run", "--token", cli_server.token, "--projectId", "acme", "--env", "prod",
        "--path", "/backend", "--path", "/backend/api", "--", "sh", "-c", 'printf "%s|%s" "$DATABASE_URL" "$ONLY_BACKEND"',
    )  # fmt: skip
    assert result.stdout == b"postgres://prod-db/app|b"
    recursive = cli_server.run(
        "run", "--token", cli_server.token, "--projectId", "acme", "--env", "prod", "--path", "/backend",
        "--recursive", "--", "sh", "-c", 'printf "%s" "$DATABASE_URL"',
    )  # fmt: skip
    assert recursive.stdout == b"postgres://prod-db/app"  # the deeper folder wins


def test_it_never_overrides_reserved_names(cli_server: CliServer) -> None:
    for key in ("PATH", "HOME", "SHELL", "USER", "XDG_CONFIG_HOME", "LC_ALL"):
        put(cli_server.cast, key, f"evil-{key.lower()}")
    put(cli_server.cast, "APP_MODE", "production")
    script = "import os, json; print(json.dumps({k: os.environ.get(k) for k in ['PATH','HOME','SHELL','USER','XDG_CONFIG_HOME','LC_ALL','APP_MODE']}))"
    env = {"SHELL": "/bin/sh", "USER": "builder", "XDG_CONFIG_HOME": "/tmp/xdg", "LC_ALL": "C.UTF-8"}
    result = cli_server.run("run", "--token", cli_server.token, "--projectId", "acme", "--", PY, "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    import json

    seen = json.loads(result.stdout)
    assert seen["APP_MODE"] == "production"
    assert seen["PATH"] == os.environ["PATH"] and seen["HOME"] == os.environ["HOME"]
    assert (seen["SHELL"], seen["USER"], seen["XDG_CONFIG_HOME"], seen["LC_ALL"]) == (
        "/bin/sh",
        "builder",
        "/tmp/xdg",
        "C.UTF-8",
    )
    assert b"PATH is a reserved name" in result.stderr
    assert b"evil-" not in result.stderr  # names only, never values


def test_it_forwards_sigterm_and_sigint_to_the_child(cli_server: CliServer) -> None:
    import subprocess

    script = (
        "import signal, sys, time\n"
        "def bye(n, f):\n"
        "    print('child got', signal.Signals(n).name, flush=True); sys.exit(40 + n)\n"
        "signal.signal(signal.SIGTERM, bye); signal.signal(signal.SIGINT, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        process = cli_server.popen(
            "run", "--token", cli_server.token, "--projectId", "acme", "--", PY, "-c", script,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        _wait_for(process.stdout, b"ready")
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 40 + signum, err
        assert f"child got {signal.Signals(signum).name}".encode() in out


def test_it_reports_a_child_killed_by_a_signal_as_128_plus_n(cli_server: CliServer) -> None:
    result = cli_server.run("run", "--token", cli_server.token, "--projectId", "acme", "-c", "kill -KILL $$")
    assert result.returncode == 128 + signal.SIGKILL


def test_it_says_when_the_command_does_not_exist(cli_server: CliServer) -> None:
    result = cli_server.run("run", "--token", cli_server.token, "--projectId", "acme", "--", "no-such-command-xyz")
    assert result.returncode == 127
    assert result.stderr == b"strongroom: error: command not found: no-such-command-xyz\n"


def test_it_masks_secret_values_in_the_childs_output(cli_server: CliServer) -> None:
    put(cli_server.cast, "API_KEY", "sk_live_0123456789")
    put(cli_server.cast, "PEM", "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\n-----END KEY-----")
    put(cli_server.cast, "SHORT", "ab")  # too short to mask meaningfully
    script = (
        "import os, sys, time\n"
        "print('key=' + os.environ['API_KEY'], flush=True)\n"
        "sys.stderr.write('err ' + os.environ['API_KEY'] + '\\n'); sys.stderr.flush()\n"
        "print(os.environ['PEM'], flush=True)\n"
        "print('second line alone: MIIBOgIBAAJBAKj34', flush=True)\n"
        "sys.stdout.write('split sk_live_01234'); sys.stdout.flush(); time.sleep(0.3)\n"
        "sys.stdout.write('56789 done\\n'); sys.stdout.flush()\n"
        "print('short ab stays', flush=True)\n"
    )
    result = cli_server.run("run", "--token", cli_server.token, "--projectId", "acme", "--mask", "--", PY, "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (b"key=***\n***\nsecond line alone: ***\nsplit *** done\nshort ab stays\n"), result.stdout
    assert result.stderr == b"err ***\n"


def test_it_restarts_the_child_when_secrets_change_and_renews_its_token(cli_server: CliServer) -> None:
    import subprocess

    from tests.compat.conftest import make_machine

    # A machine whose tokens live 3 s: the watch must renew to keep reading.
    machine = make_machine(
        cli_server.cast.project, "short-lived", "member", access_token_ttl=3, access_token_max_ttl=600
    )
    login = cli_server.run(
        "login", "--method=universal-auth", f"--client-id={machine.client_id}",
        f"--client-secret={machine.client_secret}", "--silent", "--plain",
    )  # fmt: skip
    assert login.returncode == 0, login.stderr
    token = login.stdout.decode().strip()
    process = cli_server.popen(
        "run", "--token", token, "--projectId", "acme", "--watch", "--watch-interval", "0.5", "--",
        PY, "-c", "import os, time; print('greeting=' + os.environ['GREETING'], flush=True); time.sleep(60)",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        _wait_for(process.stdout, b"greeting=hello-from-dev")
        time.sleep(4.5)  # past the first token's expiry
        put(cli_server.cast, "GREETING", "changed-while-running")
        _wait_for(process.stdout, b"greeting=changed-while-running")
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=20)
    assert b"could not check" not in err, err
    assert b"secrets changed, restarting" in err


def test_spawned_processes_never_carry_secrets_in_their_arguments(cli_server: CliServer) -> None:
    put(cli_server.cast, "API_KEY", "sk_live_0123456789")
    # The child prints its own argv and its parent's (sh -c): neither holds a secret value or the token.
    result = cli_server.run(
        "run", "--projectId", "acme", "-c",
        "cat /proc/$$/cmdline; echo; cat /proc/self/cmdline; echo",
        env={"STRONGROOM_TOKEN": cli_server.token},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"sk_live" not in result.stdout and cli_server.token.encode() not in result.stdout
