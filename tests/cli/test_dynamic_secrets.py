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


# --- --ado-run: leases bound to an Azure DevOps run (the ADO emulator of tests/dynamic/test_ado_runs.py) ---


@pytest.fixture
def ado_leasing(leasing: CliServer, settings: Any) -> Iterator[tuple[CliServer, Any]]:
    from secrets_app.principals import Principal
    from syncs.services.connections import connection_create
    from tests.dynamic.test_ado_runs import PAT
    from tests.emulators.azure_devops import AzureDevOpsEmulator

    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = ["127.0.0.1"]
    with AzureDevOpsEmulator(pats=(PAT,)) as ado:
        connection_create(
            principal=Principal.for_user(leasing.cast.alice),
            organization=leasing.cast.organization,
            kind="azure_devops",
            method="pat",
            name="ado",
            credentials={"token": PAT},
            config={"organization_url": ado.org_url},
        )
        yield leasing, ado


def _pipeline_env(ado: Any, build: int, token: str) -> dict[str, str]:
    """What an agent puts in a step's environment (SYSTEM_ACCESSTOKEN only when the step maps it)."""
    return {
        "SYSTEM_COLLECTIONURI": ado.org_url + "/",
        "SYSTEM_TEAMPROJECT": "proj1",
        "BUILD_BUILDID": str(build),
        "SYSTEM_ACCESSTOKEN": token,
    }


def test_ado_run_auto_binds_the_lease_to_the_run_in_progress(ado_leasing: tuple[CliServer, Any]) -> None:
    server, ado = ado_leasing
    build, token = ado.add_build(), ado.job_token("proj1")

    created = server.run(
        "dynamic-secrets", "lease", "create", "db", *_base(server), "--ado-run", "auto", "--format", "json",
        env=_pipeline_env(ado, build, token),
    )  # fmt: skip
    explicit = server.run(
        "run", *_base(server), "--lease", "db", "--ado-run", f"acme/proj1/{build}", "--",
        PY, "-c", "import os; print(os.environ['DB_USERNAME'])",
        env={"SYSTEM_ACCESSTOKEN": token},
    )  # fmt: skip

    assert created.returncode == 0, created.stderr
    run = json.loads(created.stdout)["lease"]["adoRun"]
    assert run["buildId"] == build and run["state"] == "inProgress" and run["boundBy"] == "access_token"
    assert explicit.returncode == 0, explicit.stderr
    held = Lease.objects.get(username=explicit.stdout.decode().strip())
    assert held.ado_build_id == build and held.status == LeaseStatus.REVOKED  # bound, and revoked at exit
    for result in (created, explicit):
        assert token.encode() not in result.stdout + result.stderr


def test_ado_run_of_a_completed_build_or_without_the_token_is_a_one_line_error(
    ado_leasing: tuple[CliServer, Any],
) -> None:
    server, ado = ado_leasing
    done, token = ado.add_build(status="completed"), ado.job_token("proj1")
    reads = len(ado.build_reads())

    completed = server.run(
        "dynamic-secrets", "lease", "create", "db", *_base(server), "--ado-run", "auto",
        env=_pipeline_env(ado, done, token),
    )  # fmt: skip
    in_run = server.run(
        "run", *_base(server), "--lease", "db", "--ado-run", "auto", "--", "true", env=_pipeline_env(ado, done, token)
    )
    no_token = server.run(
        "dynamic-secrets", "lease", "create", "db", *_base(server), "--ado-run", f"acme/proj1/{done}",
        env={**_pipeline_env(ado, done, token), "SYSTEM_ACCESSTOKEN": ""},
    )  # fmt: skip

    assert completed.returncode == 1 and in_run.returncode == 1
    assert f"build {done} is completed".encode() in completed.stderr
    assert no_token.returncode == 1 and b"SYSTEM_ACCESSTOKEN" in no_token.stderr
    assert len(ado.build_reads()) == reads + 2  # no token: nothing asked
    for result in (completed, in_run, no_token):
        assert result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"strongroom: error: ")
        assert result.stdout == b"" and token.encode() not in result.stderr
    assert not Lease.objects.exists()  # nothing leased


class _LosesTheFirstLeaseAnswer:
    """A proxy in front of the live server that passes the first lease creation on and then drops
    the connection before answering (a read timeout, as the client sees it)."""

    def __init__(self, upstream: str) -> None:
        import http.server
        import threading
        import urllib.error
        import urllib.request

        proxy = self
        self.dropped = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the live server
                        status, payload, reply_headers = answer.status, answer.read(), answer.headers
                except urllib.error.HTTPError as error:
                    status, payload, reply_headers = error.code, error.read(), error.headers
                if self.command == "POST" and self.path.endswith("/leases/") and not proxy.dropped:
                    proxy.dropped += 1
                    self.close_connection = True
                    return  # the lease exists; its answer never arrives
                self.send_response(status)
                for name in ("Content-Type", "X-Request-Id"):
                    if reply_headers.get(name):
                        self.send_header(name, reply_headers[name])
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _forward  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_lease_whose_answer_was_lost_is_revoked_and_taken_again_not_doubled(leasing: CliServer) -> None:
    proxy = _LosesTheFirstLeaseAnswer(leasing.url)
    try:
        result = leasing.run(
            "dynamic-secrets", "lease", "create", "db", *_base(leasing), "--format", "json",
            env={"STRONGROOM_API_URL": proxy.url, "STRONGROOM_RETRIES": "1"},
        )  # fmt: skip
    finally:
        proxy.server.shutdown()

    assert result.returncode == 0, result.stderr
    assert proxy.dropped == 1
    answer = json.loads(result.stdout)
    leases = {lease.public_id.hex: lease for lease in Lease.objects.all()}
    assert len(leases) == 2  # the retry was answered 409 naming the first lease: revoked, then one new lease
    kept = leases.pop(answer["lease"]["id"].replace("-", ""))
    assert kept.status == LeaseStatus.ACTIVE and pg_role_exists(kept.username)
    (orphan,) = leases.values()
    assert orphan.status == LeaseStatus.REVOKED and not pg_role_exists(orphan.username)
