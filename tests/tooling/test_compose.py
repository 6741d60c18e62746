"""docker-compose.yml runs what this repository really supports.

No Docker engine runs here, so the compose file is read with PyYAML and its services' commands
are run from the local virtualenv with the compose environment (secrets written to files, hosts
``postgres``/``redis`` pointed at the local servers): migrate+bootstrap, gunicorn answering
/healthz and /readyz, the Celery worker reaching "ready" and answering its health check, beat
starting, and Django's deployment checks passing with the production settings.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
VENV_BIN = Path(sys.executable).parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)
COMPOSE_REDIS_DB = 13  # away from the suite's cache (15) and anyone's default (0)
START_TIMEOUT_SECONDS = 45

pytestmark = pytest.mark.slow


# --- reading the compose file ---------------------------------------------------------------------
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}")


def _interpolate(value: str) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against an empty host environment; $$ → $."""

    def replace(match: re.Match[str]) -> str:
        if match.group("op") == "?":
            raise AssertionError(f"compose requires {match.group('name')}: the test should not depend on it")
        return match.group("arg") or ""

    return _INTERPOLATION.sub(replace, value).replace("$$", "$")


def _resolve(node: Any) -> Any:
    if isinstance(node, str):
        return _interpolate(node)
    if isinstance(node, list):
        return [_resolve(item) for item in node]
    if isinstance(node, dict):
        return {key: _resolve(value) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _resolve(yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8")))


def _in_ci() -> bool:
    return any(
        os.environ.get(name, "").lower() in {"1", "true", "yes"} for name in ("CI", "STRONGROOM_TEST_REQUIRE_SERVICES")
    )


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def local_services() -> None:
    missing = [f"{name} on {host}:{port}" for name, (host, port) in
               (("PostgreSQL", LOCAL_POSTGRES), ("Redis", LOCAL_REDIS)) if not _reachable((host, port))]  # fmt: skip
    if missing:
        message = "compose commands need local " + " and ".join(missing)
        if _in_ci():
            pytest.fail(message + " (required in CI)")
        pytest.skip(message)


ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(scope="module")
def compose_app_role(local_services: None) -> Iterator[str]:
    """The name of this module's app role (compose: strongroom_app), which `migrate` creates
    through db_roles; roles are cluster-wide, so the name is unique and the role dropped after."""
    import psycopg

    name = f"strongroom_app_c{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.fixture(scope="module")
def compose_database(compose_app_role: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards (before the app role)."""
    import psycopg

    name = f"strongroom_compose_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def secret_files(
    tmp_path_factory: pytest.TempPathFactory, compose_database: str, compose_app_role: str
) -> dict[str, Path]:
    """The compose secrets, as files with local values (the database URLs point at 127.0.0.1: the
    owner is the local superuser, the app role is this module's)."""
    folder = tmp_path_factory.mktemp("compose-secrets")
    values = {
        "strongroom_secret_key": secrets.token_urlsafe(50),
        "strongroom_root_key": base64.b64encode(os.urandom(32)).decode(),
        "strongroom_database_owner_url": f"postgres://postgres@127.0.0.1:5432/{compose_database}",
        "strongroom_database_url": (
            f"postgres://{compose_app_role}:{secrets.token_urlsafe(16)}@127.0.0.1:5432/{compose_database}"
        ),
        "postgres_password": "unused-locally",
    }
    files = {}
    for name, value in values.items():
        files[name] = folder / name
        files[name].write_text(value + "\n", encoding="utf-8")
    return files


def _service_env(
    compose: dict[str, Any], service: str, secret_files: dict[str, Path], data_dir: Path
) -> dict[str, str]:
    """The service's environment as the container would see it, rewired to this machine."""
    env = {key: str(value) for key, value in (compose["services"][service].get("environment") or {}).items()}
    for key, value in list(env.items()):
        if key.endswith("_FILE") and value.startswith("/run/secrets/"):
            env[key] = str(secret_files[value.removeprefix("/run/secrets/")])
    env["REDIS_URL"] = re.sub(
        r"^redis://redis:6379/\d+$", f"redis://127.0.0.1:6379/{COMPOSE_REDIS_DB}", env["REDIS_URL"]
    )
    env["STRONGROOM_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    base = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TMPDIR") if name in os.environ}
    base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
    base["HOME"] = str(data_dir)  # as in the image: the app user's home is its data directory
    base["HOSTNAME"] = socket.gethostname()
    base["PYTHONUNBUFFERED"] = "1"
    return {**base, **env}


def _local_argv(argv: list[str]) -> list[str]:
    """The container's argv with its program taken from this virtualenv."""
    program = VENV_BIN / argv[0]
    assert program.exists(), f"{argv[0]} is not installed by pyproject.toml"
    return [str(program), *argv[1:]]


class Started:
    """A compose command running locally; its merged output is collected in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=self._handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if re.search(pattern, self.output()):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        pytest.fail(f"{pattern!r} did not appear (exit code {self.process.poll()}):\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._handle.close()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    running: list[Started] = []

    def _start(argv: list[str], env: dict[str, str], name: str) -> Started:
        started = Started(argv, env, tmp_path / f"{name}.log")
        running.append(started)
        return started

    yield _start
    for started in running:
        started.stop()


@pytest.fixture(scope="module")
def migrated(compose: dict[str, Any], secret_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    """Runs the compose `migrate` service's command (migrate + bootstrap); returns its output."""
    argv = compose["services"]["migrate"]["command"]
    env = _service_env(compose, "migrate", secret_files, tmp_path_factory.mktemp("migrate-data"))
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


# --- the file itself --------------------------------------------------------------------------------
def test_it_defines_the_production_services(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_it_runs_the_commands_this_repository_supports(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert services["web"]["command"][:2] == ["gunicorn", "config.wsgi"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert "manage.py migrate --noinput" in services["migrate"]["command"][-1]
    assert "healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_it_passes_secrets_only_as_mounted_files(compose: dict[str, Any]) -> None:
    declared = set(compose["secrets"])
    for name, service in compose["services"].items():
        attached = set(service.get("secrets") or [])
        assert attached <= declared, name
        for key, value in (service.get("environment") or {}).items():
            if key.endswith("_FILE"):
                assert value.startswith("/run/secrets/"), (name, key)
                assert value.removeprefix("/run/secrets/") in attached, (name, key)
            assert not re.search(r"(PASSWORD|SECRET|ROOT_KEY)$", key), f"{name}: {key} is set inline"
            assert "://" not in str(value) or "@" not in str(value), f"{name}: {key} carries credentials"
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        assert {"STRONGROOM_SECRET_KEY_FILE", "STRONGROOM_ROOT_KEY_FILE", "DATABASE_URL_FILE"} <= set(env), name
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


# --- the commands, run -------------------------------------------------------------------------------
def test_it_passes_the_deployment_checks_with_the_compose_settings(
    compose: dict[str, Any], secret_files: dict[str, Path], tmp_path: Path
) -> None:
    env = _service_env(compose, "web", secret_files, tmp_path / "data")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    report = result.stdout + result.stderr
    # What the compose environment is responsible for: a real secret key, hosts, secure cookies.
    for check_id in ("security.W009", "security.W012", "security.W016", "security.W020"):
        assert check_id not in report, report


def test_it_gives_the_owner_role_to_migrate_only(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]

    assert migrate["environment"]["DATABASE_URL_FILE"] == "/run/secrets/strongroom_database_owner_url"
    assert migrate["environment"]["STRONGROOM_APP_DATABASE_URL_FILE"] == "/run/secrets/strongroom_database_url"
    steps = [step.strip() for step in migrate["command"][-1].split("&&")]
    assert steps == [
        "python manage.py migrate --noinput",
        "python manage.py db_roles",
        "python manage.py bootstrap",
    ]
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL_FILE"] == "/run/secrets/strongroom_database_url", name
        assert "strongroom_database_owner_url" not in services[name]["secrets"], name
    # The sealer's audit anchor lives in the worker's data directory: a volume, not the container.
    assert "worker-data:/var/lib/strongroom" in services["worker"]["volumes"]
    assert "worker-data" in compose["volumes"]


def test_it_purges_audit_retention_as_the_owner_and_refuses_as_the_app_role(
    compose: dict[str, Any], secret_files: dict[str, Path], migrated: str, tmp_path: Path
) -> None:
    maintenance = compose["services"]["maintenance"]
    assert maintenance["environment"]["DATABASE_URL_FILE"] == "/run/secrets/strongroom_database_owner_url"
    assert "python manage.py audit_purge;" in maintenance["command"][-1]

    def run(service: str, *argv: str) -> subprocess.CompletedProcess[str]:
        env = _service_env(compose, service, secret_files, tmp_path / service)
        return subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    old_event = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from audit.models import AuditEvent\n"
        "from audit.sealing import audit_seal_pending\n"
        "AuditEvent.objects.create(occurred_at=timezone.now() - timedelta(days=400), action='test.old',"
        " actor_type='system')\n"
        "print('sealed', audit_seal_pending(delay_seconds=0))\n"
    )
    seeded = run("maintenance", "shell", "-c", old_event)
    as_app = run("worker", "audit_purge")
    as_owner = run("maintenance", "audit_purge")

    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert as_app.returncode == 1, as_app.stdout + as_app.stderr[-3000:]
    assert "Traceback" not in as_app.stderr
    assert "run it with the owner role's DATABASE_URL" in as_app.stderr
    assert as_owner.returncode == 0, as_owner.stderr[-3000:]
    assert "(no organization): purged 1 events in blocks 1..1 of chain 0" in as_owner.stdout


def test_it_migrates_and_bootstraps_with_the_compose_command(migrated: str, compose_app_role: str) -> None:
    assert "admin" in migrated.lower()
    assert f"Database role {compose_app_role} created (password set)" in migrated


def test_it_runs_the_app_as_a_role_that_cannot_touch_the_audit_log(
    compose: dict[str, Any], secret_files: dict[str, Path], migrated: str, compose_app_role: str, tmp_path: Path
) -> None:
    env = _service_env(compose, "web", secret_files, tmp_path / "data")
    probe = (
        "from django.db import connection, transaction\n"
        "cursor = connection.cursor()\n"
        "cursor.execute('SELECT current_user')\n"
        "print('user=' + cursor.fetchone()[0])\n"
        "try:\n"
        "    with transaction.atomic():\n"
        "        cursor.execute(\"SELECT set_config('strongroom.audit_maintenance', 'on', true)\")\n"
        "        cursor.execute(\"UPDATE audit_auditevent SET action = 'forged'\")\n"
        "    print('update=allowed')\n"
        "except Exception as exc:\n"
        "    print('update=refused ' + type(exc).__name__)\n"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr[-3000:]
    assert f"user={compose_app_role}" in result.stdout
    assert "update=refused ProgrammingError" in result.stdout  # permission denied, whatever the setting


def test_it_serves_health_from_the_compose_web_command(
    compose: dict[str, Any], secret_files: dict[str, Path], migrated: str, tmp_path: Path, start: Any
) -> None:
    web = compose["services"]["web"]
    port = _free_port()
    argv = list(web["command"])
    argv[argv.index("--bind") + 1] = f"127.0.0.1:{port}"  # servers here bind to loopback only
    env = _service_env(compose, "web", secret_files, tmp_path / "data")
    env["WEB_CONCURRENCY"] = "1"

    server = start(_local_argv(argv), env, "web")
    health = _get_when_up(f"http://127.0.0.1:{port}/healthz", server)
    ready_status, ready_body = _get(f"http://127.0.0.1:{port}/readyz")
    healthcheck = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in web["healthcheck"]["test"][1:]]
    probe = subprocess.run(_local_argv(healthcheck), env=env, capture_output=True, timeout=30, check=False)

    assert health == (200, '{"status": "ok"}')
    assert ready_status == 200, ready_body
    assert '"status": "ready"' in ready_body
    assert probe.returncode == 0, probe.stderr


def test_it_starts_the_compose_worker_and_answers_its_healthcheck(
    compose: dict[str, Any], secret_files: dict[str, Path], migrated: str, tmp_path: Path, start: Any
) -> None:
    worker = compose["services"]["worker"]
    env = _service_env(compose, "worker", secret_files, tmp_path / "data")
    # A node name of our own, so parallel runs on this machine never answer each other's ping.
    env["HOSTNAME"] = f"compose-test-{uuid.uuid4().hex[:8]}"
    argv = [*worker["command"], "--hostname", f"celery@{env['HOSTNAME']}"]

    started = start(_local_argv(argv), env, "worker")
    started.wait_for(r"celery@\S+ ready\.")
    shell_command = worker["healthcheck"]["test"][1]
    probe = subprocess.run(["sh", "-c", shell_command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    assert f"@127.0.0.1:6379/{COMPOSE_REDIS_DB}" in started.output()  # the compose broker, rewired
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "pong" in probe.stdout.lower()


def test_it_starts_the_compose_beat(
    compose: dict[str, Any], secret_files: dict[str, Path], migrated: str, tmp_path: Path, start: Any
) -> None:
    env = _service_env(compose, "beat", secret_files, tmp_path / "data")

    started = start(_local_argv(compose["services"]["beat"]["command"]), env, "beat")
    started.wait_for(r"beat: Starting\.\.\.")
    time.sleep(1)  # a crash right after start-up (bad schedule file, broker refusal) shows here

    assert started.process.poll() is None, started.output()[-3000:]
    assert any((tmp_path / "data").glob("celerybeat-schedule*")), "beat keeps its schedule in the data directory"


# --- helpers -----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _get_when_up(url: str, server: Started) -> tuple[int, str]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            return _get(url)
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    pytest.fail(f"{url} never answered:\n{server.output()[-4000:]}")
