"""A rotation kind whose "target" is ``PASSWORDS`` (user name -> password)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rotation.kinds.base import ProviderError, RotationKind, Target
from secrets_app.plugins import PluginField, PluginKind

PASSWORDS: dict[str, str] = {}


class EchoRotationFields(PluginKind):
    kind = "rotation_echo"
    label = "Echo accounts"
    fields = (
        PluginField("realm", "Echo realm"),
        PluginField("root_key", "Echo root key", secret=True, input="password"),
    )


class EchoRotation(RotationKind):
    kind = "rotation_echo"
    label = "Echo account passwords"
    infisical_type = "echo-credentials"  # served on the Infisical-compatible routes under this type

    def plugin(self) -> PluginKind:
        return EchoRotationFields()

    def target(self, *, organization_id: int, config: Mapping[str, Any], credentials: Mapping[str, str]) -> Target:
        return Target(config=config, credentials=credentials)

    def test_root(self, target: Target) -> None:
        if target.credentials.get("root_key") != "echo-root-key":
            raise ProviderError("the echo realm refused the root key")

    def set_password(self, target: Target, *, username: str, password: str) -> None:
        PASSWORDS[username] = password

    def verify_login(self, target: Target, *, username: str, password: str) -> None:
        if PASSWORDS.get(username) != password:
            raise ProviderError(f"{username} cannot log in")
