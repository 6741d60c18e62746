"""Leases: create, renew, revoke, force-revoke.

TTLs follow Infisical (docs/dynamic-secrets.md): a lease lives ``ttl`` (default: the dynamic
secret's ``defaultTTL``); asking for more than ``maxTTL`` is a 400 ("TTL cannot be larger than max
TTL"), never silently capped; a renewal adds its TTL to the *old expiry* and may not reach past
``created_at + maxTTL``.

Creation is write-ahead: the lease row (with its revocation snapshot and expiry) is committed
*before* the user is made on the target, so a crash between the two leaves a lease that the
sweeper revokes at expiry — never a user nobody knows about. The password is returned once and
never stored.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.context import current_request_context
from audit.services import AuditActor
from dynamic.models import LIVE_STATUSES, DynamicSecret, Lease, LeaseStatus
from dynamic.providers.base import NothingCreated
from dynamic.providers.templates import (
    TemplateError,
    generate_password,
    password_requirements_from,
    render_statements,
    render_username,
)
from dynamic.sealing import CredentialsUnavailable, open_for_secret, seal_for_lease
from dynamic.services.ado_runs import RunBinding
from dynamic.services.common import (
    connect_target,
    definition_values,
    failure_text,
    parse_ttl,
    provider_for,
    require_lease,
    require_manage,
)
from dynamic.services.definitions import lease_cap, statements_of
from dynamic.services.revocation import (
    RevokeOutcome,
    lease_audit,
    lease_revoke_execute,
    schedule_on_commit,
)
from dynamic.targets import TargetRefused
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.selectors.access import ProjectScope

MAX_TTL_MESSAGE = "TTL cannot be larger than max TTL"
RENEW_MAX_MESSAGE = "The requested renewal would exceed the maximum allowed lease duration"


class LeaseCreateFailed(ValidationFailed):
    """The provider refused (400, Infisical's wording): the reason is sanitised."""

    def __init__(self, reason: str) -> None:
        super().__init__("provider", f"Failed to create lease from provider: {reason}")


@dataclass(frozen=True)
class LeaseIssued:
    lease: Lease
    data: dict[str, str] = field(repr=False)  # the credentials: returned once, never stored


def _ttl_seconds(raw: Any, default: int) -> int:
    return default if raw in (None, "") else parse_ttl(raw, field="ttl")


def lease_create(
    *,
    scope: ProjectScope,
    secret: DynamicSecret,
    ttl: Any = None,
    run: RunBinding | None = None,
    on_written: Callable[[Lease], None] | None = None,
) -> LeaseIssued:
    """Issue a credential of *secret* for the scope's principal (``secrets.read_value`` at the
    secret's place). Raises ValidationFailed (400: TTL, cap, template, provider failure). *run*:
    the proven Azure DevOps run the lease is bound to (``dynamic.services.ado_runs``).
    *on_written* runs inside the transaction that commits the write-ahead lease row, before the
    user exists on the target (``dynamic.services.lease_idempotency`` records the key there)."""
    environment, path = secret.environment.slug, secret.folder.path
    require_lease(scope, environment=environment, path=path, resource=str(secret.public_id))
    seconds = _ttl_seconds(ttl, secret.default_ttl)
    if secret.max_ttl is not None and seconds > secret.max_ttl:
        raise ValidationFailed("ttl", MAX_TTL_MESSAGE)
    provider = provider_for(secret.provider)
    now = timezone.now()
    expire_at = now + datetime.timedelta(seconds=seconds)
    try:
        username = provider.lease_username(
            secret.config,
            render_username(
                secret.username_template,
                identity_label=scope.principal.label,
                secret_name=secret.name,
                secret_type=secret.provider,
                max_length=provider.username_max_length,
            ),
        )
        password = generate_password(password_requirements_from(secret.password_requirements))
        values = provider.statement_values(
            secret.config, username=username, password=password, expiration=provider.expiration_text(expire_at)
        )
        creation = render_statements(statements_of(secret, "creation"), values, provider.dialect)
        revocation = render_statements(
            statements_of(secret, "revocation"),
            {key: value for key, value in values.items() if key in ("username", "database")},
            provider.dialect,
        )
    except TemplateError as exc:
        field, _, message = str(exc).partition(": ")
        if field != "usernameTemplate":
            field, message = "statements", str(exc)
        raise ValidationFailed(field, message) from None
    try:
        credentials = open_for_secret(secret)
        target = connect_target(
            provider, organization_id=scope.project.organization_id, config=secret.config, credentials=credentials
        )
    except (TargetRefused, CredentialsUnavailable) as exc:
        raise LeaseCreateFailed(failure_text(exc, definition_values(secret))) from None

    actor = scope.audit_actor()
    context = current_request_context()
    with transaction.atomic():
        locked = DynamicSecret.objects.select_for_update().get(pk=secret.pk)  # serialise the cap check
        cap = lease_cap()
        if Lease.objects.filter(dynamic_secret=locked, status__in=LIVE_STATUSES).count() >= cap:
            raise ValidationFailed("dynamicSecretName", f"Max lease limit reached. Limit: {cap}")
        lease = Lease(
            dynamic_secret=secret,
            project=scope.project,
            organization_id_snapshot=scope.project.organization_id,
            project_id_snapshot=scope.project.pk,
            environment_slug=environment,
            path=path,
            dynamic_secret_name=secret.name,
            dynamic_secret_public_id=secret.public_id,
            provider=secret.provider,
            config_snapshot=dict(secret.config),
            username=username,
            revocation_statements=revocation,
            expire_at=expire_at,
            actor_type=actor.type,
            actor_id=str(actor.id)[:64],
            actor_label=actor.label[:200],
            client_ip=context.source_ip[:64],
            **(run.lease_fields() if run is not None else {}),
        )
        lease.credentials_ciphertext = seal_for_lease(lease, credentials)
        lease.save()
        if on_written is not None:
            on_written(lease)
        schedule_on_commit(lease)  # the revocation at expiry is on its way before the user exists

    try:
        data = provider.issue(
            target, username=username, password=password, expire_at=expire_at, statements=creation, undo=revocation
        )
    except Exception as exc:  # noqa: BLE001 - any failure: clean up, record, answer 400
        reason = failure_text(exc, [password, username, *credentials.values(), *definition_values(secret)])
        Lease.objects.filter(pk=lease.pk, status=LeaseStatus.ACTIVE).update(revoke_requested_at=timezone.now())
        with transaction.atomic():
            lease_audit(lease, "lease.creation_failed", actor, error=reason)
            if isinstance(exc, NothingCreated):
                # The name is taken by someone else's user: revoking by name would remove *theirs*.
                closed = Lease.objects.filter(pk=lease.pk, status=LeaseStatus.ACTIVE).update(
                    status=LeaseStatus.REVOKED, revoked_at=timezone.now()
                )
                if closed:
                    lease.refresh_from_db()
                    lease_audit(lease, "lease.revoked", actor, reason="creation failed", note="nothing was created")
        if not isinstance(exc, NothingCreated):
            # The statements are idempotent: whatever a half-made creation left is dropped now, or
            # by the retries if the target is down.
            lease_revoke_execute(lease_id=lease.pk, actor=actor, reason="creation failed")
        raise LeaseCreateFailed(reason) from None

    try:
        with transaction.atomic():
            lease_audit(lease, "lease.created", actor, ttl=seconds, **(run.audit_fields() if run is not None else {}))
    except Exception:
        # Audited or not at all: the credential is never handed out unrecorded.
        Lease.objects.filter(pk=lease.pk, status=LeaseStatus.ACTIVE).update(revoke_requested_at=timezone.now())
        lease_revoke_execute(lease_id=lease.pk, reason="audit write failed")
        raise
    return LeaseIssued(lease=lease, data=data)


def lease_renew(*, scope: ProjectScope, lease: Lease, ttl: Any = None) -> Lease:
    """Extend an active lease by *ttl* (default: the secret's default TTL) from its current expiry;
    400 past ``created_at + maxTTL`` or for a lease that is not active (or whose secret is gone)."""
    require_lease(scope, environment=lease.environment_slug, path=lease.path, resource=str(lease.public_id))
    now = timezone.now()
    if lease.status != LeaseStatus.ACTIVE or lease.revoke_requested_at is not None or lease.expire_at <= now:
        raise ValidationFailed("lease", "only an active lease that has not expired can be renewed")
    secret = DynamicSecret.objects.filter(pk=lease.dynamic_secret_id).first() if lease.dynamic_secret_id else None
    if secret is None:
        raise ValidationFailed("lease", "its dynamic secret was deleted: the lease can no longer be renewed")
    seconds = _ttl_seconds(ttl, secret.default_ttl)
    new_expire_at = lease.expire_at + datetime.timedelta(seconds=seconds)
    if secret.max_ttl is not None and new_expire_at > lease.created_at + datetime.timedelta(seconds=secret.max_ttl):
        raise ValidationFailed("ttl", RENEW_MAX_MESSAGE)
    provider = provider_for(secret.provider)
    refusal = provider.renewal_refusal(lease.config_snapshot)
    if refusal:
        raise ValidationFailed("lease", refusal)
    renewal = statements_of(secret, "renewal")
    if renewal:
        try:
            values = provider.statement_values(
                secret.config, username=lease.username, expiration=provider.expiration_text(new_expire_at)
            )
            statements = render_statements(renewal, values, provider.dialect)
            target = connect_target(
                provider,
                organization_id=lease.organization_id_snapshot,
                config=secret.config,
                credentials=open_for_secret(secret),
            )
            provider.renew_user(target, username=lease.username, statements=statements)
        except Exception as exc:  # noqa: BLE001
            raise ValidationFailed(
                "provider", "Failed to renew lease from provider: " + failure_text(exc, definition_values(secret))
            ) from None
    old_expire_at = lease.expire_at
    with transaction.atomic():
        renewed = Lease.objects.filter(pk=lease.pk, status=LeaseStatus.ACTIVE, expire_at=old_expire_at).update(
            expire_at=new_expire_at, version=F("version") + 1, dispatched_at=None
        )
        if not renewed:
            raise Conflict("The lease changed while it was renewed (revoked or renewed by someone else)")
        lease.refresh_from_db()
        lease_audit(lease, "lease.renewed", scope.audit_actor(), previous_expire_at=old_expire_at.isoformat())
        schedule_on_commit(lease)
    return lease


def lease_revoke_now(*, lease_id: int, actor: AuditActor, reason: str) -> bool:
    """Ask for revocation now and try it at once. True when the lease is revoked; False when it
    failed (the lease is ``failed`` and retries on its own) or another worker holds it."""
    Lease.objects.filter(pk=lease_id, status__in=[LeaseStatus.ACTIVE, LeaseStatus.FAILED]).update(
        revoke_requested_at=timezone.now()
    )
    outcome: RevokeOutcome = lease_revoke_execute(lease_id=lease_id, actor=actor, reason=reason, any_live=True)
    if outcome.status == "not_due":
        return Lease.objects.filter(pk=lease_id, status=LeaseStatus.REVOKED).exists()
    return outcome.status == "revoked"


def lease_revoke(*, scope: ProjectScope, lease: Lease) -> Lease:
    """Revoke before expiry (``secrets.read_value`` at the lease's place). On a provider failure the
    lease stays ``failed`` with its reason and is retried in the background (the answer shows it)."""
    require_lease(scope, environment=lease.environment_slug, path=lease.path, resource=str(lease.public_id))
    if lease.status == LeaseStatus.REVOKED:
        return lease
    if lease.status == LeaseStatus.IRREVOCABLE:
        raise Conflict("This lease is irrevocable: a project admin may force-revoke it")
    lease_revoke_now(lease_id=lease.pk, actor=scope.audit_actor(), reason="revoked by request")
    lease.refresh_from_db()
    return lease


def lease_force_revoke(*, scope: ProjectScope, lease: Lease) -> Lease:
    """Admin (``dynamic_secrets.manage``): try once more; whatever the target answers, the lease ends
    as ``revoked`` with ``forced`` — the remote user may still exist (that is the point: an admin
    removed it by hand, or accepts it). Audited as ``lease.force_revoked`` with the last error."""
    require_manage(scope, environment=lease.environment_slug, path=lease.path, resource=str(lease.public_id))
    if lease.status == LeaseStatus.REVOKED:
        return lease
    if lease_revoke_now(lease_id=lease.pk, actor=scope.audit_actor(), reason="force-revoked"):
        lease.refresh_from_db()
        return lease
    with transaction.atomic():
        Lease.objects.filter(pk=lease.pk).exclude(status=LeaseStatus.REVOKED).update(
            status=LeaseStatus.REVOKED,
            forced=True,
            revoked_at=timezone.now(),
            claimed_until=None,
            next_attempt_at=None,
        )
        lease.refresh_from_db()
        lease_audit(
            lease, "lease.force_revoked", scope.audit_actor(), error=lease.last_error, attempts=lease.revoke_attempts
        )
    return lease
