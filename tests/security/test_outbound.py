"""The outbound-URL guard (security bar E4) and credentials bound to their connection's host (A6):
refused addresses and spellings, the dialled address is the checked one (DNS rebinding), no
redirects, one generic answer on login routes, and Azure DevOps / Key Vault credentials that no
destination, ResourceAreas answer or SDK fallback can send elsewhere.

DNS is an outside system: tests answer it through ``outbound.use_resolver`` (the guard's seam);
everything else is real sockets to local servers and emulators.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from rest_framework.test import APIClient

from audit.models import AuditEvent
from secrets_app import outbound
from secrets_app.errors import ValidationFailed
from tests.emulators.azure_devops import AzureDevOpsEmulator
from tests.identities.conftest import (  # noqa: F401 (fixtures)
    _issuer_server,
    admin_principal,
    issuer,
    org_admin,
    robot,
)
from tests.syncs.conftest import GOOD_PAT, make_connection, make_sync, put_secret, run_now

CORE_AREA = "79134c72-4a58-4b42-976c-04e7115f32bf"
TASK_AGENT_AREA = "a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd"


class Recorder:
    """A plain HTTP server on 127.0.0.1 recording (path, Host) and answering *status* (+ Location)."""

    def __init__(self, status: int = 200, location: str = "", body: bytes = b'{"keys": []}') -> None:
        self.seen: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                recorder.seen.append((self.path, self.headers.get("Host", "")))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder(body=b'{"not": "a JWKS"}')
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _nothing_allowed(settings: Any) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    settings.STRONGROOM_SYNC_ALLOWED_HOSTS = []


def _fixed_resolver(table: dict[str, list[list[str]]]) -> Any:
    """Answers from *table*: each name's list of successive answers (the last one repeats)."""
    calls: dict[str, int] = {}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:  # IP literals and /etc/hosts names: no DNS involved
            return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})
        answers = table[host]
        index = calls.get(host, 0)
        calls[host] = index + 1
        return answers[min(index, len(answers) - 1)]

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


# --- the address policy -----------------------------------------------------------------------------

REFUSED = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "https://172.16.5.4/",
    "https://192.168.1.1/",
    "https://100.64.0.1/",  # CGNAT
    "https://0.0.0.0/",
    "https://127.0.0.1/",
    "https://[::1]/",
    "https://[::]/",
    "https://[fe80::1]/",
    "https://[fd00::1]/",
    "https://[::ffff:169.254.169.254]/",  # IPv4-mapped
    "https://[::7f00:1]/",  # IPv4-compatible
    "https://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
    "https://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "https://224.0.0.1/",
    "https://localhost/",
    "https://localhost./",
    "http://2130706433/",  # decimal 127.0.0.1
    "https://0x7f.1/",  # hex
    "https://0177.0.0.1/",  # octal
    "https://127.1/",  # short form
    "https://metadata.internal.example/",  # a name resolving to a private address
    "http://public.example/",  # plain http to a public host
    "file:///etc/passwd",
    "gopher://public.example/",
    "https://user:pw@public.example/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_E4_refuses_non_public_addresses_and_their_spellings(url: str) -> None:
    resolver = _fixed_resolver({"metadata.internal.example": [["10.20.30.40"]], "public.example": [["93.184.216.34"]]})
    with outbound.use_resolver(resolver), pytest.raises(outbound.OutboundRefused):
        outbound.check_url(url)


def test_E4_accepts_public_https_and_allowlisted_hosts(settings: Any) -> None:
    with outbound.use_resolver(_fixed_resolver({"api.example": [["93.184.216.34"]], "ado.lan": [["10.1.1.1"]]})):
        assert outbound.check_url("https://api.example/keys") == "https://api.example/keys"
        assert outbound.check_url("https://[2606:4700::1111]/") == "https://[2606:4700::1111]/"
        with pytest.raises(outbound.OutboundRefused):
            outbound.check_url("http://ado.lan/")
        settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["10.1.0.0/16"]
        assert outbound.check_url("http://ado.lan/")  # the operator's escape hatch, http included
        with pytest.raises(outbound.OutboundRefused):
            outbound.check_url("http://2130706433/")  # a numeric spelling never passes


