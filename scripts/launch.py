#!/usr/bin/env python3
"""`make run`: prepare the embedded default and run web, worker and beat in one terminal.

1. ``./.env`` is loaded if present (real environment variables win; see .env.example).
   ``STRONGROOM_DATA_DIR`` defaults to ``./var`` (SQLite database, root key, broker folders).
2. ``manage.py migrate``, ``collectstatic``, ``bootstrap --json --admin-email …`` (creates the first admin
   and ``var/root.key`` (0600) when no root key is configured), then
   ``governance_refresh`` so the dashboard has figures from the first page view.
3. Starts gunicorn (127.0.0.1:$PORT, 2 workers, production's config/gunicorn.py), a Celery worker
   and Celery beat. Their output is shown here, each line prefixed with ``web |``, ``worker |`` or
   ``beat |``. "Strongroom is running" is printed once ``/readyz`` answers 200, followed by
   the first admin's generated password in a box (printed only then, only once: worker output
   cannot scroll it away).

Ctrl-C (SIGINT) or SIGTERM stops all three. If the launcher itself is killed (even SIGKILL), the
kernel stops them too (PR_SET_PDEATHSIG), so nothing is left holding the port. If any one of them exits, the others are stopped and
this script exits non-zero: a half-running Strongroom is worse than a stopped one.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
LAUNCHER_PID = os.getpid()


def _read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of ./.env (comments, blank lines and an optional `export ` are allowed)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip().isidentifier():
            raise SystemExit(f"launch: {path}:{number} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _prepare_environment() -> dict[str, str]:
    # Real environment variables win over ./.env.
    env = {**_read_dotenv(ROOT / ".env"), **os.environ}
    env.setdefault("STRONGROOM_DATA_DIR", str(ROOT / "var"))
    env["STRONGROOM_DATA_DIR"] = str(Path(env["STRONGROOM_DATA_DIR"]).resolve())
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # One person trying the product: the dashboard's risk figures follow their edits within a
    # minute (production refreshes every 5 minutes).
    env.setdefault("STRONGROOM_GOVERNANCE_RISK_SECONDS", "60")
    Path(env["STRONGROOM_DATA_DIR"]).mkdir(parents=True, exist_ok=True, mode=0o700)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"launch: `manage.py {' '.join(args)}` failed (exit {result.returncode}); not starting.")


def _bootstrap(env: dict[str, str], admin_email: str) -> str | None:
    """Run ``manage.py bootstrap --json``; return the boxed first-login notice when a password was
    generated (printed last, after "running", so worker output cannot scroll it away), else None.
    The password is only held in memory and printed once."""
    command = [sys.executable, str(ROOT / "manage.py"), "bootstrap", "--json", "--admin-email", admin_email]
    result = subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.PIPE)
    if result.returncode != 0:
        raise SystemExit(f"launch: `manage.py bootstrap` failed (exit {result.returncode}); not starting.")
    facts = json.loads(result.stdout.decode("utf-8").strip().splitlines()[-1])
    if facts.get("rootKeyGenerated"):
        print("launch: generated a root key in the data directory (0600). Back it up: without it nothing decrypts.")
    if not facts.get("adminPassword"):
        state = "created (password from STRONGROOM_ADMIN_PASSWORD)" if facts.get("adminCreated") else "exists"
        print(f"launch: admin {facts.get('adminEmail')} {state}.", flush=True)
        return None
    return first_login_box(str(facts["adminEmail"]), str(facts["adminPassword"]))


def first_login_box(email: str, password: str) -> str:
    """A few lines of ASCII box holding the first admin's sign-in, for a terminal."""
    lines = [
        "First admin created (the password is shown only this once):",
        f"  e-mail:   {email}",
        f"  password: {password}",
        "Change it after logging in (Account & security).",
    ]
    width = max(len(line) for line in lines)
    rule = "+" + "-" * (width + 2) + "+"
    return "\n".join([rule, *(f"| {line.ljust(width)} |" for line in lines), rule])


def _bootstrap_available() -> bool:
    return any(ROOT.glob("*/management/commands/bootstrap.py"))


def _uses_filesystem_broker(env: dict[str, str]) -> bool:
    broker = env.get("CELERY_BROKER_URL") or env.get("CELERY_BROKER_URL_FILE") or env.get("REDIS_URL")
    return not broker and not env.get("REDIS_URL_FILE")


