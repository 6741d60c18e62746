"""A dynamic-secret provider whose "server" is ``USERS`` (user name -> password): creation adds
the lease's user, revocation removes it."""

from __future__ import annotations

from collections.abc import Sequence

from dynamic.providers.base import DynamicProvider, PluginField, ProviderError, Target
from dynamic.providers.templates import REDIS

USERS: dict[str, str] = {}


class EchoDynamicProvider(DynamicProvider):
    kind = "dynamic_echo"
    infisical_type = "echo-db"  # its type on the Infisical-compatible routes
    label = "Echo accounts"
    description = "A provider declared only in tests"
    dialect = REDIS  # statements are words: "ADD {{username}} {{password}}"
    default_port = 7
    statement_variables = {
        "creation": frozenset({"username", "password", "expiration"}),
        "renewal": frozenset({"username", "expiration"}),
        "revocation": frozenset({"username"}),
    }
    default_statements = {"creation": ("ADD {{username}} {{password}}",), "revocation": ("DROP {{username}}",)}
    fields = (
        PluginField("host", "Echo host"),
        PluginField("port", "Port", input="int", required=False),
        PluginField("database", "Echo realm"),
        PluginField("password", "Echo root key", secret=True, input="password"),
    )

    def test(self, target: Target) -> None:
        if target.credentials.get("password") != "echo-root-key":
            raise ProviderError("the echo server refused the root key")

    def create_user(
        self, target: Target, *, username: str, statements: Sequence[str], undo: Sequence[str] = ()
    ) -> None:
        for statement in statements:
            verb, name, *rest = statement.split()
            if verb == "ADD":
                USERS[name] = rest[0]

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        return None

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        for statement in statements:
            verb, name = statement.split()[:2]
            if verb == "DROP":
                USERS.pop(name, None)
        return None
