"""An OIDC issuer on 127.0.0.1 (HTTPS with a self-signed certificate, or plain HTTP): discovery
documents and a JWKS for keys generated at start, plus minting helpers for both kinds of Azure
DevOps workload identity federation token (wire-protocols.md §3).

Routes (any ``<prefix>``, so one server can stand in for several issuers):

* ``GET <prefix>/.well-known/openid-configuration`` → ``{"issuer": base + prefix, "jwks_uri": base + "/keys", …}``
  (``issuer_override`` replaces the issuer, to test a mismatching document);
* ``GET /keys`` (also ``/.well-known/jwks`` and ``<prefix>/discovery/v2.0/keys``) → the JWKS.

Every request is recorded in ``requests`` (method, path). ``fail_with`` makes every answer that
HTTP status. Tokens carry the real issuer strings (``https://vstoken.dev.azure.com/{org}``,
``https://login.microsoftonline.com/{tenant}/v2.0``): only the keys are served from here.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.emulators.selfsigned import SelfSigned, ServerThread, self_signed

ADO_AUDIENCE = "api://AzureADTokenExchange"
# The app behind api://AzureADTokenExchange: the ``aud`` of Entra-issued ADO federation tokens.
ENTRA_EXCHANGE_APP_ID = "fb60f99c-7a34-4190-8149-302f77469936"
AZURE_DEVOPS_APP_ID = "499b84ac-1321-427f-aa17-267ca6975798"


def b64url_guid(guid: str) -> str:
    """Unpadded base64url of the .NET ``Guid.ToByteArray`` (little-endian) bytes."""
    return base64.urlsafe_b64encode(uuid.UUID(guid).bytes_le).rstrip(b"=").decode()


def vstoken_issuer(organization_id: str) -> str:
    return f"https://vstoken.dev.azure.com/{organization_id}"


def entra_issuer(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/v2.0"


def entra_subject(tenant_id: str, organization_id: str, service_connection_id: str) -> str:
    return (
        f"/eid1/c/pub/t/{b64url_guid(tenant_id)}/a/{b64url_guid(AZURE_DEVOPS_APP_ID)}"
        f"/sc/{organization_id}/{service_connection_id}"
    )


class OidcIssuer:
    def __init__(self, *, tls: bool = True) -> None:
        self.tls: SelfSigned | None = self_signed() if tls else None
        self.keys: dict[str, Any] = {
            "rsa-1": rsa.generate_private_key(public_exponent=65537, key_size=2048),
            "ec-1": ec.generate_private_key(ec.SECP256R1()),
        }
        self.requests: list[tuple[str, str]] = []
        self.issuer_override: str | None = None
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        self._server = ServerThread(self._handler(), self.tls)
        self.base_url = self._server.base_url

    # --- what it serves ---------------------------------------------------------------------------
    @property
    def ca_pem(self) -> str:
        return self.tls.cert_pem if self.tls else ""

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/keys"

    def issuer_for(self, prefix: str = "") -> str:
        return self.base_url + prefix.rstrip("/")

    def public_pem(self, kid: str) -> str:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.keys.items():
            if isinstance(key, rsa.RSAPrivateKey):
                entry = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
                entry.update(alg="RS256")
            else:
                entry = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
                entry.update(alg="ES256")
            entry.update(kid=kid, use="sig")
            keys.append(entry)
        return {"keys": keys}

    def rotate(self, kid: str) -> None:
        """Add a new RSA key named *kid* (served from the next JWKS fetch)."""
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    # --- minting ----------------------------------------------------------------------------------
    def mint(
        self,
        claims: dict[str, Any],
        *,
        kid: str = "rsa-1",
        key: Any = None,
        algorithm: str | None = None,
        header_kid: str | None | bool = True,
    ) -> str:
        """Sign *claims* with key *kid* (or an outside *key*, e.g. to forge a signature)."""
        signing_key = key if key is not None else self.keys[kid]
        algorithm = algorithm or ("RS256" if isinstance(signing_key, rsa.RSAPrivateKey) else "ES256")
        headers = {}
        if header_kid is True:
            headers["kid"] = kid
        elif isinstance(header_kid, str):
            headers["kid"] = header_kid
        return jwt.encode(claims, signing_key, algorithm=algorithm, headers=headers)

    def mint_ado_service_connection(
        self,
        *,
        organization_id: str,
        organization: str,
        project: str,
        service_connection: str,
        lifetime: int = 900,
        now: int | None = None,
        **overrides: Any,
    ) -> str:
        """A token in the original ADO style (``vstoken.dev.azure.com`` issuer, 15-minute life)."""
        now = int(time.time()) if now is None else now
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": f"sc://{organization}/{project}/{service_connection}",
            "aud": ADO_AUDIENCE,
            "iss": vstoken_issuer(organization_id),
            "nbf": now,
            "iat": now,
            "exp": now + lifetime,
        }
        claims.update(overrides)  # None removes a claim
        return self.mint({name: value for name, value in claims.items() if value is not None})

    def mint_ado_pipeline(
        self,
        *,
        organization_id: str,
        organization: str,
        project: str,
        project_id: str,
        pipeline: str,
        run_id: int,
        lifetime: int = 600,
        now: int | None = None,
        **overrides: Any,
    ) -> str:
        """A pipeline token (``System.OidcRequestUri`` without ``serviceConnectionId``): ``p://`` subject
        and the run's claims, as two third parties decoded it (ado-governance.md §3.6)."""
        now = int(time.time()) if now is None else now
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": f"p://{organization}/{project}/{pipeline}",
            "aud": ADO_AUDIENCE,
            "org_id": organization_id,
            "prj_id": project_id,
            "def_id": "7",
            "rpo_id": str(uuid.uuid4()),
            "rpo_uri": f"https://dev.azure.com/{organization}/{project}/_git/{project}",
            "rpo_ver": "0" * 40,
            "rpo_ref": "refs/heads/main",
            "run_id": str(run_id),
            "iss": vstoken_issuer(organization_id),
            "nbf": now,
            "iat": now,
            "exp": now + lifetime,
        }
        claims.update(overrides)  # None removes a claim
        return self.mint({name: value for name, value in claims.items() if value is not None})

    def mint_ado_entra(
        self,
        *,
        tenant_id: str,
        organization_id: str,
        service_connection_id: str,
        lifetime: int = 86400,
        now: int | None = None,
        **overrides: Any,
    ) -> str:
        """A token in the Entra style (``login.microsoftonline.com/{tenant}/v2.0`` issuer, GUID audience)."""
        now = int(time.time()) if now is None else now
        claims = {
            "aud": ENTRA_EXCHANGE_APP_ID,
            "iss": entra_issuer(tenant_id),
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "azp": AZURE_DEVOPS_APP_ID,
            "azpacr": "2",
            "idtyp": "app",
            "oid": str(uuid.uuid4()),
            "sub": entra_subject(tenant_id, organization_id, service_connection_id),
            "tid": tenant_id,
            "ver": "2.0",
            "uti": uuid.uuid4().hex[:22],
        }
        claims.update(overrides)  # None removes a claim
        return self.mint({name: value for name, value in claims.items() if value is not None})

    # --- the server -------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                with issuer._lock:
                    issuer.requests.append(("GET", path))
                if issuer.fail_with:
                    self._send(issuer.fail_with, {"error": "injected failure"})
                    return
                suffix = "/.well-known/openid-configuration"
                if path.endswith(suffix):
                    prefix = path[: -len(suffix)]
                    self._send(
                        200,
                        {
                            "issuer": issuer.issuer_override or issuer.issuer_for(prefix),
                            "jwks_uri": issuer.jwks_url,
                            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "nbf"],
                            "response_types_supported": ["id_token"],
                            "subject_types_supported": ["public"],
                        },
                    )
                elif path in {"/keys", "/.well-known/jwks"} or path.endswith("/discovery/v2.0/keys"):
                    self._send(200, issuer.jwks())
                else:
                    self._send(404, {"error": "not found"})

        return Handler

    def paths_requested(self) -> list[str]:
        with self._lock:
            return [path for _, path in self.requests]

    def stop(self) -> None:
        self._server.stop()
