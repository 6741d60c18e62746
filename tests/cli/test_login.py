"""``strongroom login`` with each method against the real login routes, the stored login (0600,
XDG_CONFIG_HOME), whoami, secrets/folders commands, and errors: one line, a documented exit code,
never a secret."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import CliServer


def _claims(token: str) -> dict[str, Any]:
    import base64

    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_universal_auth_plain_prints_only_the_token_and_stores_nothing(cli_server: CliServer) -> None:
    m = cli_server.machine
    result = cli_server.run(
        "login", "--method=universal-auth", f"--client-id={m.client_id}", f"--client-secret={m.client_secret}",
        "--silent", "--plain",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    token = result.stdout.decode()
    assert token.endswith("\n") and token.count("\n") == 1 and token.count(".") == 2
    assert _claims(token.strip())["identityId"]
    assert not cli_server.config_dir.exists()


def test_login_stores_the_token_0600_under_xdg_config_home_for_later_commands(
    cli_server: CliServer, tmp_path: Path
) -> None:
    m = cli_server.machine
    env = {"STRONGROOM_CONFIG_DIR": "", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    env_login = {**env, "STRONGROOM_CLIENT_ID": m.client_id, "STRONGROOM_CLIENT_SECRET": m.client_secret}
    result = cli_server.run("login", env=env_login)
    assert result.returncode == 0, result.stderr
    stored = tmp_path / "xdg" / "strongroom" / "credentials.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    assert m.client_secret.encode() not in result.stdout + result.stderr
    run = cli_server.run("run", "--projectId", "acme", "--", "sh", "-c", 'printf %s "$GREETING"', env=env)
    assert run.stdout == b"hello-from-dev", run.stderr
    whoami = cli_server.run("whoami", env=env)
    assert whoami.returncode == 0 and b"machine identity" in whoami.stdout and b"acme" in whoami.stdout
    # A stored token is never sent to another server.
    elsewhere = cli_server.run("run", "--domain", "http://127.0.0.1:9", "--projectId", "acme", "--", "true", env=env)
    assert elsewhere.returncode == 2 and b"no token" in elsewhere.stderr
    assert cli_server.run("logout", env=env).returncode == 0 and not stored.exists()


def test_bad_client_secret_is_exit_2_without_echoing_it(cli_server: CliServer) -> None:
    result = cli_server.run(
        "login", "--client-id", cli_server.machine.client_id, "--client-secret", "wrong-secret-value", "--plain"
    )
    assert result.returncode == 2
    assert result.stdout == b""
    assert result.stderr.count(b"\n") == 1 and result.stderr.startswith(b"strongroom: error: ")
    assert b"wrong-secret-value" not in result.stderr and b"Traceback" not in result.stderr


def test_jwt_and_oidc_auth_log_in_through_their_routes(cli_server: CliServer, settings: Any) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local issuer
    from secrets_app.identities.jwt_auth import jwt_auth_configure
    from secrets_app.identities.oidc_auth import discovery_cache_clear, oidc_auth_configure
    from secrets_app.models import IdentityProjectMembership, MachineIdentity, OrgRole
    from secrets_app.principals import Principal
    from secrets_app.services.users import user_create
    from tests.emulators.oidc_issuer import OidcIssuer

    cast = cli_server.cast
    admin = Principal.for_user(
        user_create(email="olga@example.com", password="x" * 20, organization=cast.organization, org_role=OrgRole.ADMIN)
    )
    issuer = OidcIssuer()
    try:
        discovery_cache_clear()
        now = int(time.time())
        claims = {"iss": issuer.issuer_for(), "sub": "pipeline", "aud": "strongroom", "iat": now, "exp": now + 300}
        for method in ("jwt-auth", "oidc-auth"):
            identity = MachineIdentity.objects.create(organization=cast.organization, name=f"robot-{method}")
            IdentityProjectMembership.objects.create(project=cast.project, identity=identity, builtin_role="member")
            common = {"bound_issuer": issuer.issuer_for(), "bound_audiences": "strongroom", "bound_subject": "pipeline"}
            if method == "jwt-auth":
                jwt_auth_configure(
                    principal=admin,
                    identity=identity,
                    config_type="jwks",
                    jwks_url=issuer.jwks_url,
                    jwks_ca_cert=issuer.ca_pem,
                    **common,
                )
            else:
                oidc_auth_configure(
                    principal=admin,
                    identity=identity,
                    oidc_discovery_url=issuer.issuer_for(),
                    ca_cert=issuer.ca_pem,
                    **common,
                )
            result = cli_server.run(
                "login", f"--method={method}", f"--machine-identity-id={identity.public_id}", "--silent", "--plain",
                env={"STRONGROOM_JWT": issuer.mint(claims)},
            )  # fmt: skip
            assert result.returncode == 0, (method, result.stderr)
            assert _claims(result.stdout.decode().strip())["identityId"]
    finally:
        issuer.stop()


def test_kubernetes_login_reads_the_service_account_token_file(
    cli_server: CliServer, tmp_path: Path, settings: Any
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]  # the local API server
    from secrets_app.identities.kubernetes_auth import kubernetes_auth_configure
    from secrets_app.models import IdentityProjectMembership, MachineIdentity, OrgRole
    from secrets_app.principals import Principal
    from secrets_app.services.users import user_create
    from tests.emulators.kubernetes import KubernetesEmulator

    cast = cli_server.cast
    admin = Principal.for_user(
        user_create(email="olga@example.com", password="x" * 20, organization=cast.organization, org_role=OrgRole.ADMIN)
    )
    k8s = KubernetesEmulator()
    try:
        identity = MachineIdentity.objects.create(organization=cast.organization, name="k8s-robot")
        IdentityProjectMembership.objects.create(project=cast.project, identity=identity, builtin_role="member")
        kubernetes_auth_configure(
            principal=admin,
            identity=identity,
            kubernetes_host=k8s.base_url,
            ca_cert=k8s.ca_pem,
            token_reviewer_jwt=k8s.add_reviewer(),
            allowed_namespaces="ci",
            allowed_names="deployer",
        )
        token_file = tmp_path / "sa-token"
        token_file.write_text(k8s.add_service_account_token("ci", "deployer") + "\n")
        result = cli_server.run(
            "login", "--method=kubernetes", f"--machine-identity-id={identity.public_id}",
            f"--service-account-token-path={token_file}", "--plain",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert _claims(result.stdout.decode().strip())["identityId"]
    finally:
        k8s.stop()


def test_exit_codes_for_bad_token_forbidden_not_found_and_unreachable(cli_server: CliServer) -> None:
    from secrets_app.services.personal_tokens import personal_token_create

    dave = personal_token_create(user=cli_server.cast.dave, name="viewer")[1]  # viewer: names, no values
    cases = [
        (["--token", "srp_not-a-real-token", "--projectId", "acme"], 2),
        (["--token", dave, "--projectId", "acme"], 3),
        (["--token", cli_server.token, "--projectId", "no-such-project"], 4),
        (["--token", cli_server.token, "--projectId", "acme", "--domain", "http://127.0.0.1:9"], 5),
        (["--token", cli_server.token], 1),  # no project
    ]
    for args, code in cases:
        result = cli_server.run("export", *args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith(b"strongroom: error: ") and result.stderr.count(b"\n") == 1
        assert cli_server.token.encode() not in result.stderr and dave.encode() not in result.stderr
    assert cli_server.run("run", "--bogus-flag").returncode == 1


class _Stub:
    """A server answering from a script of (status, headers, body), recording requests."""

    def __init__(self, answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        self.answers, self.requests = list(answers), []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                stub.requests.append(self.path)
                status, headers, body = stub.answers.pop(0) if len(stub.answers) > 1 else stub.answers[0]
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def stub() -> Iterator[Any]:
    servers: list[_Stub] = []

    def make(answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> _Stub:
        servers.append(_Stub(answers))
        return servers[-1]

    yield make
    for server in servers:
        server.server.shutdown()


def test_it_retries_429_and_5xx_honouring_retry_after_and_stops_at_sealed(stub: Any, tmp_path: Path) -> None:
    from tests.cli.conftest import cli_env

    ok = (200, {}, {"secrets": [{"key": "A", "value": "1", "path": "/"}], "importsSkipped": []})
    flaky = stub([(429, {"Retry-After": "1"}, {"error": {"code": "throttled", "message": "slow down"}}),
                  (502, {}, {}), ok])  # fmt: skip
    import subprocess
    import sys

    def cli(url: str, retries: str) -> subprocess.CompletedProcess[bytes]:
        env = cli_env(url, tmp_path / "config", STRONGROOM_RETRIES=retries, STRONGROOM_TOKEN="t")
        return subprocess.run(
            [sys.executable, "-m", "strongroom_cli", "export", "--projectId", "p"], env=env, capture_output=True
        )

    started = time.monotonic()
    result = cli(flaky.url, "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"A='1'\n" and len(flaky.requests) == 3
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    sealed = stub([(503, {}, {"error": {"code": "sealed", "message": "Strongroom is sealed: no root key"}})])
    result = cli(sealed.url, "3")
    assert result.returncode == 6 and len(sealed.requests) == 1  # final, not retried
    assert b"sealed" in result.stderr
    busy = stub([(503, {"Retry-After": "0"}, {"error": {"code": "unavailable", "message": "busy"}})])
    assert cli(busy.url, "1").returncode == 7 and len(busy.requests) == 2


def test_secrets_and_folders_commands(cli_server: CliServer) -> None:
    base = ["--token", cli_server.token, "--projectId", "acme", "--env", "dev"]
    assert cli_server.run("folders", "create", "billing", *base).returncode == 0
    assert cli_server.run("folders", "list", *base).stdout == b"/billing\n"
    created = cli_server.run("secrets", "set", "A=1", "MULTI=x=y", "--path", "/billing", *base)
    assert created.returncode == 0, created.stderr
    assert created.stdout == b"created A\ncreated MULTI\n"
    got = cli_server.run("secrets", "get", "MULTI", "--plain", "--path", "/billing", *base)
    assert got.stdout == b"x=y\n"
    listed = cli_server.run("secrets", "list", "--path", "/billing", *base)
    assert b"MULTI" in listed.stdout and b"x=y" not in listed.stdout  # names unless --values
    assert cli_server.run("secrets", "delete", "A", "--path", "/billing", *base).stdout == b"deleted A\n"
    missing = cli_server.run("secrets", "get", "A", "--path", "/billing", *base)
    assert missing.returncode == 4
    assert cli_server.run("folders", "delete", "--path", "/billing", *base).returncode == 0
    me = cli_server.run("whoami", "--token", cli_server.token)
    assert me.stdout.startswith(b"alice@example.com at ")


def test_version_is_fast_and_plain(cli_server: CliServer) -> None:
    result = cli_server.run("--version")
    assert result.returncode == 0 and result.stdout == b"strongroom 0.1.0\n"
