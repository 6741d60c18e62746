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

Applications (``add_application``), as Graph v1.0 documents them:

- ``POST /v1.0/applications/{id}/addPassword`` with ``{"passwordCredential": {"displayName",
  "endDateTime"?}}`` → ``200`` passwordCredential (``keyId``, ``secretText`` — the only time it is
  shown —, ``hint`` = its first three characters, ``displayName``, ``startDateTime``,
  ``endDateTime``: two years when not given);
- ``POST /v1.0/applications/{id}/removePassword`` with ``{"keyId"}`` → ``204``; an unknown
  ``keyId`` is ``400 Request_BadRequest``;
- ``GET /v1.0/applications/{id}`` → the application with its ``passwordCredentials``
  (``secretText`` null).

``{id}`` is the object id; an unknown one is ``404 Request_ResourceNotFound``. Managing needs an
application token whose app holds ``Application.ReadWrite.All`` (or ``Directory.ReadWrite.All``,
or ``Application.ReadWrite.OwnedBy`` as an owner of the application); reading also takes
``Application.Read.All``; otherwise ``403 Authorization_RequestDenied``.

The token endpoint authenticates ``client_id`` = an application's ``appId`` with that application's
current client secrets: a removed or unknown secret is ``401 invalid_client`` (AADSTS7000215), an
expired one AADSTS7000222. Like Entra, a new secret is accepted only ``replication_delay`` seconds
after ``addPassword``. ``graph_down`` makes every applications call ``503`` with ``Retry-After``
(the token endpoint still answers).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import tempfile
import time
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


@dataclass
class PasswordCredential:
    key_id: str
    secret_text: str = field(repr=False)
    display_name: str
    start: dt.datetime
    end: dt.datetime
    usable_from: float  # time.monotonic() from which the token endpoint accepts it (replication)

    def document(self, *, with_secret: bool = False) -> dict[str, Any]:
        return {
            "customKeyIdentifier": None,
            "displayName": self.display_name,
            "endDateTime": _graph_time(self.end),
            "hint": self.secret_text[:3],
            "keyId": self.key_id,
            "secretText": self.secret_text if with_secret else None,
            "startDateTime": _graph_time(self.start),
        }


@dataclass
class EntraApplication:
    id: str  # object id
    app_id: str  # client id
    display_name: str
    roles: frozenset[str] = frozenset()  # application permissions granted to its service principal
    owners: set[str] = field(default_factory=set)  # appIds of owning service principals
    password_credentials: list[PasswordCredential] = field(default_factory=list)

    def key_ids(self) -> list[str]:
        return [credential.key_id for credential in self.password_credentials]


MANAGE_ROLES = frozenset({"Application.ReadWrite.All", "Directory.ReadWrite.All"})
READ_ROLES = MANAGE_ROLES | {"Application.Read.All", "Directory.Read.All"}
OWNED_BY = "Application.ReadWrite.OwnedBy"


