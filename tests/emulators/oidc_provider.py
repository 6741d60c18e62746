"""An OIDC provider for people's sign-in on 127.0.0.1 (plain HTTP), speaking the wire protocol of
Entra ID / any standard provider: discovery, JWKS, ``/authorize`` (auto-approves the configured
person and redirects back with a code), ``/token`` (authorization code + PKCE S256 check, client
secret check, RS256 ID token with the nonce; client credentials for Graph) and Microsoft Graph's
``/v1.0/users/{oid}/memberOf``.

Knobs for refusals: ``sign_with_wrong_key``, ``audience``, ``expired``, ``nonce``, ``overage`` (the
token carries ``_claim_names.groups`` instead of ``groups``), ``graph_fails``, ``issuer_override``.
Every request is recorded in ``requests`` as (method, path); no secret is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.emulators.selfsigned import ServerThread


class OidcProvider:
    def __init__(self, *, client_id: str = "strongroom-app", client_secret: str = "provider-client-secret-1") -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # The person /authorize signs in (claims of the ID token; iss/aud/nonce/exp are added).
        self.person: dict[str, Any] = {}
        self.sign_with_wrong_key = False
        self.audience: str | None = None
        self.expired = False
        self.nonce: str | None = None
        self.overage = False
        self.graph_fails = False
        self.issuer_override: str | None = None  # the issuer the discovery document names
        self.graph_groups: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self._codes: dict[str, dict[str, Any]] = {}
        self._graph_tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server = ServerThread(self._handler(), None)
        self.base_url = self._server.base_url
        self.issuer = self.base_url + "/tenant"

    def sign_in_as(self, *, email: str, groups: list[str] | None = None, **claims: Any) -> None:
        oid = claims.pop("oid", None) or secrets.token_hex(8)
        self.person = {"sub": claims.pop("sub", None) or f"sub-{email}", "oid": oid, "email": email, **claims}
        if groups is not None:
            self.person["groups"] = groups

    def jwks(self) -> dict[str, Any]:
        entry = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        entry.update(kid="provider-1", use="sig", alg="RS256")
        return {"keys": [entry]}

    def _id_token(self, grant: dict[str, Any]) -> str:
        now = int(time.time()) - (7200 if self.expired else 0)
        claims = dict(self.person)
        if self.overage and "groups" in claims:
            self.graph_groups = list(claims.pop("groups"))
            claims["_claim_names"] = {"groups": "src1"}
            claims["_claim_sources"] = {
                "src1": {"endpoint": f"{self.base_url}/v1.0/users/{claims['oid']}/getMemberObjects"}
            }
        claims.update(
            iss=self.issuer,
            aud=self.audience or self.client_id,
            iat=now,
            nbf=now,
            exp=now + 3600,
            nonce=self.nonce if self.nonce is not None else grant["nonce"],
        )
        key = self.other_key if self.sign_with_wrong_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "provider-1"})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                with provider._lock:
                    provider.requests.append(("GET", url.path))
                query = {name: values[0] for name, values in parse_qs(url.query).items()}
                if url.path == "/tenant/.well-known/openid-configuration":
                    self._send(
                        200,
                        {
                            "issuer": provider.issuer_override or provider.issuer,
                            "authorization_endpoint": provider.base_url + "/authorize",
                            "token_endpoint": provider.base_url + "/token",
                            "jwks_uri": provider.base_url + "/keys",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "code_challenge_methods_supported": ["S256"],
                        },
                    )
                elif url.path == "/keys":
                    self._send(200, provider.jwks())
                elif url.path == "/authorize":
                    self._authorize(query)
                elif url.path.startswith("/v1.0/users/") and url.path.endswith("/memberOf"):
                    self._member_of(url.path)
                else:
                    self._send(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                if (
                    query.get("client_id") != provider.client_id
                    or query.get("response_type") != "code"
                    or query.get("code_challenge_method") != "S256"
                    or not query.get("code_challenge")
                    or "openid" not in query.get("scope", "").split()
                ):
                    self._send(400, {"error": "invalid_request"})
                    return
                code = secrets.token_urlsafe(24)
                with provider._lock:
                    provider._codes[code] = {
                        "challenge": query["code_challenge"],
                        "redirect_uri": query.get("redirect_uri", ""),
                        "nonce": query.get("nonce", ""),
                    }
                target = (
                    query.get("redirect_uri", "") + "?" + urlencode({"code": code, "state": query.get("state", "")})
                )
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _member_of(self, path: str) -> None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if provider.graph_fails:
                    self._send(503, {"error": {"code": "serviceUnavailable"}})
                elif token not in provider._graph_tokens:
                    self._send(401, {"error": {"code": "InvalidAuthenticationToken"}})
                else:
                    groups = [{"@odata.type": "#microsoft.graph.group", "id": group} for group in provider.graph_groups]
                    role = {"@odata.type": "#microsoft.graph.directoryRole", "id": "role-not-a-group"}
                    self._send(200, {"value": [*groups, role]})

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                with provider._lock:
                    provider.requests.append(("POST", url.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
                if url.path != "/token":
                    self._send(404, {"error": "not_found"})
                    return
                if form.get("client_id") != provider.client_id or form.get("client_secret") != provider.client_secret:
                    self._send(401, {"error": "invalid_client"})
                    return
                if form.get("grant_type") == "client_credentials":
                    access = secrets.token_urlsafe(24)
                    with provider._lock:
                        provider._graph_tokens.add(access)
                    self._send(200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600})
                    return
                with provider._lock:
                    grant = provider._codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (
                    form.get("grant_type") != "authorization_code"
                    or grant is None
                    or grant["challenge"] != challenge
                    or grant["redirect_uri"] != form.get("redirect_uri")
                ):
                    self._send(400, {"error": "invalid_grant"})
                    return
                self._send(
                    200,
                    {
                        "access_token": secrets.token_urlsafe(24),
                        "token_type": "Bearer",
                        "expires_in": 3600,
                        "id_token": provider._id_token(grant),
                    },
                )

        return Handler

    def stop(self) -> None:
        self._server.stop()