# --- connect time: the checked address is the dialled address ---------------------------------------


def test_E4_dials_the_address_it_checked_and_catches_rebinding(settings: Any, recorder: Recorder) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1/32"]  # by address only, not by name
    url = f"http://issuer.invalid:{recorder.port}/keys"
    resolver = _fixed_resolver({"issuer.invalid": [["127.0.0.1"], ["10.9.9.9"]]})
    with outbound.use_resolver(resolver), outbound.session() as session:
        # A name no real DNS knows reaches the server: the connection went to the resolved address,
        # with the name kept in the Host header.
        assert session.get(url, timeout=5).status_code == 200
        assert recorder.seen == [("/keys", f"issuer.invalid:{recorder.port}")]
        assert resolver.calls["issuer.invalid"] == 1  # resolved once per connection
        session.close()  # a new connection must resolve (and check) again
        with pytest.raises(outbound.OutboundRefused, match="issuer.invalid"):
            session.get(url, timeout=5)  # the name now points inside: refused before connecting
    assert len(recorder.seen) == 1


def test_E4_a_name_checked_public_at_save_time_that_rebinds_to_loopback_is_refused_at_connect(
    recorder: Recorder,
) -> None:
    url = f"https://rebind.invalid:{recorder.port}/keys"
    resolver = _fixed_resolver({"rebind.invalid": [["93.184.216.34"], ["127.0.0.1"]]})
    with outbound.use_resolver(resolver):
        assert outbound.check_url(url)  # save time: public
        with outbound.session() as session, pytest.raises(outbound.OutboundRefused, match="127.0.0.1"):
            session.get(url, timeout=5)
    assert recorder.seen == []


def test_E4_a_302_to_an_internal_address_is_not_followed(settings: Any, recorder: Recorder) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    redirector = Recorder(status=302, location=f"http://127.0.0.1:{recorder.port}/internal")
    try:
        with outbound.session() as session, pytest.raises(outbound.OutboundRefused, match="redirect"):
            session.get(f"http://127.0.0.1:{redirector.port}/keys", timeout=5)  # allow_redirects defaults on
    finally:
        redirector.stop()
    assert recorder.seen == []


def test_E4_a_bound_session_reaches_no_other_host(settings: Any, recorder: Recorder) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    with outbound.session(bound_to=["https://dev.azure.com/acme"]) as session:
        with pytest.raises(outbound.OutboundRefused, match="bound to dev.azure.com"):
            session.get(f"http://127.0.0.1:{recorder.port}/", headers={"Authorization": "Basic secret"}, timeout=5)
    assert recorder.seen == []


