"""``strongroom run --lease`` and ``strongroom dynamic-secrets lease …`` as a subprocess against a live
server and the machine's PostgreSQL: the child logs in as the leased user, the lease is renewed while
a command outlives it, and the user is gone once the command exits — also after SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from dynamic.models import Lease, LeaseStatus
from tests.cli.conftest import CliServer
from tests.cli.test_run import _wait_for
from tests.dynamic.conftest import DbTarget, define, pg_login, pg_role_exists
from tests.support.dynamic_targets import private_pg_target

pytestmark = pytest.mark.slow
PY = sys.executable


@pytest.fixture(scope="module")
def pg_target() -> Iterator[DbTarget]:
    with private_pg_target() as target:
        yield target


@pytest.fixture
def leasing(cli_server: CliServer, pg_target: DbTarget, settings: Any) -> CliServer:
    from dynamic.models import TargetAllowlist

    settings.STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS = 0  # no revocation messages: the CLI revokes
    settings.STRONGROOM_DYNAMIC_MIN_TTL_SECONDS = 1  # a 3 s lease, to watch renewals in a short test
    cast = cli_server.cast
    TargetAllowlist.objects.update_or_create(organization=cast.organization, defaults={"entries": ["127.0.0.1/32"]})
    define(cast, pg_target, name="db", default_ttl="1h", max_ttl="2h")
    return cli_server


def connect_script(target: DbTarget, prefix: str = "", then: str = "") -> str:
    """A child that logs in with the leased variables and prints the user name (never the password)."""
    return (
        "import os, sys, time, psycopg\n"  # noqa: S608 - a test child, not a query
        f"{then}\n"
        f"user, password = os.environ['{prefix}DB_USERNAME'], os.environ['{prefix}DB_PASSWORD']\n"
        f"with psycopg.connect(host='{target.host}', port={target.port}, dbname='{target.database}', "
        "user=user, password=password, connect_timeout=5) as conn:\n"
        "    assert conn.execute('SELECT label FROM items').fetchone() == ('first',)\n"
        "print(user, flush=True)\n"
    )


def _base(server: CliServer) -> list[str]:
    return [f"--token={server.token}", "--projectId=acme", "--env=dev"]


def test_run_lease_gives_the_child_a_database_user_that_is_gone_after_it_exits(
    leasing: CliServer, pg_target: DbTarget
) -> None:
    script = connect_script(pg_target, "PG_") + "sys.exit(7)\n"
    result = leasing.run("run", *_base(leasing), "--lease", "db:PG_", "--", PY, "-c", script)

    assert result.returncode == 7, result.stderr  # the child's exit code
    assert result.stderr == b""
    username = result.stdout.decode().strip()
    assert username and not pg_role_exists(username)
    assert Lease.objects.get(username=username).status == LeaseStatus.REVOKED


def test_run_lease_renews_a_lease_shorter_than_the_command(leasing: CliServer, pg_target: DbTarget) -> None:
    # The role's VALID UNTIL is the lease's expiry: after 5 s the login works only if it was renewed.
    script = connect_script(pg_target, then="time.sleep(5)")
    result = leasing.run("run", *_base(leasing), "--lease", "/db", "--lease-ttl", "3s", "--", PY, "-c", script)

    assert result.returncode == 0, result.stderr
    lease = Lease.objects.get(username=result.stdout.decode().strip())
    assert lease.version >= 3 and lease.status == LeaseStatus.REVOKED  # renewed at least twice, then revoked
    assert not pg_role_exists(lease.username)


def test_sigterm_to_the_cli_reaches_the_child_and_the_lease_is_still_revoked(
    leasing: CliServer, pg_target: DbTarget
) -> None:
    script = connect_script(pg_target, then="") + "time.sleep(60)\n"
    process = leasing.popen(
        "run", *_base(leasing), "--lease", "db", "--", PY, "-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        username = _wait_for(process.stdout, b"").decode().strip()
        assert pg_role_exists(username)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
    assert not pg_role_exists(username)
    assert Lease.objects.get(username=username).status == LeaseStatus.REVOKED


def test_lease_create_list_renew_revoke_commands(leasing: CliServer, pg_target: DbTarget) -> None:
    created = leasing.run(
        "dynamic-secrets", "lease", "create", "db", *_base(leasing), "--ttl", "30m", "--format", "json"
    )
    assert created.returncode == 0, created.stderr
    answer = json.loads(created.stdout)
    lease_id, data = answer["lease"]["id"], answer["data"]
    with pg_login(pg_target, data["DB_USERNAME"], data["DB_PASSWORD"]):
        pass

    plain = leasing.run("dynamic-secrets", "lease", "create", "db", *_base(leasing), "--plain")
    assert plain.returncode == 0 and len(plain.stdout.decode().splitlines()) == 2
    assert plain.stderr.decode().startswith("strongroom: lease ")
    listed = leasing.run("dynamic-secrets", "lease", "list", "db", *_base(leasing), "--plain")
    assert listed.returncode == 0 and lease_id in listed.stdout.decode().split()
    table = leasing.run("dynamic-secrets", "lease", "list", *_base(leasing))
    assert data["DB_USERNAME"] in table.stdout.decode() and data["DB_PASSWORD"] not in table.stdout.decode()

    renewed = leasing.run("dynamic-secrets", "lease", "renew", lease_id, *_base(leasing), "--ttl", "10m", "--plain")
    assert renewed.returncode == 0, renewed.stderr
    assert renewed.stdout.decode().strip() > answer["lease"]["expireAt"]  # ISO times, same format
    over = leasing.run("dynamic-secrets", "lease", "renew", lease_id, *_base(leasing), "--ttl", "2h")
    assert over.returncode == 1 and b"would exceed the maximum allowed lease duration" in over.stderr

    revoked = leasing.run("dynamic-secrets", "lease", "revoke", lease_id, *_base(leasing))
    assert revoked.returncode == 0, revoked.stderr
    assert f"lease {lease_id} revoked: revoked".encode() in revoked.stdout
    assert not pg_role_exists(data["DB_USERNAME"])
    for lease in Lease.objects.filter(status=LeaseStatus.ACTIVE):
        leasing.run("dynamic-secrets", "lease", "delete", str(lease.public_id), *_base(leasing))
    live = leasing.run("dynamic-secrets", "lease", "list", *_base(leasing), "--plain")
    assert live.returncode == 0 and live.stdout == b""


def test_lease_errors_are_one_line_with_an_exit_code(leasing: CliServer) -> None:
    missing = leasing.run("dynamic-secrets", "lease", "create", "nope", *_base(leasing))
    too_long = leasing.run("dynamic-secrets", "lease", "create", "db", *_base(leasing), "--ttl", "3h")
    run_missing = leasing.run("run", *_base(leasing), "--lease", "nope", "--", "true")

    assert missing.returncode == 4 and run_missing.returncode == 4
    assert too_long.returncode == 1 and b"TTL cannot be larger than max TTL" in too_long.stderr
    for result in (missing, too_long, run_missing):
        assert result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"strongroom: error: ")
        assert b"Traceback" not in result.stderr
    assert not Lease.objects.filter(status=LeaseStatus.ACTIVE).exists()
