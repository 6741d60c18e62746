"""The contract of a rotation kind (one folder per kind under ``rotation/kinds/``, found through
``rotation.kinds.registry``). A kind changes one user's password in the target and proves a login
with it; the engine does everything else (write-ahead record, lock, switch, retries).

Kinds for SQL databases reuse the dynamic-secret providers' connection code (target allowlist,
drivers, safe error text) and their quoting-aware statement rendering: nothing is copied.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynamic.providers.base import DynamicProvider, ProviderError, Target
from dynamic.providers.registry import PROVIDERS
from dynamic.providers.templates import USERNAME_RE, TemplateError, render_statement
from dynamic.services.common import connect_target
from secrets_app.plugins import clean_declared

__all__ = ["IssuedCredential", "IssuedCredentialKind", "ProviderError", "RotationKind", "SqlCredentialsKind", "Target"]


class RotationKind:
    kind: str = ""
    label: str = ""
    # How many target users a rotation names, by mode (two users alternate, or one).
    usernames_required: int | None = None  # None: 2 in alternate mode, 1 in single mode
    # The secrets a rotation of this kind owns, e.g. ("username", "password").
    mapping_fields: tuple[str, ...] = ("username", "password")
    # What ``usernames`` names, for the API description.
    usernames_help: str = "two existing users taking turns (one in single mode)"
    # "module:Class" of the kind's own create form (a ``rotation.ui.forms.RotationBaseForm``
    # subclass in the kind's folder); empty: the two-user form.
    form: str = ""
    # Infisical's rotation type on the compatible routes (``postgres-credentials``): its shape is in
    # ``rotation/compat/responses.py::TYPES``, or generic when that has none; empty: not served there.
    infisical_type: str = ""

    def check_config(self, config: Mapping[str, Any], usernames: list[str]) -> None:
        """Raise ValueError (safe text) when the settings cannot work. The base cleans the declared
        settings (``kind_plugin``'s non-secret fields), raising ``PluginFieldError`` naming the
        field (``config.realm``); override for checks a declaration cannot state."""
        from rotation.kinds.registry import kind_plugin

        clean_declared(kind_plugin(self).config_fields, config, prefix="config")

    def check_credentials(self, credentials: Mapping[str, str]) -> None:
        """Raise ValueError (safe text, naming the field, never a value) when root credentials are
        missing or malformed. Default: nothing (a live login proves them)."""

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

    def accepts_any_password(self, target: Target, *, username: str) -> bool:
        """Does the target let *username* in with a password nobody set? Then a successful login
        check proves nothing (PostgreSQL's ``trust`` in pg_hba.conf, say): the run still switches
        (the password was changed), but the attempt says so. False where it cannot tell."""
        return False

    def secret_values(self, *, username: str, password: str) -> dict[str, str]:
        """{mapping field: value} for the owned secrets."""
        return {"username": username, "password": password}

    def invalidate(self, target: Target, *, username: str, password: str) -> None:
        """Make the credential of *username* useless (a reveal-triggered rotation's reset of the
        previously active user after the grace period): give it *password*, a fresh random value
        nobody keeps. Password kinds only; ``IssuedCredentialKind`` deletes a key instead."""
        self.set_password(target, username=username, password=password)


@dataclass(frozen=True)
class IssuedCredential:
    """A credential the target generated (an access key, a client secret). ``key_id`` names it in
    the target and is not secret; ``secret`` is shown once by the target and kept only sealed."""

    key_id: str
    secret: str = dataclasses.field(repr=False)
    expires_at: str = ""  # ISO-8601 when the target gives credentials an end (Entra), else ""


class IssuedCredentialKind(RotationKind):
    """Kinds where the **target** generates the secret (AWS IAM access keys, Entra application
    client secrets): nothing can be written ahead and rolled forward, so the engine's write-ahead
    record holds the *intent* before the target is asked and the issued key (sealed) right after.

    One principal per rotation (``usernames == [principal]``: the IAM user name, the
    application's object id). At rest it holds two keys: the **active** one the owned secrets
    hold and the **previous** one, still valid for one more interval (as the two-user database
    mode). A rotation deletes the previous key first (it is what the rotation retires, and AWS
    allows two keys per user), issues a new one, verifies it, switches, and the active key
    becomes the previous one. Keys the rotation does not know (an interrupted run's orphan) are
    found by ``orphan_key_ids`` and deleted before a new one is issued."""

    mapping_fields = ("key_id", "secret")
    # Owned fields whose value comes from the rotation's settings (which cannot change after
    # create), not from the issued key: written once, never a new identical version per run.
    settings_fields: tuple[str, ...] = ()
    usernames_required = 1

    # Owned secret keys the create form proposes, by mapping field (empty: the form asks).
    default_mapping: dict[str, str] = {}
    # How long a new key may take to be accepted and listed (eventual consistency): ``verify``
    # retries that long, and the engine discards a pending key the target no longer lists only
    # once it was recorded longer ago than this.
    verify_seconds: float = 0.0
    # How many keys the target lets one principal hold (AWS: 2), None for no small limit. A run
    # that would go over it because of a key it may not delete fails with a reason naming it.
    keys_per_principal: int | None = None

    def check_principal(self, target: Target, *, principal: str) -> None:
        """On save, after ``test_root``: prove the root credentials can manage *principal*'s keys
        (it exists, listing is allowed); ProviderError (safe text) otherwise. Default: nothing."""

    def check_new_principal(self, target: Target, *, principal: str) -> None:
        """On create only, after ``check_principal``: refuse a principal a new rotation cannot
        manage as it stands (AWS: a user already holding its two keys); ProviderError (safe text).
        Default: nothing."""

    def issue(
        self, target: Target, *, principal: str, label: str, valid_for: dt.timedelta | None = None
    ) -> IssuedCredential:
        """Create a new credential for *principal*; *label* names it where the target allows
        (Entra's displayName) so the rotation can tell its own keys from others. *valid_for* is
        the rotation's interval (None without a schedule), for targets that give a credential an
        end date (Entra's endDateTime); others ignore it."""
        raise NotImplementedError

    def verify(self, target: Target, *, principal: str, credential: IssuedCredential) -> None:
        """Authenticate with *credential* alone (sts:GetCallerIdentity, a client-credentials
        token request); ProviderError when the target refuses. Newly issued keys may take a
        moment to be accepted: retry briefly inside."""
        raise NotImplementedError

    def delete(self, target: Target, *, principal: str, key_id: str) -> None:
        """Delete the credential *key_id*. A key that no longer exists is success (idempotent)."""
        raise NotImplementedError

    def list_key_ids(self, target: Target, *, principal: str, label: str) -> list[str]:
        """The ids of the credentials of *principal* this rotation may manage (for Entra, the
        ones whose displayName is *label*)."""
        raise NotImplementedError

    def orphan_key_ids(self, target: Target, *, principal: str, label: str, since: dt.datetime) -> list[str]:
        """Of ``list_key_ids``, the keys a run may delete when the rotation does not know them (an
        interrupted run's orphan): never a key created before *since* (the rotation's creation),
        where the target dates its keys. Default: every listed key (the label proves whose it is)."""
        return self.list_key_ids(target, principal=principal, label=label)

    def issued_values(self, credential: IssuedCredential, *, config: Mapping[str, Any] | None = None) -> dict[str, str]:
        """{mapping field: value} for the owned secrets. *config*: the rotation's settings, for
        owned secrets that hold one of them (Entra's client ID next to the secret)."""
        return {"key_id": credential.key_id, "secret": credential.secret}

    def set_password(self, target: Target, *, username: str, password: str) -> None:
        raise ProviderError("this kind's credentials are issued by the target, not set")

    def verify_login(self, target: Target, *, username: str, password: str) -> None:
        raise ProviderError("this kind's credentials are issued by the target, not set")

    def invalidate(self, target: Target, *, username: str, password: str) -> None:
        raise ProviderError("this kind retires a key by deleting it (IssuedCredentialKind.delete)")


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
