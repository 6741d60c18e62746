"""Define, change and delete dynamic secrets (``dynamic_secrets.manage``).

Root credentials are validated by the provider's field declaration, tested live against the target
(after the target check) before anything is saved, sealed to the row and never returned. Deleting
a definition revokes its live leases first; ``force`` deletes it at once and leaves the leases
(and their database users) to their own snapshots and expiry — audited as such, loudly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from dynamic.models import LIVE_STATUSES, DynamicSecret
from dynamic.providers.base import DynamicProvider, ProviderError
from dynamic.providers.templates import (
    TemplateError,
    check_placeholders,
    check_username_template,
    normalise_statements,
    password_requirements_from,
)
from dynamic.sealing import open_for_secret, seal_for_secret
from dynamic.services.common import (
    connect_target,
    parse_ttl,
    provider_for,
    require_manage,
    scrub,
)
from dynamic.targets import TargetRefused
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.paths import canonical_path
from secrets_app.plugins import PluginFieldError
from secrets_app.selectors.access import ProjectScope
from secrets_app.selectors.tree import folder_get

NAME_MAX = 64


@dataclass(frozen=True)
class Definition:
    """What a caller may set; None leaves a field as it is (on update)."""

    config: Mapping[str, Any] | None = None
    credentials: Mapping[str, Any] | None = None
    default_ttl: Any = None
    max_ttl: Any = None  # "" or 0 on update: remove the cap
    username_template: str | None = None
    password_requirements: Mapping[str, Any] | None = None
    statements: Mapping[str, Any] | None = None


def _clean_name(name: str) -> str:
    name = (name or "").strip().lower()
    if not name or len(name) > NAME_MAX or not all(char.isalnum() or char in "-_" for char in name):
        raise ValidationFailed("name", "must be 1-64 lower-case letters, digits, '-' or '_'")
    return name


def _statements(provider: DynamicProvider, raw: Mapping[str, Any] | None) -> dict[str, list[str]]:
    if raw is not None and not isinstance(raw, Mapping):
        raise ValidationFailed("statements", "must be an object with creation, renewal and revocation")
    raw = raw or {}
    unknown = sorted(set(raw) - set(provider.statement_variables))
    if unknown:
        raise ValidationFailed(f"statements.{unknown[0]}", "unknown statement kind")
    cleaned: dict[str, list[str]] = {}
    for kind, allowed in provider.statement_variables.items():
        field = f"statements.{kind}"
        try:
            given = normalise_statements(raw.get(kind), provider.dialect, field=field)
            statements = given or list(provider.default_statements.get(kind, ()))
            check_placeholders(statements, set(allowed), field=field)
            provider.check_statements(kind, statements)
        except TemplateError as exc:
            message = str(exc).split(": ", 1)[-1]
            raise ValidationFailed(field, message) from None
        if kind == "creation" and not statements:
            raise ValidationFailed(field, "give at least one statement")
        cleaned[kind] = statements
    return cleaned


def _validated(
    provider: DynamicProvider, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    try:
        return provider.validate(config=config, credentials=credentials)
    except PluginFieldError as exc:
        raise ValidationFailed(exc.field, exc.message) from None


def _live_test(
    scope: ProjectScope, provider: DynamicProvider, config: Mapping[str, Any], credentials: Mapping[str, str]
) -> None:
    """Connect with the root credentials (after the target check); 400 naming the field otherwise."""
    try:
        target = connect_target(
            provider, organization_id=scope.project.organization_id, config=config, credentials=credentials
        )
    except TargetRefused as exc:
        raise ValidationFailed("config.host", str(exc)) from None
    try:
        provider.test(target)
    except ProviderError as exc:
        secrets = [*credentials.values(), str(config.get("username") or "")]
        raise ValidationFailed("config", "Provider connection failed: " + scrub(str(exc), secrets)) from None


def _ttls(default_raw: Any, max_raw: Any) -> tuple[int, int | None]:
    default_ttl = parse_ttl(default_raw, field="defaultTTL")
    max_ttl = None if max_raw in (None, "", 0) else parse_ttl(max_raw, field="maxTTL")
    if max_ttl is not None and default_ttl > max_ttl:
        raise ValidationFailed("defaultTTL", "must not be longer than maxTTL")
    return default_ttl, max_ttl


def _username_template(raw: str | None) -> str:
    try:
        return check_username_template((raw or "").strip())
    except TemplateError as exc:
        raise ValidationFailed("usernameTemplate", str(exc).split(": ", 1)[-1]) from None


def _password_requirements(raw: Mapping[str, Any] | None) -> dict[str, Any]:
    try:
        return password_requirements_from(raw).as_dict()
    except TemplateError as exc:
        field, _, message = str(exc).partition(": ")
        raise ValidationFailed(field, message) from None


def _audit(scope: ProjectScope, action: str, secret: DynamicSecret, **metadata: Any) -> None:
    scope.audit(
        action,
        environment=secret.environment.slug,
        path=secret.folder.path,
        resource_type="dynamic_secret",
        resource_id=str(secret.public_id),
        metadata={"name": secret.name, "provider": secret.provider, **metadata},
    )


def dynamic_secret_create(
    *, scope: ProjectScope, environment: str, path: str, name: str, provider: str, definition: Definition
) -> DynamicSecret:
    """Define a dynamic secret at (environment, path). Tested live before it is saved. Raises
    ValidationFailed (400, naming the field), Conflict (409: the name exists in that folder),
    PermissionDenied (403, audited) or NotFound (environment or folder)."""
    path = canonical_path(path)
    require_manage(scope, environment=environment, path=path)
    env, folder = folder_get(scope, environment, path)
    name = _clean_name(name)
    plugin = provider_for(provider)
    config, credentials = _validated(plugin, definition.config or {}, definition.credentials or {})
    default_ttl, max_ttl = _ttls(
        definition.default_ttl if definition.default_ttl is not None else "1h", definition.max_ttl
    )
    secret = DynamicSecret(
        project=scope.project,
        environment=env,
        folder=folder,
        name=name,
        provider=provider,
        config=config,
        credential_names=sorted(credentials),
        default_ttl=default_ttl,
        max_ttl=max_ttl,
        username_template=_username_template(definition.username_template),
        password_requirements=_password_requirements(definition.password_requirements),
        statements=_statements(plugin, definition.statements),
        created_by_label=scope.principal.label[:200],
    )
    if DynamicSecret.objects.filter(folder=folder, name=name).exists():
        raise Conflict("Provided dynamic secret already exists under the folder", fields={"name": ["already exists"]})
    _live_test(scope, plugin, config, credentials)
    secret.last_tested_at = timezone.now()
    secret.credentials_ciphertext = seal_for_secret(secret, credentials)
    try:
        with transaction.atomic():
            secret.save()
            _audit(
                scope,
                "dynamic_secret.created",
                secret,
                default_ttl=default_ttl,
                max_ttl=max_ttl,
                username_template=secret.username_template,
                host=str(config.get("host") or ""),
            )
    except IntegrityError:
        raise Conflict(
            "Provided dynamic secret already exists under the folder", fields={"name": ["already exists"]}
        ) from None
    return secret


def dynamic_secret_update(
    *, scope: ProjectScope, secret: DynamicSecret, definition: Definition, new_name: str | None = None
) -> DynamicSecret:
    """Change settings, credentials (merged: a secret field left out keeps its stored value), TTLs,
    template, requirements or statements; tested live again when the connection changed. Live
    leases keep their snapshot (they are revoked as issued), new leases use the new definition."""
    require_manage(scope, environment=secret.environment.slug, path=secret.folder.path, resource=str(secret.public_id))
    plugin = provider_for(secret.provider)
    changed: list[str] = []
    if new_name is not None and _clean_name(new_name) != secret.name:
        secret.name = _clean_name(new_name)
        changed.append("name")
    connection_changed = definition.config is not None or definition.credentials is not None
    if connection_changed:
        given = {key: value for key, value in (definition.credentials or {}).items() if value not in (None, "")}
        merged_credentials = {**open_for_secret(secret), **given}
        merged_config = {**secret.config, **(definition.config or {})}
        config, credentials = _validated(plugin, merged_config, merged_credentials)
        _live_test(scope, plugin, config, credentials)
        secret.config = config
        secret.credential_names = sorted(credentials)
        secret.credentials_ciphertext = seal_for_secret(secret, credentials)
        secret.last_tested_at = timezone.now()
        changed += ["config"] + (["credentials"] if given else [])
    if definition.default_ttl is not None or definition.max_ttl is not None:
        default_ttl, max_ttl = _ttls(
            definition.default_ttl if definition.default_ttl is not None else secret.default_ttl,
            definition.max_ttl if definition.max_ttl is not None else secret.max_ttl,
        )
        secret.default_ttl, secret.max_ttl = default_ttl, max_ttl
        changed.append("ttl")
    if definition.username_template is not None:
        secret.username_template = _username_template(definition.username_template)
        changed.append("usernameTemplate")
    if definition.password_requirements is not None:
        secret.password_requirements = _password_requirements(definition.password_requirements)
        changed.append("passwordRequirements")
    if definition.statements is not None:
        secret.statements = _statements(plugin, {**secret.statements, **definition.statements})
        changed.append("statements")
    secret.version += 1
    try:
        with transaction.atomic():
            secret.save()
            _audit(scope, "dynamic_secret.updated", secret, changed=sorted(changed))
    except IntegrityError:
        raise Conflict(
            "Provided dynamic secret already exists under the folder", fields={"name": ["already exists"]}
        ) from None
    return secret


@dataclass(frozen=True)
class DeleteOutcome:
    deleted: bool
    revoked: int
    left_in_place: int  # forced: live leases left to their snapshot and expiry
    failed: int  # not forced: leases whose revocation failed (the definition is kept)


def dynamic_secret_delete(*, scope: ProjectScope, secret: DynamicSecret, force: bool = False) -> DeleteOutcome:
    """Revoke every live lease, then delete. When a revocation fails the definition stays (the
    failed leases retry on their own) and nothing is deleted: 409 from the interface. With *force*
    the definition is deleted at once and live leases are left in place — they keep their snapshot,
    so the sweeper still revokes them at expiry — audited as ``dynamic_secret.deleted`` with
    ``forced`` and the count."""
    from dynamic.services.leases import lease_revoke_now

    require_manage(scope, environment=secret.environment.slug, path=secret.folder.path, resource=str(secret.public_id))
    live = list(secret.leases.filter(status__in=LIVE_STATUSES))
    revoked = failed = 0
    if not force:
        for lease in live:
            if lease_revoke_now(lease_id=lease.pk, actor=scope.audit_actor(), reason="dynamic secret deleted"):
                revoked += 1
            else:
                failed += 1
        if failed:
            return DeleteOutcome(deleted=False, revoked=revoked, left_in_place=0, failed=failed)
    with transaction.atomic():
        _audit(
            scope,
            "dynamic_secret.deleted",
            secret,
            forced=force,
            leases_revoked=revoked,
            leases_left_in_place=len(live) if force else 0,
        )
        secret.delete()
    return DeleteOutcome(deleted=True, revoked=revoked, left_in_place=len(live) if force else 0, failed=0)


def lease_cap() -> int:
    return int(getattr(settings, "STRONGROOM_DYNAMIC_MAX_LEASES_PER_SECRET", 10_000))


def statements_of(secret: DynamicSecret, kind: str) -> Sequence[str]:
    return list((secret.statements or {}).get(kind) or [])