def _graph_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


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
        self.applications: dict[str, EntraApplication] = {}
        self.token_apps: dict[str, str] = {}  # application token -> appId it was issued to
        self.replication_delay = 0.0
        self.graph_down = False
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

    def add_application(
        self, display_name: str, *, roles: tuple[str, ...] = (), owners: tuple[str, ...] = ()
    ) -> EntraApplication:
        """A new application (fresh object id and appId) with no client secret yet."""
        app = EntraApplication(str(uuid.uuid4()), str(uuid.uuid4()), display_name, frozenset(roles), set(owners))
        self.applications[app.id] = app
        return app

    def add_password(
        self, app: EntraApplication, display_name: str = "", *, end: dt.datetime | None = None
    ) -> PasswordCredential:
        """What ``addPassword`` does (also for tests that give an app a secret someone else made)."""
        now = dt.datetime.now(dt.UTC)
        # Entra client secrets: three characters, a version marker and a tilde, then random text.
        secret = secrets.token_urlsafe(3)[:3] + "8Q~" + secrets.token_urlsafe(27)[:34]
        credential = PasswordCredential(
            key_id=str(uuid.uuid4()),
            secret_text=secret,
            display_name=display_name,
            start=now,
            end=end or now + dt.timedelta(days=730),
            usable_from=time.monotonic() + self.replication_delay,
        )
        app.password_credentials.append(credential)
        return credential

    def app_by_app_id(self, app_id: str) -> EntraApplication | None:
        return next((app for app in self.applications.values() if app.app_id == app_id), None)

    def client_credentials(self, client_id: str, client_secret: str) -> int:
        """The status the token endpoint answers for this client (200, 400 or 401); for tests."""
        import requests

        answer = requests.post(
            f"{self.url}/{self.tenant_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": "https://graph.microsoft.com/.default",
            },
            verify=self.ca_file,
            timeout=10,
        )
        return answer.status_code

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
                route = self._application_route()
                if route is not None:
                    body = self._body()
                    if not self._graph_available():
                        return None
                    return self._application_post(*route, body)
                if path != f"/{emulator.tenant_id}/oauth2/v2.0/token":
                    return self._send(404, {"error": "not_found"})
                form = {key: values[0] for key, values in parse_qs(self._body().decode()).items()}
                app = emulator.app_by_app_id(form.get("client_id", ""))
                if form.get("client_id") != emulator.client_id and app is None:
                    return self._send(400, {"error": "unauthorized_client", "error_description": "AADSTS700016"})
                if not str(form.get("scope", "")).endswith("/.default"):
                    return self._send(400, {"error": "invalid_scope", "error_description": "AADSTS1002012"})
                if form.get("grant_type") == "client_credentials" and app is not None:
                    return self._application_token(app, form.get("client_secret", ""))
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

            def _application_token(self, app: EntraApplication, secret: str) -> None:
                now = time.monotonic()
                credential = next(
                    (c for c in app.password_credentials if secret and secrets.compare_digest(c.secret_text, secret)),
                    None,
                )
                if credential is None or now < credential.usable_from:
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
                            "being sent in the request is the client secret value, not the client secret ID, "
                            f"for a secret added to app '{app.app_id}'.",
                            "error_codes": [7000215],
                        },
                    )
                if credential.end <= dt.datetime.now(dt.UTC):
                    return self._send(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000222: The provided client secret keys for app "
                            f"'{app.app_id}' are expired.",
                            "error_codes": [7000222],
                        },
                    )
                token = secrets.token_urlsafe(32)
                emulator.token_apps[token] = app.app_id
                return self._send(200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token})

            # --- applications ------------------------------------------------------------------

            def _application_route(self) -> tuple[str, str] | None:
                """(object id, action or "") for /v1.0/applications/{id}[/{action}]."""
                parts = urlsplit(self.path).path.split("/")
                if len(parts) in (4, 5) and parts[1] == "v1.0" and parts[2] == "applications" and parts[3]:
                    return unquote(parts[3]), (parts[4] if len(parts) == 5 else "")
                return None

            def _graph_available(self) -> bool:
                if emulator.graph_down:
                    self.send_response(503)
                    body = json.dumps(
                        {"error": {"code": "ServiceUnavailable", "message": "Service is temporarily unavailable."}}
                    ).encode()
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return False
                return True

            def _application_access(self, object_id: str, *, write: bool) -> EntraApplication | None:
                """The application when the caller may read (or *write*) it; answers the refusal
                otherwise and returns None."""
                header = self.headers.get("Authorization", "")
                token = header[7:] if header.startswith("Bearer ") else ""
                caller_app_id = emulator.token_apps.get(token)
                if caller_app_id is None:
                    if token in emulator.app_tokens or token in emulator.user_tokens:
                        self._graph_error(
                            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                        )
                    else:
                        self._graph_error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
                    return None
                caller = emulator.app_by_app_id(caller_app_id)
                roles = caller.roles if caller is not None else frozenset()
                app = emulator.applications.get(object_id)
                owner = app is not None and OWNED_BY in roles and caller_app_id in app.owners
                if not (roles & (MANAGE_ROLES if write else READ_ROLES) or owner):
                    self._graph_error(
                        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
                    )
                    return None
                if app is None:
                    self._graph_error(
                        404,
                        "Request_ResourceNotFound",
                        f"Resource '{object_id}' does not exist or one of its queried "
                        "reference-property objects are not present.",
                    )
                    return None
                return app

            def _application_get(self, object_id: str) -> None:
                app = self._application_access(object_id, write=False)
                if app is None:
                    return None
                return self._send(
                    200,
                    {
                        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#applications/$entity",
                        "id": app.id,
                        "appId": app.app_id,
                        "displayName": app.display_name,
                        "passwordCredentials": [c.document() for c in app.password_credentials],
                    },
                )

            def _application_post(self, object_id: str, action: str, body: bytes) -> None:
                if action not in ("addPassword", "removePassword"):
                    return self._graph_error(400, "BadRequest", f"Resource not found for the segment '{action}'.")
                app = self._application_access(object_id, write=True)
                if app is None:
                    return None
                try:
                    payload = json.loads(body or b"{}")
                    if not isinstance(payload, dict):
                        raise ValueError
                except ValueError:
                    return self._graph_error(400, "BadRequest", "Unable to read JSON request payload.")
                if action == "removePassword":
                    key_id = str(payload.get("keyId") or "")
                    kept = [c for c in app.password_credentials if c.key_id != key_id]
                    if len(kept) == len(app.password_credentials):
                        return self._graph_error(
                            400, "Request_BadRequest", f"No password credential found with keyId '{key_id[:40]}'."
                        )
                    app.password_credentials = kept
                    return self._send(204)
                requested = payload.get("passwordCredential")
                if not isinstance(requested, dict):
                    return self._graph_error(400, "Request_BadRequest", "passwordCredential is required.")
                end = None
                if requested.get("endDateTime"):
                    try:
                        end = _parse_time(str(requested["endDateTime"]))
                    except ValueError:
                        return self._graph_error(
                            400, "Request_BadRequest", "Invalid value specified for property 'endDateTime'."
                        )
                    if end <= dt.datetime.now(dt.UTC):
                        return self._graph_error(400, "Request_BadRequest", "Key credential end date is invalid.")
                credential = emulator.add_password(app, str(requested.get("displayName") or ""), end=end)
                document = {
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential",
                    **credential.document(with_secret=True),
                }
                return self._send(200, document)

            def _user_path(self) -> str | None:
                path = urlsplit(self.path).path
                prefix = "/v1.0/users/"
                return path[len(prefix) :] if path.startswith(prefix) and "/" not in path[len(prefix) :] else None

            def do_GET(self) -> None:  # noqa: N802
                emulator.requests.append(("GET", urlsplit(self.path).path, self.headers.get("Authorization", "")))
                route = self._application_route()
                if route is not None and not route[1]:
                    if not self._graph_available():
                        return None
                    return self._application_get(route[0])
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