def _children(env: dict[str, str], port: str) -> dict[str, list[str]]:
    python = sys.executable
    worker = [python, "-m", "celery", "-A", "config", "worker", "-l", "info", "--concurrency", "2"]
    if _uses_filesystem_broker(env):
        # The filesystem transport has no fanout/broadcast: worker-to-worker chatter must be off.
        worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return {
        # config/gunicorn.py is production's gunicorn configuration (docker-compose.yml, Dockerfile).
        "web": [
            python, "-m", "gunicorn", "config.wsgi", "--config", str(ROOT / "config" / "gunicorn.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", "2",
        ],
        "worker": worker,
        "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "info"],
    }  # fmt: skip


def _pump(name: str, stream: object, lock: threading.Lock) -> None:
    """Copy a child's output to our stdout, one prefixed line at a time."""
    prefix = f"{name:<6}| "
    for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with lock:
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()


def _wait_until_ready(url: str, processes: dict[str, subprocess.Popen[bytes]], stopping: threading.Event) -> bool:
    """True once /readyz answers 200: database, broker (the worker creates the filesystem broker's
    folders) and keyring all usable. /healthz alone would say "running" while /readyz still says 503."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not stopping.is_set():
        if any(process.poll() is not None for process in processes.values()):
            return False
        try:
            with urllib.request.urlopen(url + "readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 (HTTPError is an OSError)
        time.sleep(0.3)
    return False


def _die_with_launcher() -> None:
    """Runs in each child between fork and exec: the kernel SIGTERMs the child when the launcher
    dies, even by SIGKILL, so no gunicorn or Celery process outlives it holding the port.
    (Children start sessions of their own, so a terminal's Ctrl-C reaches only the launcher.)"""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        os._exit(111)
    # The launcher may have died between fork and prctl: then nobody would ever signal us.
    if os.getppid() != LAUNCHER_PID:
        os._exit(111)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in processes.values():
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    env = _prepare_environment()
    port = env.get("PORT", "8000")
    url = f"http://127.0.0.1:{port}/"
    # Links in notifications (review links, sync failures) point here unless a site URL is configured.
    env.setdefault("STRONGROOM_SITE_URL", url.rstrip("/"))
    admin_email = env.get("STRONGROOM_ADMIN_EMAIL") or "admin@strongroom.local"
    print(f"launch: data directory {env['STRONGROOM_DATA_DIR']}", flush=True)

    if not _bootstrap_available():
        print(
            "launch: `manage.py bootstrap` does not exist yet (secrets_app/management/commands/bootstrap.py);"
            " it creates the root key and the first admin. Cannot start.",
            file=sys.stderr,
        )
        return 1
    _manage(env, "migrate", "--noinput")
    _manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    first_login = _bootstrap(env, admin_email)
    # The dashboard has figures from the first page view (beat's first run comes one interval later).
    _manage(env, "governance_refresh")

    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    lock = threading.Lock()
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, argv in _children(env, port).items():
            # A session of their own: Ctrl-C reaches only us, and we stop them in order.
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_launcher,  # async-signal-safe enough: prctl and getppid, no locks
            )
            processes[name] = process
            threading.Thread(target=_pump, args=(name, process.stdout, lock), daemon=True).start()

        if _wait_until_ready(url, processes, stopping):
            with lock:
                print(f"\nStrongroom is running at {url}  (Ctrl-C stops it)\n", flush=True)
                if first_login:
                    print(first_login, flush=True)
        elif not stopping.is_set():
            print(
                f"launch: {url}readyz did not answer 200 within {READY_TIMEOUT_SECONDS}s", file=sys.stderr, flush=True
            )
            if first_login:
                print(first_login, flush=True)  # still shown once: the account exists either way

        exit_code = 0
        while not stopping.is_set():
            dead = [(name, p.returncode) for name, p in processes.items() if p.poll() is not None]
            if dead:
                name, code = dead[0]
                print(f"launch: {name} exited with code {code}; stopping the others.", file=sys.stderr, flush=True)
                # Like a shell: 128+N for a child killed by signal N; never 0 for an unexpected exit.
                exit_code = 128 - code if code < 0 else (code or 1)
                break
            stopping.wait(0.5)
    finally:
        _stop(processes)
    print("launch: stopped.", flush=True)
    return exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C during migrate/bootstrap, before the children exist
        sys.exit(130)
