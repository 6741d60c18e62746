"""The interface every dynamic-secret provider implements (one folder per provider, listed in
``dynamic.providers.registry``).

A provider is stateless. The services hand it a :class:`Target` — the provider's settings, the
decrypted root credentials and the address the target check allowed (dial that, never the name
again) — and the username, password and rendered statements of one lease.

Contract:

- ``create_user`` makes the user, or raises and leaves nothing behind (a provider whose DDL commits
  implicitly drops what it made before raising);
- ``revoke_user`` is **idempotent**: a user that does not exist is success, so a retry, a sweeper
  run after a crash or a second worker can never fail on work already done;
- errors are :class:`ProviderError` whose ``str()`` is safe to store and show: the services scrub
  the username, passwords and database name from it again, but a provider never puts them there
  on purpose. ``retryable = False`` marks an error no retry can fix (refused by the target check).

Providers that are not SQL databases (cloud APIs, Redis, RabbitMQ) declare no statements and
override the hooks below the SQL ones: ``endpoints`` (every host they dial, each through the target
check), ``lease_username`` (the name a lease records), ``issue`` (make the credential and return
the lease's data, e.g. an access key), ``renewal_refusal`` (credentials that cannot be extended) and
a ``revoke_user`` that may return a note for the audit trail (revocation that has nothing to do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from dynamic.providers.templates import Dialect
from secrets_app.plugins import PluginField, PluginFieldError, PluginKind

__all__ = [
    "DynamicProvider",
    "NothingCreated",
    "PluginField",
    "PluginFieldError",
    "ProviderError",
    "Target",
    "UnrecoverableProviderError",
]


class ProviderError(Exception):
    """A call to the target failed; ``str()`` is safe to show (no credential)."""

    retryable: bool = True


class UnrecoverableProviderError(ProviderError):
    retryable = False


class NothingCreated(UnrecoverableProviderError):
    """Creation failed before it made anything — typically the name is taken by an account the
    lease did not make. The lease is closed without running its revocation, which would remove
    that account by name."""


@dataclass(frozen=True)
class Target:
    """One connection's worth of settings. Never logged, never stored."""

    config: Mapping[str, Any]
    credentials: Mapping[str, str] = field(repr=False)
    address: str = ""  # the checked IP to dial
    # host -> checked IP, for every endpoint the provider declares (``endpoints``); dial no other host
    addresses: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Target({self.config.get('host')!r}, {self.address!r})"


class DynamicProvider(PluginKind):
    """Base class. Subclasses set the plugin attributes (``kind``, ``label``, ``fields``) and:

    - ``dialect``: how statements are split and rendered;
    - ``statement_variables``: per statement kind, the placeholders allowed in it;
    - ``default_statements``: used for a kind the definition leaves empty;
    - ``username_max_length``: the target's limit on user names;
    - ``data_keys``: the keys of the credentials handed out (Infisical's, e.g. DB_USERNAME);
    - ``infisical_type``: Infisical's provider type on the compatible routes (``sql-database``),
      empty to answer under the kind's own name; ``infisical_client``: a ``sql-database``
      provider's ``inputs.client`` (``postgres``), which the compatible create maps back to the kind.
    """

    dialect: ClassVar[Dialect]
    statement_variables: ClassVar[dict[str, frozenset[str]]] = {}
    default_statements: ClassVar[dict[str, tuple[str, ...]]] = {}
    username_max_length: ClassVar[int] = 63
    data_keys: ClassVar[tuple[str, str]] = ("DB_USERNAME", "DB_PASSWORD")
    default_port: ClassVar[int] = 0
    infisical_type: ClassVar[str] = ""
    infisical_client: ClassVar[str] = ""

    def endpoint(self, config: Mapping[str, Any]) -> tuple[str, int, str]:
        """(host, port, database) this configuration connects to, for the target check."""
        return (
            str(config.get("host") or ""),
            int(config.get("port") or self.default_port),
            str(config.get("database") or ""),
        )

    def test(self, target: Target) -> None:
        """Connect with the root credentials and run a harmless query; ProviderError otherwise."""
        raise NotImplementedError

    def create_user(
        self, target: Target, *, username: str, statements: Sequence[str], undo: Sequence[str] = ()
    ) -> None:
        """Run the rendered creation statements. On failure, undo what was made (*undo*: the
        rendered revocation statements, for targets whose DDL commits implicitly), then raise."""
        raise NotImplementedError

    def renew_user(self, target: Target, *, username: str, statements: Sequence[str]) -> None:
        """Run the rendered renewal statements (none: nothing to do)."""
        raise NotImplementedError

    def revoke_user(self, target: Target, *, username: str, statements: Sequence[str]) -> str | None:
        """Run the rendered revocation statements. Idempotent: a missing user is success. May
        return a note recorded with ``lease.revoked`` (e.g. why there was nothing to do)."""
        raise NotImplementedError

    def check_statements(self, kind: str, statements: Sequence[str]) -> None:
        """Refuse (TemplateError, naming the problem) statements this target must never run,
        checked when a definition is saved. The default accepts anything that renders."""

    def statement_values(self, config: Mapping[str, Any], **values: str) -> dict[str, str]:
        """The values the statements may use (``database`` from the settings plus *values*)."""
        return {"database": str(config.get("database") or ""), **values}

    def expiration_text(self, expire_at: Any) -> str:
        """``{{expiration}}`` as the target reads it."""
        return str(expire_at.strftime("%Y-%m-%d %H:%M:%S+00:00"))

    # --- hooks for providers that are not SQL databases (the defaults suit the SQL ones) ---------

    def endpoints(self, config: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        """Every (host, port, database) this configuration dials: each passes the target check and
        its address lands in ``Target.addresses``. The first is ``endpoint(config)``."""
        return [self.endpoint(config)]

    def lease_username(self, config: Mapping[str, Any], rendered: str) -> str:
        """The name a lease records and revokes (``externalEntityId``): the rendered template, or
        for a provider that hands out an existing account, that account's id."""
        return rendered

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
        """Make the credential and return the lease's ``data`` (returned once, never stored).
        The default runs ``create_user`` and answers ``data_keys`` = (username, password)."""
        self.create_user(target, username=username, statements=statements, undo=undo)
        username_key, password_key = self.data_keys
        return {username_key: username, password_key: password}

    def renewal_refusal(self, config: Mapping[str, Any]) -> str | None:
        """Why a lease issued with *config* cannot be renewed (a 400 says so), or None."""
        return None
