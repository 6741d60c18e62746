"""A5 and B3 across server processes: gunicorn with several workers (config/gunicorn.py, as in
production) on this run's test database. After a revocation, a role change or a deactivation, no
worker serves a stale allow: nothing about access is cached in a worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
PARALLEL = 24  # requests fired at once, so every worker answers some of them


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor != "postgresql":
        pytest.skip("several server processes need the PostgreSQL test database")
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("STRONGROOM_", "DJANGO_", "DATABASE_URL"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "STRONGROOM_DATA_DIR": str(tmp_path / "data"),
        "STRONGROOM_SECRET_KEY": settings.SECRET_KEY,  # token hashes are keyed with it
        "STRONGROOM_ROOT_KEY": settings.STRONGROOM_ROOT_KEY,
        "STRONGROOM_LOG_LEVEL": "WARNING",
        "STRONGROOM_API_READ_RATE_PER_MINUTE": "0",
        "STRONGROOM_LOGIN_RATE_PER_MINUTE": "100000",
        "WEB_CONCURRENCY": str(WORKERS),
    }
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    argv = [gunicorn, "config.wsgi", "--config", "config/gunicorn.py", "--bind", f"127.0.0.1:{port}"]
    argv += ["--workers", str(WORKERS)]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 45
    try:
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _statuses(url: str, token: str, params: dict[str, str]) -> set[int]:
    """Status codes of PARALLEL reads fired at once (fresh connections, spread over the workers)."""

    def one(_: int) -> int:
        return requests.get(
            url, params=params, headers={"Authorization": f"Bearer {token}", "Connection": "close"}, timeout=30
        ).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        return set(pool.map(one, range(PARALLEL)))


@pytest.mark.slow
def test_A5_B3_revocations_reach_every_server_process_on_the_next_request(server: str) -> None:
    from secrets_app.models import ProjectMembership
    from secrets_app.services.personal_tokens import personal_token_create
    from secrets_app.services.secrets import SecretInput, secret_create
    from tests.conftest import build_cast
    from tests.identities.universal_support import make_robot

    cast = build_cast()
    secret_create(scope=cast.scope(cast.alice), environment="prod", path="/", item=SecretInput(key="PW", value="pw"))
    robot = make_robot(cast, role="member", lockout_enabled=False)
    login = requests.post(
        f"{server}/api/v1/auth/universal-auth/login",
        json={"clientId": robot.client_id, "clientSecret": robot.client_secret},
        timeout=30,
    )
    machine = login.json()["accessToken"]
    alice, bob, dave = (personal_token_create(user=user, name="procs")[1] for user in (cast.alice, cast.bob, cast.dave))
    read = f"{server}/api/v1/projects/acme/secrets/PW/"
    prod = {"environment": "prod"}
    admin = {"Authorization": f"Bearer {alice}"}

    assert _statuses(read, machine, prod) == {200}
    assert _statuses(read, bob, prod) == {200}
    assert _statuses(read, dave, {**prod, "include_value": "false"}) == {200}

    # B3: the machine token is revoked; A5: bob's role drops to viewer; dave is deactivated.
    assert (
        requests.post(f"{server}/api/v1/auth/token/revoke", json={"accessToken": machine}, timeout=30).status_code
        == 200
    )
    membership = ProjectMembership.objects.get(project=cast.project, user=cast.bob)
    changed = requests.patch(
        f"{server}/api/v1/projects/acme/members/{membership.pk}/", json={"role": "viewer"}, headers=admin, timeout=30
    )
    assert changed.status_code == 200, changed.text
    from tests.identities.universal_support import make_org_admin

    make_org_admin(cast)
    off = requests.post(
        f"{server}/api/v1/organizations/acme-org/people/{cast.dave.pk}/deactivate/", json={}, headers=admin, timeout=30
    )
    assert off.status_code == 200, off.text

    assert _statuses(read, machine, prod) == {401}
    assert _statuses(read, bob, prod) == {403}
    assert _statuses(read, dave, {**prod, "include_value": "false"}) == {401}
