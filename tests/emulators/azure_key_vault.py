"""An Azure Key Vault (secrets) emulator plus a local Microsoft Entra ID token endpoint, over
HTTPS on 127.0.0.1 (fresh port and self-signed certificate per instance).

It implements what ``azure-keyvault-secrets`` 4.12 + ``azure-identity`` ``ClientSecretCredential``
send (wire-protocols.md §2):

- the challenge flow (§2.2): a request without a valid ``Bearer`` token gets ``401`` with
  ``WWW-Authenticate: Bearer authorization="https://HOST/TENANT", resource="https://vault.azure.net"``;
- Entra: ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials; a wrong secret gets ``invalid_client``);
- secrets (§2.3): ``PUT /secrets/{name}``, ``GET /secrets/{name}/[{version}]``, ``GET /secrets``
  (paged through absolute ``nextLink``), ``GET /secrets/{name}/versions``, ``PATCH
  /secrets/{name}/[{version}]``, ``DELETE /secrets/{name}`` (soft delete), ``GET /deletedsecrets``,
  ``GET|DELETE /deletedsecrets/{name}``, ``POST /deletedsecrets/{name}/recover``. Names are
  case-insensitive; a disabled secret's value cannot be read (403 ``SecretDisabled``); writing a
  soft-deleted name is a 409 ``ObjectIsDeletedButRecoverable``. Any ``api-version`` is accepted.

The same origin serves vault and authority: ``vault_url`` and ``authority`` are both
``https://127.0.0.1:PORT``. ``ca_file`` is the PEM to trust. Every request is recorded; faults are
injected with ``fail_next``.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.emulators.selfsigned import ServerThread, self_signed

_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
PAGE_SIZE = 25


@dataclass
class Fault:
    status: int
    count: int = 1
    retry_after: str | None = None
    method: str | None = None
    path_contains: str | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class Version:
    id: str
    value: str
    tags: dict[str, str]
    content_type: str | None
    enabled: bool
    created: int
    updated: int


@dataclass
class StoredSecret:
    name: str
    versions: list[Version] = field(default_factory=list)
    deleted_at: int | None = None

    @property
    def current(self) -> Version:
        return self.versions[-1]


def _err(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


class KeyVaultEmulator:
    def __init__(
        self, *, tenant_id: str = "tenant-1", clients: dict[str, str] | None = None, soft_delete: bool = True
    ) -> None:
        self.tenant_id = tenant_id
        self.clients = dict(clients or {"client-1": "client-secret-1"})
        self.soft_delete = soft_delete
        self.secrets: dict[str, StoredSecret] = {}  # lower-cased name -> secret
        self.tokens: set[str] = set()
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self._lock = threading.RLock()
        self._server: ServerThread | None = None
        self._tls = self_signed()
        self._dir = tempfile.mkdtemp(prefix="kv-emulator-")
        self.ca_file = os.path.join(self._dir, "ca.pem")
        with open(self.ca_file, "w") as file:
            file.write(self._tls.cert_pem)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> KeyVaultEmulator:
        class Handler(_Handler):
            pass

        Handler.emulator = self
        self._server = ServerThread(Handler, self._tls)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> KeyVaultEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return self._server.base_url

    vault_url = authority = base_url

    # --- test helpers ------------------------------------------------------------------------
    def fail_next(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        with self._lock:
            self.faults.append(
                Fault(status, count, None if retry_after is None else str(int(retry_after)), method, path_contains)
            )

    def seed(
        self, name: str, value: str, *, tags: dict[str, str] | None = None, enabled: bool = True, deleted: bool = False
    ) -> None:
        with self._lock:
            secret = self._write(name, value, tags or {}, None, enabled)
            if deleted:
                secret.deleted_at = int(time.time())

    def values(self, *, include_disabled: bool = False) -> dict[str, str]:
        """Live (not deleted) secrets' current values; disabled ones only when asked."""
        with self._lock:
            return {
                s.name: s.current.value
                for s in self.secrets.values()
                if s.deleted_at is None and (include_disabled or s.current.enabled)
            }

    def get(self, name: str) -> StoredSecret | None:
        return self.secrets.get(name.lower())

    def edit(self, name: str, value: str) -> None:
        """Someone changes a value in the portal: a new version, tags carried over."""
        with self._lock:
            current = self.secrets[name.lower()].current
            self._write(name, value, dict(current.tags), current.content_type, True)

    def writes(self) -> list[Recorded]:
        """Authenticated state-changing vault requests that succeeded."""
        return [
            r
            for r in self.requests
            if r.method in ("PUT", "PATCH", "DELETE", "POST") and "/oauth2/" not in r.path and r.status < 300
        ]

    # --- state -------------------------------------------------------------------------------
    def _write(
        self, name: str, value: str, tags: dict[str, str], content_type: str | None, enabled: bool
    ) -> StoredSecret:
        now = int(time.time())
        secret = self.secrets.get(name.lower())
        if secret is None:
            secret = self.secrets[name.lower()] = StoredSecret(name=name)
        secret.versions.append(Version(uuid.uuid4().hex, value, tags, content_type, enabled, now, now))
        return secret

    def _bundle(self, secret: StoredSecret, version: Version, *, value: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"{self.base_url}/secrets/{secret.name}/{version.id}",
            "attributes": {
                "enabled": version.enabled,
                "created": version.created,
                "updated": version.updated,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": dict(version.tags),
        }
        if version.content_type:
            body["contentType"] = version.content_type
        if value:
            body["value"] = version.value
        return body

    def _deleted_bundle(self, secret: StoredSecret) -> dict[str, Any]:
        body = self._bundle(secret, secret.current, value=False)
        body.update(
            {
                "recoveryId": f"{self.base_url}/deletedsecrets/{secret.name}",
                "deletedDate": secret.deleted_at,
                "scheduledPurgeDate": (secret.deleted_at or 0) + 90 * 86400,
            }
        )
        return body

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method and fault.method != method:
                continue
            if fault.path_contains and fault.path_contains not in path:
                continue
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
        return None

    # --- HTTP --------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
        # Entra ID (authority) endpoints.
        if len(parts) >= 2 and parts[0] not in ("secrets", "deletedsecrets"):
            return self._entra(method, parts, raw)
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            challenge = f'Bearer authorization="{self.base_url}/{self.tenant_id}", resource="https://vault.azure.net"'
            return (
                401,
                {"WWW-Authenticate": challenge},
                _err("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
            )
        with self._lock:
            fault = self._take_fault(method, path)
            if fault is not None:
                extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return fault.status, extra, _err("Throttled" if fault.status == 429 else "Error", "injected fault")
            body = json.loads(raw) if raw else None
            if parts[0] == "secrets":
                return self._secrets_api(method, parts[1:], query, body)
            return self._deleted_api(method, parts[1:], query)

    def _entra(self, method: str, parts: list[str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        tenant = parts[0]
        base = f"{self.base_url}/{tenant}"
        if method == "GET" and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return (
                200,
                {},
                {
                    "issuer": f"{base}/v2.0",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "jwks_uri": f"{base}/discovery/v2.0/keys",
                    "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                    "subject_types_supported": ["pairwise"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "tenant_region_scope": "WW",
                },
            )
        if method == "POST" and parts[1:] == ["oauth2", "v2.0", "token"]:
            form = {key: values[0] for key, values in parse_qs(raw.decode()).items()}
            client_id = form.get("client_id", "")
            if (
                tenant != self.tenant_id
                or form.get("grant_type") != "client_credentials"
                or self.clients.get(client_id) is None
                or self.clients[client_id] != form.get("client_secret")
            ):
                return (
                    401,
                    {},
                    {
                        "error": "invalid_client",
                        "error_description": "AADSTS7000215: Invalid client secret provided.",
                        "error_codes": [7000215],
                    },
                )
            token = _secrets.token_urlsafe(24)
            with self._lock:
                self.tokens.add(token)
            return 200, {}, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        return 404, {}, {"error": "not_found"}

    def _not_found(self, name: str) -> tuple[int, dict[str, str], Any]:
        return (
            404,
            {},
            _err("SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."),
        )

    def _page(self, items: list[dict[str, Any]], query: dict[str, list[str]], path: str) -> dict[str, Any]:
        start = int(query.get("$skiptoken", ["0"])[0])
        size = int(query.get("maxresults", [str(PAGE_SIZE)])[0])
        page = items[start : start + size]
        next_link = None
        if start + size < len(items):
            next_link = f"{self.base_url}{path}?api-version=2026-04-01&$skiptoken={start + size}&maxresults={size}"
        return {"value": page, "nextLink": next_link}

    def _item(self, secret: StoredSecret, version: Version, *, with_version: bool) -> dict[str, Any]:
        body = self._bundle(secret, version, value=False)
        if not with_version:
            body["id"] = f"{self.base_url}/secrets/{secret.name}"
        return body

    def _secrets_api(
        self, method: str, rest: list[str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, dict[str, str], Any]:
        if not rest:
            if method != "GET":
                return 405, {}, _err("BadParameter", "method not allowed")
            live = sorted((s for s in self.secrets.values() if s.deleted_at is None), key=lambda s: s.name.lower())
            items = [self._item(s, s.current, with_version=False) for s in live]
            return 200, {}, self._page(items, query, "/secrets")
        name = rest[0]
        secret = self.secrets.get(name.lower())
        if not _NAME.match(name):
            return 400, {}, _err("BadParameter", "The request URI contains an invalid name: " + name)
        if secret is not None and secret.deleted_at is not None:
            if method == "PUT":
                return (
                    409,
                    {},
                    _err(
                        "Conflict",
                        f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused;"
                        " in this state, the secret can only be recovered or purged.",
                        "ObjectIsDeletedButRecoverable",
                    ),
                )
            return self._not_found(name)
        if method == "PUT" and len(rest) == 1:
            body = body or {}
            attributes = body.get("attributes") or {}
            secret = self._write(
                secret.name if secret else name,
                str(body.get("value", "")),
                dict(body.get("tags") or {}),
                body.get("contentType"),
                bool(attributes.get("enabled", True)),
            )
            return 200, {}, self._bundle(secret, secret.current)
        if secret is None:
            return self._not_found(name)
        if method == "GET" and len(rest) == 2 and rest[1] == "versions":
            items = [self._item(secret, v, with_version=True) for v in secret.versions]
            return 200, {}, self._page(items, query, f"/secrets/{secret.name}/versions")
        version_id = rest[1] if len(rest) > 1 else ""
        version = secret.current
        if version_id:
            matches = [v for v in secret.versions if v.id == version_id]
            if not matches:
                return self._not_found(name)
            version = matches[0]
        if method == "GET":
            if not version.enabled:
                return (
                    403,
                    {},
                    _err("Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled"),
                )
            return 200, {}, self._bundle(secret, version)
        if method == "PATCH":
            body = body or {}
            if "tags" in body:
                version.tags = dict(body["tags"] or {})
            if "contentType" in body:
                version.content_type = body["contentType"]
            attributes = body.get("attributes") or {}
            if "enabled" in attributes:
                version.enabled = bool(attributes["enabled"])
            version.updated = int(time.time())
            return 200, {}, self._bundle(secret, version, value=False)
        if method == "DELETE" and not version_id:
            if not self.soft_delete:
                del self.secrets[name.lower()]
                body = self._bundle(secret, secret.current, value=False)
                return 200, {}, body
            secret.deleted_at = int(time.time())
            return 200, {}, self._deleted_bundle(secret)
        return 405, {}, _err("BadParameter", "method not allowed")

    def _deleted_api(
        self, method: str, rest: list[str], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], Any]:
        if not rest:
            deleted = sorted(
                (s for s in self.secrets.values() if s.deleted_at is not None), key=lambda s: s.name.lower()
            )
            items = []
            for s in deleted:
                item = self._deleted_bundle(s)
                item["id"] = f"{self.base_url}/secrets/{s.name}"
                items.append(item)
            return 200, {}, self._page(items, query, "/deletedsecrets")
        name = rest[0]
        secret = self.secrets.get(name.lower())
        if secret is None or secret.deleted_at is None:
            return 404, {}, _err("SecretNotFound", f"Deleted Secret not found: {name}")
        if method == "GET" and len(rest) == 1:
            return 200, {}, self._deleted_bundle(secret)
        if method == "DELETE" and len(rest) == 1:
            del self.secrets[name.lower()]
            return 204, {}, None
        if method == "POST" and rest[1:] == ["recover"]:
            secret.deleted_at = None
            return 200, {}, self._bundle(secret, secret.current, value=False)
        return 405, {}, _err("BadParameter", "method not allowed")


class _Handler(BaseHTTPRequestHandler):
    emulator: KeyVaultEmulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        query = parse_qs(parts.query)
        try:
            parsed: Any = json.loads(raw) if raw and "json" in headers.get("content-type", "") else raw.decode()
        except ValueError:
            parsed = raw.decode(errors="replace")
        record = Recorded(self.command, parts.path, query, headers, parsed)
        self.emulator.requests.append(record)
        status, extra, body = self.emulator.handle(self.command, parts.path, query, headers, raw)
        record.status = status
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in extra.items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve


if __name__ == "__main__":  # pragma: no cover
    with KeyVaultEmulator() as emulator:
        print(f"vault/authority {emulator.base_url}  tenant {emulator.tenant_id}  CA {emulator.ca_file}")
        threading.Event().wait()
