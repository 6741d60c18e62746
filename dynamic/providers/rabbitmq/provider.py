"""RabbitMQ: a user per lease, through the management plugin's HTTP API.

Infisical's ``rabbit-mq`` inputs: ``host`` (the management URL's scheme and host,
``https://rabbit.internal``), ``port`` (default 15672), ``username`` / ``password`` (an
administrator of the management API), ``ca`` (PEM of a private CA), ``tags`` and
``virtualHost {name, permissions {configure, write, read}}`` — flattened here to
``virtualHostName``, ``configurePermission``, ``writePermission``, ``readPermission`` (regular
expressions over resource names, as RabbitMQ's ``set_permissions`` takes them).

- **lease**: ``GET /api/users/{name}`` must answer 404 (a user that exists is someone else's:
  NothingCreated), then ``PUT /api/users/{name}`` (password, tags + ``strongroom-lease``) and
  ``PUT /api/permissions/{vhost}/{name}``; if the second fails the user is deleted before the error
  is raised. Data ``DB_USERNAME`` / ``DB_PASSWORD``, as Infisical's.
- **renewal**: nothing to do (RabbitMQ users do not expire).
- **revocation**: ``DELETE /api/users/{name}`` (RabbitMQ closes the user's open connections), only
  for a user carrying the ``strongroom-lease`` tag; one that is gone is revoked, one without the tag
  is left alone and said so.

Every call goes through ``dynamic.providers.http`` (the checked address, no proxies, no redirects);
errors name the call and the HTTP status, never a body (it can echo what was sent).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from dynamic.providers.base import (
    DynamicProvider,
    NothingCreated,
    PluginField,
    PluginFieldError,
    ProviderError,
    Target,
    UnrecoverableProviderError,
)
from dynamic.providers.http import TIMEOUT_SECONDS, status_error, target_session, transport_error
from dynamic.providers.templates import POSTGRESQL
from secrets_app import outbound

LEASE_TAG = "strongroom-lease"
DEFAULT_PORT = 15672
_TAG_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")


def _tags(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


class RabbitMqProvider(DynamicProvider):
    kind = "rabbitmq"
    infisical_type = "rabbit-mq"
    label = "RabbitMQ"
    description = "A user per lease with permissions on one virtual host, deleted at expiry (management API)."
    fields = (
        PluginField(
            "host",
            "Management URL",
            input="url",
            placeholder="https://rabbit.internal.example.com",
            help="Scheme and host of the management API (the port goes below).",
            max_length=500,
        ),
        PluginField("port", "Port", input="int", required=False, placeholder=str(DEFAULT_PORT)),
        PluginField("username", "Admin user", help="A management user tagged administrator.", max_length=200),
        PluginField("password", "Admin password", secret=True, input="password", max_length=500),
        PluginField(
            "ca",
            "CA certificate (PEM)",
            input="textarea",
            required=False,
            help="The CA that signs the management API's certificate, if not a public one.",
            max_length=20000,
        ),
        PluginField("virtualHostName", "Virtual host", placeholder="/", max_length=200),
        PluginField("configurePermission", "Configure permission", placeholder=".*", max_length=500),
        PluginField("writePermission", "Write permission", placeholder=".*", max_length=500),
        PluginField("readPermission", "Read permission", placeholder=".*", max_length=500),
        PluginField(
            "tags", "User tags", required=False, placeholder="monitoring", help="Comma-separated.", max_length=500
        ),
    )
    dialect = POSTGRESQL  # unused: no statements
    default_port = DEFAULT_PORT

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned, secret_values = super().validate(config=config, credentials=credentials)
        try:
            scheme, host, _ = outbound.split_url(cleaned["host"])
        except outbound.OutboundRefused as exc:
            raise PluginFieldError("config.host", exc.reason) from None
        parts = urlsplit(cleaned["host"])
        if parts.port is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
            raise PluginFieldError("config.host", "scheme and host only, e.g. https://rabbit.internal (port below)")
        cleaned["host"] = f"{scheme}://{host}"
        tags = _tags(cleaned.get("tags"))
        if any(not _TAG_RE.match(tag) for tag in tags):
            raise PluginFieldError("config.tags", "letters, digits, '.', '_' or '-', separated by commas")
        if LEASE_TAG in tags:
            raise PluginFieldError("config.tags", f"the tag {LEASE_TAG} is set by Strongroom")
        if tags:
            cleaned["tags"] = ",".join(tags)
        return cleaned, secret_values

    def endpoint(self, config: Mapping[str, Any]) -> tuple[str, int, str]:
        try:
            _, host, _ = outbound.split_url(str(config.get("host") or ""))
        except outbound.OutboundRefused:
            return ("", 0, "")
        return (host, int(config.get("port") or DEFAULT_PORT), "")

    # --- calls ----------------------------------------------------------------------------------

    def _base(self, config: Mapping[str, Any]) -> str:
        scheme, host, _ = outbound.split_url(str(config["host"]))
        return f"{scheme}://{host}:{int(config.get('port') or DEFAULT_PORT)}/api"

    def _call(
        self, session: requests.Session, target: Target, method: str, path: str, what: str, **kwargs: Any
    ) -> requests.Response:
        try:
            return session.request(
                method,
                self._base(target.config) + path,
                auth=(str(target.config["username"]), target.credentials.get("password", "")),
                timeout=TIMEOUT_SECONDS,
                **kwargs,
            )
        except (requests.RequestException, outbound.OutboundRefused) as exc:
            raise transport_error(what, exc) from None

    def _session(self, target: Target) -> requests.Session:
        return target_session(target, ca=str(target.config.get("ca") or "") or None)

    def _refuse_root(self, target: Target, username: str) -> None:
        if username == str(target.config.get("username") or ""):
            raise NothingCreated(_taken(username))

    def test(self, target: Target) -> None:
        with self._session(target) as session:
            response = self._call(session, target, "GET", "/whoami", "management API")
        if response.status_code != 200:
            raise status_error("management API", response)

    def issue(
        self,
        target: Target,
        *,
        username: str,
        password: str,
        expire_at: Any,
        statements: Sequence[str],
        undo: Sequence[str] = (),
    ) -> dict[str, str]:
        self._refuse_root(target, username)
        config = target.config
        user_path = f"/users/{quote(username, safe='')}"
        with self._session(target) as session:
            existing = self._call(session, target, "GET", user_path, "user lookup")
            if existing.status_code == 200:
                raise NothingCreated(_taken(username))
            if existing.status_code != 404:
                raise status_error("user lookup", existing)
            tags = ",".join([*_tags(config.get("tags")), LEASE_TAG])
            created = self._call(
                session, target, "PUT", user_path, "user creation", json={"password": password, "tags": tags}
            )
            if created.status_code not in (201, 204):
                raise status_error("user creation", created)
            granted = self._call(
                session,
                target,
                "PUT",
                f"/permissions/{quote(str(config['virtualHostName']), safe='')}/{quote(username, safe='')}",
                "permissions",
                json={
                    "configure": str(config["configurePermission"]),
                    "write": str(config["writePermission"]),
                    "read": str(config["readPermission"]),
                },
            )
            if granted.status_code not in (201, 204):
                error = status_error("permissions", granted)
                if granted.status_code == 404:
                    error = UnrecoverableProviderError("permissions: HTTP 404 (no such virtual host)")
                deleted = self._call(session, target, "DELETE", user_path, "user deletion")
                if deleted.status_code not in (204, 404):
                    raise ProviderError(f"{error}; undoing the partial creation failed too")
                raise error
        return {"DB_USERNAME": username, "DB_PASSWORD": password}

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        """Nothing to do: RabbitMQ users do not expire."""

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        """Idempotent: a user that is gone is revoked. A user without our tag is not deleted."""
        if username == str(target.config.get("username") or ""):
            raise UnrecoverableProviderError("refused: the lease names the admin user")
        user_path = f"/users/{quote(username, safe='')}"
        with self._session(target) as session:
            existing = self._call(session, target, "GET", user_path, "user lookup")
            if existing.status_code == 404:
                return None
            if existing.status_code != 200:
                raise status_error("user lookup", existing)
            if LEASE_TAG not in _tags(_json(existing).get("tags")):
                return f"a user of that name without the {LEASE_TAG} tag exists: not made by this lease, left alone"
            deleted = self._call(session, target, "DELETE", user_path, "user deletion")
        if deleted.status_code not in (204, 404):
            raise status_error("user deletion", deleted)
        return None


def _taken(username: str) -> str:
    return (
        f"a RabbitMQ user named {username} already exists and is not ours: nothing was created or changed;"
        " use a username template that makes unique names (keep {{random N}} in it)"
    )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