def test_E4_proxy_variables_cannot_divert_a_request(
    settings: Any, recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with outbound.session() as session:
        assert session.get(f"http://127.0.0.1:{recorder.port}/direct", timeout=5).status_code == 200
    assert recorder.seen[0][0] == "/direct"


# --- auth methods and login routes ------------------------------------------------------------------


def test_E4_auth_method_urls_must_be_public(robot: Any, admin_principal: Any) -> None:  # noqa: F811
    from secrets_app.identities.jwt_auth import jwt_auth_configure
    from secrets_app.identities.kubernetes_auth import kubernetes_auth_configure
    from secrets_app.identities.oidc_auth import oidc_auth_configure

    common = {"principal": admin_principal, "identity": robot, "bound_issuer": "https://issuer.example"}
    for url in ("https://169.254.169.254/keys", "https://10.0.0.1/keys", "https://[::1]/keys", "https://localhost/k"):
        with pytest.raises(ValidationFailed) as caught:
            jwt_auth_configure(config_type="jwks", jwks_url=url, **common)
        assert "jwksUrl" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        oidc_auth_configure(oidc_discovery_url="https://0x7f.1/", **common)
    assert "oidcDiscoveryUrl" in caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        kubernetes_auth_configure(
            principal=admin_principal, identity=robot, kubernetes_host="https://[::ffff:10.0.0.1]"
        )
    assert "kubernetesHost" in caught.value.fields


def test_E4_login_routes_answer_one_generic_error_and_audit_the_detail(
    settings: Any,
    robot: Any,  # noqa: F811
    admin_principal: Any,  # noqa: F811
    issuer: Any,  # noqa: F811
    recorder: Recorder,
) -> None:
    from secrets_app.identities.jwt_auth import jwks_cache, jwt_auth_configure

    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    claims = {"iss": "https://issuer.example", "aud": "strongroom", "sub": "x", "exp": int(time.time()) + 300}
    token = issuer.mint(claims, kid="rsa-1")
    targets = {
        "closed port": "http://127.0.0.1:9/keys",
        "HTTP 404": f"{issuer.base_url}/missing",
        "no keys": f"http://127.0.0.1:{recorder.port}/keys",
        "redirect": None,
    }
    redirector = Recorder(status=302, location="http://169.254.169.254/latest/meta-data/")
    targets["redirect"] = f"http://127.0.0.1:{redirector.port}/keys"
    answers = []
    try:
        for jwks_url in targets.values():
            jwks_cache.clear()
            jwt_auth_configure(
                principal=admin_principal,
                identity=robot,
                config_type="jwks",
                jwks_url=jwks_url,
                jwks_ca_cert=issuer.ca_pem,
                bound_issuer="https://issuer.example",
                bound_audiences="strongroom",
            )
            for path in ("/api/v1/auth/jwt-auth/login", "/compat/infisical/api/v1/auth/jwt-auth/login"):
                answer = APIClient().post(path, {"identityId": str(robot.public_id), "jwt": token}, format="json")
                body = answer.json()
                body.pop("requestId", None)
                body.pop("reqId", None)  # differs per request by design
                answers.append((path, answer.status_code, body))
    finally:
        redirector.stop()
    for path in {path for path, _, _ in answers}:
        distinct = {(status, repr(body)) for answer_path, status, body in answers if answer_path == path}
        assert len(distinct) == 1, distinct  # unreachable, 404, no keys, redirect: one answer
        [(status, body)] = distinct
        assert status == 502 and "HTTP" not in body and "reached" not in body
    reasons = [event.metadata["reason"] for event in AuditEvent.objects.filter(action="identity.login_failed")]
    assert any("could not be reached" in reason for reason in reasons)
    assert any("answered HTTP 404" in reason for reason in reasons)
    assert any("no keys" in reason for reason in reasons)
    assert any("redirect" in reason for reason in reasons)


# --- Azure DevOps: the credential stays with the connection's organization --------------------------


@pytest.fixture
def two_orgs(settings: Any) -> Iterator[tuple[AzureDevOpsEmulator, AzureDevOpsEmulator]]:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_SYNC_DEBOUNCE_SECONDS = 0
    with (
        AzureDevOpsEmulator(pats=(GOOD_PAT,)) as home,
        AzureDevOpsEmulator(organization="evil", pats=()) as elsewhere,
    ):
        yield home, elsewhere


def _carried_the_pat(emulator: AzureDevOpsEmulator) -> bool:
    """Whether any request reached *emulator* at all (every SDK request carries the credential)."""
    return bool(emulator.requests)


def test_A6_a_destination_cannot_send_the_connection_credential_to_another_organization(
    cast: Any, two_orgs: tuple[AzureDevOpsEmulator, AzureDevOpsEmulator]
) -> None:
    from syncs.models import SecretSync, SyncStatus

    home, elsewhere = two_orgs
    put_secret(cast, "APP_A", "1")
    connection = make_connection(cast, home)
    with pytest.raises(ValidationFailed) as caught:
        make_sync(
            cast, connection, destination={"project": "proj1", "group_name": "g", "organization_url": elsewhere.org_url}
        )
    assert "destination.organization_url" in caught.value.fields
    assert not _carried_the_pat(elsewhere)

    # A sync saved before the rule existed: its run fails for good, naming the refused host.
    sync = make_sync(cast, connection)
    SecretSync.objects.filter(pk=sync.pk).update(
        destination={**sync.destination, "organization_url": elsewhere.org_url}
    )
    run_now(sync)
    assert sync.status == SyncStatus.FAILED and sync.next_attempt_at is None
    assert f"127.0.0.1:{elsewhere.org_url.split(':')[2].split('/')[0]}" in sync.last_error
    assert not _carried_the_pat(elsewhere)


def test_E4_resource_areas_pointing_elsewhere_are_refused_before_the_credential_leaves(
    cast: Any, two_orgs: tuple[AzureDevOpsEmulator, AzureDevOpsEmulator]
) -> None:
    from syncs.models import SyncStatus

    home, elsewhere = two_orgs
    home.resource_areas = [
        {"id": TASK_AGENT_AREA, "name": "distributedtask", "locationUrl": elsewhere.org_url + "/"},
        {"id": CORE_AREA, "name": "core", "locationUrl": home.org_url + "/"},
    ]
    put_secret(cast, "APP_A", "1")
    sync = make_sync(cast, make_connection(cast, home))
    run_now(sync)
    assert sync.status == SyncStatus.FAILED and sync.attempts == 1 and sync.next_attempt_at is None
    assert "refused to contact 127.0.0.1" in sync.last_error and "another host" in sync.last_error
    assert not _carried_the_pat(elsewhere)


def test_E4_the_sdk_fallback_to_the_deployment_location_service_is_a_permanent_failure(
    cast: Any, two_orgs: tuple[AzureDevOpsEmulator, AzureDevOpsEmulator]
) -> None:
    from syncs.models import SyncStatus

    home, _ = two_orgs
    # The organization lists the task-agent area but not Core: the SDK would ask
    # app.vssps.visualstudio.com, with our PAT, where Core lives.
    home.resource_areas = [{"id": TASK_AGENT_AREA, "name": "distributedtask", "locationUrl": home.org_url + "/"}]
    put_secret(cast, "APP_A", "1")
    sync = make_sync(cast, make_connection(cast, home))
    run_now(sync)
    assert sync.status == SyncStatus.FAILED and sync.attempts == 1 and sync.next_attempt_at is None
    assert "app.vssps.visualstudio.com" in sync.last_error


def test_E4_an_entra_token_request_goes_only_to_the_connections_authority(settings: Any) -> None:
    from syncs.providers.entra import client_secret_credential

    with outbound.use_resolver(_fixed_resolver({"login.microsoftonline.com": [["10.0.0.7"]]})):
        credential = client_secret_credential({"tenant_id": "t", "client_id": "c"}, "client-secret-value")
        with pytest.raises(Exception) as caught:
            credential.get_token("https://vault.azure.net/.default")
    assert outbound.refusal_in(caught.value) is not None
    assert "client-secret-value" not in str(caught.value)


# --- Key Vault: a connection bound to a vault -------------------------------------------------------


def test_A6_a_key_vault_connection_bound_to_a_vault_refuses_another(settings: Any, cast: Any) -> None:
    from syncs.providers.azure_key_vault.provider import AzureKeyVaultProvider
    from syncs.providers.base import ConfigError

    provider = AzureKeyVaultProvider()
    bound = {"tenant_id": "t", "client_id": "c", "vault_url": "https://mine.vault.azure.net"}
    with outbound.use_resolver(
        _fixed_resolver({"mine.vault.azure.net": [["20.1.2.3"]], "theirs.vault.azure.net": [["20.1.2.4"]]})
    ):
        assert provider.validate_destination({"vault_url": "https://mine.vault.azure.net"}, bound)
        with pytest.raises(ConfigError, match="destination.vault_url"):
            provider.validate_destination({"vault_url": "https://theirs.vault.azure.net"}, bound)
        unbound = {"tenant_id": "t", "client_id": "c"}
        assert provider.validate_destination({"vault_url": "https://theirs.vault.azure.net"}, unbound)


def test_E4_requests_library_default_redirects_stay_off_for_sdk_sessions(settings: Any, recorder: Recorder) -> None:
    """An SDK that asks requests to follow redirects still cannot: the adapter refuses the 3xx."""
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    redirector = Recorder(status=301, location=f"http://127.0.0.1:{recorder.port}/")
    sdk_session = requests.Session()
    outbound.pin_session(sdk_session, outbound.PinnedAdapter())
    try:
        with pytest.raises(outbound.OutboundRefused):
            sdk_session.get(f"http://127.0.0.1:{redirector.port}/", allow_redirects=True, timeout=5)
    finally:
        redirector.stop()
    assert recorder.seen == []
