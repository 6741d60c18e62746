"""A Microsoft Entra ID token endpoint plus the slice of Microsoft Graph that password leases use,
over HTTPS on 127.0.0.1 (fresh port and self-signed certificate per instance; ``ca_file`` is the PEM
to trust).

Wire protocol, as Entra and Graph document it:

- ``POST /{tenant}/oauth2/v2.0/token`` (form-encoded):
  - ``grant_type=client_credentials`` with ``client_id``, ``client_secret``, ``scope`` ending in
    ``/.default`` → ``{"token_type": "Bearer", "expires_in": 3599, "access_token": …}``; a wrong
    secret is ``401 invalid_client`` (AADSTS7000215);
  - ``grant_type=password`` (ROPC: ``client_id``, ``username``, ``password``, ``scope``) → a user
    token when the password is the user's current one, else ``400 invalid_grant`` (AADSTS50126).
    This is the "can the user sign in" check.
- ``GET /v1.0/users/{id | userPrincipalName}`` → the user, ``404 Request_ResourceNotFound``.
- ``PATCH /v1.0/users/{id}`` with ``{"passwordProfile": {"password", "forceChangePasswordNextSignIn"}}``
  → ``204``; a password outside Entra's complexity rule (8–256 characters, three of lower, upper,
  digit, symbol) is ``400 Request_BadRequest``.

Graph calls need ``Authorization: Bearer <app token>`` from the client-credentials grant (``401
InvalidAuthenticationToken`` otherwise; a user token is ``403 Authorization_RequestDenied``). Every
password set is recorded (``passwords[user_id]``), and every request (``requests``, with the
``Authorization`` header and no body).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.emulators.selfsigned import ServerThread, self_signed


@dataclass
class EntraUser:
    id: str
    user_principal_name: str
    password: str = field(default="", repr=False)


def _complex_enough(password: str) -> bool:
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return 8 <= len(password) <= 256 and sum(classes) >= 3


class EntraGraphEmulator:
    def __init__(self) -> None:
        self.tenant_id = str(uuid.uuid4())
        self.client_id = str(uuid.uuid4())
        self.client_secret = "app~" + secrets.token_urlsafe(24)
        self.users: dict[str, EntraUser] = {}
        self.passwords: dict[str, list[str]] = {}
        self.app_tokens: set[str] = set()
        self.user_tokens: set[str] = set()
        self.requests: list[tuple[str, str, str]] = []  # (method, path, authorization header)
        tls = self_signed()
        handle, self.ca_file = tempfile.mkstemp(suffix=".pem")
        with os.fdopen(handle, "w") as file:
            file.write(tls.cert_pem)
        self.server = ServerThread(self._handler(), tls)
        self.url = self.server.base_url

    def add_user(self, upn: str, password: str) -> EntraUser:
        user = EntraUser(str(uuid.uuid4()), upn, password)
        self.users[user.id] = user
        return user

    def find(self, key: str) -> EntraUser | None:
        key = unquote(key)
        return self.users.get(key) or next(
            (user for user in self.users.values() if user.user_principal_name.lower() == key.lower()), None
        )

    def stop(self) -> None:
        self.server.stop()
        os.unlink(self.ca_file)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _graph_error(self, status: int, code: str, message: str) -> None:
                self._send(status, {"error": {"code": code, "message": message}})

            def _app_token_ok(self) -> bool:
                header = self.headers.get("Authorization", "")
                token = header[7:] if header.startswith("Bearer ") else ""
                if token in emulator.app_tokens:
                    return True
                if token in emulator.user_tokens:
                    self._graph_error(403, "Authorization_RequestDenied", "Insufficient privileges.")
                else:
                    self._graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
                return False

            def do_POST(self) -> None:  # noqa: N802
                path = urlsplit(self.path).path
                emulator.requests.append(("POST", path, self.headers.get("Authorization", "")))
                if path != f"/{emulator.tenant_id}/oauth2/v2.0/token":
                    return self._send(404, {"error": "not_found"})
                form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
                if form.get("client_id") != emulator.client_id:
                    return self._send(400, {"error": "unauthorized_client", "error_description": "AADSTS700016"})
                if not str(form.get("scope", "")).endswith("/.default"):
                    return self._send(400, {"error": "invalid_scope", "error_description": "AADSTS1002012"})
                if form.get("grant_type") == "client_credentials":
                    if form.get("client_secret") != emulator.client_secret:
                        return self._send(
                            401,
                            {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret."},
                        )
                    token = secrets.token_urlsafe(32)
                    emulator.app_tokens.add(token)
                    return self._send(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})
                if form.get("grant_type") == "password":
                    user = emulator.find(form.get("username", ""))
                    if user is None or not user.password or form.get("password") != user.password:
                        return self._send(
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": "AADSTS50126: Error validating credentials due to "
                                "invalid username or password.",
                            },
                        )
                    token = secrets.token_urlsafe(32)
                    emulator.user_tokens.add(token)
                    return self._send(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})
                return self._send(400, {"error": "unsupported_grant_type"})

            def _user_path(self) -> str | None:
                path = urlsplit(self.path).path
                prefix = "/v1.0/users/"
                return path[len(prefix) :] if path.startswith(prefix) and "/" not in path[len(prefix) :] else None

            def do_GET(self) -> None:  # noqa: N802
                emulator.requests.append(("GET", urlsplit(self.path).path, self.headers.get("Authorization", "")))
                key = self._user_path()
                if key is None:
                    return self._graph_error(404, "Request_ResourceNotFound", "Resource not found.")
                if not self._app_token_ok():
                    return None
                user = emulator.find(key)
                if user is None:
                    return self._graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
                return self._send(
                    200,
                    {"id": user.id, "userPrincipalName": user.user_principal_name, "mail": user.user_principal_name},
                )

            def do_PATCH(self) -> None:  # noqa: N802
                emulator.requests.append(("PATCH", urlsplit(self.path).path, self.headers.get("Authorization", "")))
                key = self._user_path()
                body = self._body()
                if key is None:
                    return self._graph_error(404, "Request_ResourceNotFound", "Resource not found.")
                if not self._app_token_ok():
                    return None
                user = emulator.find(key)
                if user is None:
                    return self._graph_error(404, "Request_ResourceNotFound", "Resource does not exist.")
                try:
                    profile = json.loads(body)["passwordProfile"]
                    password = str(profile["password"])
                except (ValueError, KeyError, TypeError):
                    return self._graph_error(400, "Request_BadRequest", "Invalid passwordProfile.")
                if not _complex_enough(password):
                    return self._graph_error(
                        400,
                        "Request_BadRequest",
                        "The specified password does not comply with password complexity requirements.",
                    )
                user.password = password
                emulator.passwords.setdefault(user.id, []).append(password)
                return self._send(204)

        return Handler
