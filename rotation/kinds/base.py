"""The contract of a rotation kind (one folder per kind under ``rotation/kinds/``, found through
``rotation.kinds.registry``). A kind changes one user's password in the target and proves a login
with it; the engine does everything else (write-ahead record, lock, switch, retries).

Kinds for SQL databases reuse the dynamic-secret providers' connection code (target allowlist,
drivers, safe error text) and their quoting-aware statement rendering: nothing is copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dynamic.providers.base import DynamicProvider, ProviderError, Target
from dynamic.providers.registry import PROVIDERS
from dynamic.providers.templates import USERNAME_RE, TemplateError, render_statement
from dynamic.services.common import connect_target

__all__ = ["ProviderError", "RotationKind", "SqlCredentialsKind", "Target"]


class RotationKind:
    kind: str = ""
    label: str = ""
    # The secrets a rotation of this kind owns, e.g. ("username", "password").
    mapping_fields: tuple[str, ...] = ("username", "password")

    def check_config(self, config: Mapping[str, Any], usernames: list[str]) -> None:
        """Raise ValueError (safe text) when the settings cannot work."""
        raise NotImplementedError

    def target(self, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]) -> Target:
        """The admin connection, its address checked against the organization's allowlist
        (TargetRefused otherwise)."""
        raise NotImplementedError

    def test_root(self, target: Target) -> None:
        """Log in with the root credentials; ProviderError (safe text) otherwise."""
        raise NotImplementedError

    def set_password(self, target: Target, *, username: str, password: str) -> None:
        """Give *username* the password. Idempotent: setting the same password twice is harmless."""
        raise NotImplementedError

    def verify_login(self, target: Target, *, username: str, password: str) -> None:
        """Log in as *username* with *password*; ProviderError when the target refuses."""
        raise NotImplementedError

    def secret_values(self, *, username: str, password: str) -> dict[str, str]:
        """{mapping field: value} for the owned secrets."""
        return {"username": username, "password": password}


class SqlCredentialsKind(RotationKind):
    """A database user's password, changed over the root connection of the dynamic-secret
    provider of the same name."""

    provider_kind = ""
    statement = ""

    def provider(self) -> DynamicProvider:
        return PROVIDERS.get(self.provider_kind)

    def check_config(self, config: Mapping[str, Any], usernames: list[str]) -> None:
        for field in ("host", "database", "username"):
            if not str(config.get(field) or "").strip():
                raise ValueError(f"config.{field} is required")
        for username in usernames:
            if not USERNAME_RE.match(username):
                raise ValueError("usernames: letters, digits, '_' and '-' only (1-63 characters)")

    def target(self, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]) -> Target:
        return connect_target(self.provider(), organization_id=organization_id, config=config, credentials=credentials)

    def test_root(self, target: Target) -> None:
        self.provider().test(target)

    def set_password(self, target: Target, *, username: str, password: str) -> None:
        provider = self.provider()
        try:
            rendered = render_statement(self.statement, {"username": username, "password": password}, provider.dialect)
        except TemplateError as exc:
            raise ProviderError(f"the rotation statement cannot be rendered: {exc}") from None
        # The provider's renewal path runs statements over the root connection (PostgreSQL: in one
        # transaction under its DDL lock) and reduces driver errors to their codes.
        provider.renew_user(target, username=username, statements=[rendered])

    def verify_login(self, target: Target, *, username: str, password: str) -> None:
        as_user = Target(
            config={**dict(target.config), "username": username},
            credentials={"password": password},
            address=target.address,
            addresses=target.addresses,
        )
        self.provider().test(as_user)
