"""The CLI runs as a subprocess (``python -m strongroom_cli``) against a live server.

``cli_server`` gives a live server with the cast (built inside the transactional test), secrets to
read, a personal API token for alice and a universal-auth machine identity; ``strongroom(...)``
runs the CLI with a clean environment (no STRONGROOM_*/INFISICAL_* from the caller, its own
config folder) pointed at that server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI_PATH = str(ROOT / "cli")


def cli_env(base_url: str, config_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "INFISICAL_", "PYTEST_", "GITHUB_"))}
    env["PYTHONPATH"] = CLI_PATH + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["STRONGROOM_API_URL"] = base_url
    env["STRONGROOM_CONFIG_DIR"] = str(config_dir)
    env["STRONGROOM_RETRIES"] = "0"
    for server_setting in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"):  # the server's, not the CLI's
        env.pop(server_setting, None)
    env.update(extra)
    return env


@dataclass
class CliServer:
    url: str
    cast: Any
    token: str  # alice's personal API token
    machine: Any  # universal-auth identity, project member
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def project_id(self) -> str:
        return str(self.cast.project.public_id)

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[bytes]:
        """``strongroom ARGS`` with the test environment (+ *env*); bytes out."""
        full = cli_env(self.url, self.config_dir, **(env or {}))
        return subprocess.run(
            [sys.executable, "-m", "strongroom_cli", *args],
            env=full,
            input=input,
            capture_output=True,
            timeout=timeout,
            cwd=str(self.config_dir.parent),
        )

    def popen(self, *args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.Popen[bytes]:
        full = cli_env(self.url, self.config_dir, **(env or {}))
        return subprocess.Popen([sys.executable, "-m", "strongroom_cli", *args], env=full, **kwargs)


def put(cast: Any, key: str, value: str, *, environment: str = "dev", path: str = "/") -> None:
    """Create or update a secret as alice."""
    from secrets_app.services.secrets import SecretInput, secret_bulk_upsert

    secret_bulk_upsert(
        scope=cast.scope(cast.alice), environment=environment, path=path, items=[SecretInput(key=key, value=value)]
    )


def seed(cast: Any) -> None:
    from secrets_app.services.folders import folder_create
    from secrets_app.services.secrets import SecretInput, secret_create

    scope = cast.scope(cast.alice)
    for env in ("staging", "prod"):
        folder_create(scope=scope, environment=env, path="/", name="backend")
        folder_create(scope=scope, environment=env, path="/backend", name="api")
    for env, value in (("staging", "postgres://staging-db/app"), ("prod", "postgres://prod-db/app")):
        secret_create(
            scope=scope, environment=env, path="/backend/api", item=SecretInput(key="DATABASE_URL", value=value)
        )
    secret_create(scope=scope, environment="dev", path="/", item=SecretInput(key="GREETING", value="hello-from-dev"))


@pytest.fixture
def cli_server(transactional_db: None, live_server: Any, tmp_path: Path) -> CliServer:
    from secrets_app.services.personal_tokens import personal_token_create
    from tests.compat.conftest import make_machine
    from tests.conftest import build_cast

    cast = build_cast()
    seed(cast)
    token = personal_token_create(user=cast.alice, name="cli-tests")[1]
    machine = make_machine(cast.project, "ci-pipeline", "member")
    config_dir = tmp_path / "config"
    return CliServer(url=live_server.url, cast=cast, token=token, machine=machine, config_dir=config_dir)
