"""Revoking leases: claimed by compare-and-set, retried with backoff, irrevocable in the end.

Who revokes
    Every lease is revoked by a ``lease_revoke`` task: sent with an ETA at its expiry when that is
    near (``STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS``, kept under the broker's visibility timeout),
    and by the beat **sweeper**, which sends the message for any lease that is due and whose last
    message is overdue (a worker that was down or killed loses ETAs; correctness never depends on
    one message arriving). The lease row is the truth, the message only a wake-up call.

Claiming
    ``_claim`` is one conditional UPDATE (``status`` due → ``revoking``, ``claimed_until`` set) and
    goes on only when it changed exactly one row: two workers, or a worker and the sweeper, never
    revoke the same lease at once. A claim older than ``claimed_until`` (a worker killed mid-revoke)
    is due again; the revocation statements are idempotent, so running them twice is harmless.

Which connection
    The lease's snapshot (connection settings, root credentials sealed to the lease, username and
    rendered statements) is always enough. When the dynamic secret still exists and points at the
    same server and database, its current credentials are tried first (root password rotated
    since); a definition that now points elsewhere is never used: "role does not exist" on the
    wrong server would look like success and strand the user on the right one.

Failures
    The lease keeps ``failed`` with a sanitised reason and ``next_attempt_at`` after an exponential
    backoff with jitter; after ``STRONGROOM_DYNAMIC_REVOKE_MAX_ATTEMPTS`` attempts (or at once for
    an error no retry can fix) it becomes ``irrevocable`` and the project admins are alerted once
    (``leases.irrevocable``). An admin may force-revoke it (``lease_force_revoke``).
"""

from __future__ import annotations

import datetime
import logging
import random
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import SYSTEM_ACTOR, AuditActor, audit_record
from dynamic.models import DynamicSecret, Lease, LeaseStatus
from dynamic.providers.base import ProviderError
from dynamic.sealing import CredentialsUnavailable, open_for_lease, open_for_secret
from dynamic.services.common import connect_target, definition_values, failure_text, provider_for
from dynamic.targets import TargetRefused

logger = logging.getLogger("strongroom.dynamic")


def _setting(name: str, default: float) -> float:
    return float(getattr(settings, name, default))


def claim_seconds() -> float:
    return _setting("STRONGROOM_DYNAMIC_CLAIM_SECONDS", 120)


def max_attempts() -> int:
    return int(_setting("STRONGROOM_DYNAMIC_REVOKE_MAX_ATTEMPTS", 6))


def backoff_seconds(attempt: int) -> float:
    """``base * 2^(attempt-1)`` capped, times a random factor in [0.5, 1.5): Vault's schedule
    (about 10, 20, 40, 80, 160 s) with its ±50 % jitter, so a fleet of failed leases spreads out."""
    base = _setting("STRONGROOM_DYNAMIC_RETRY_BASE_SECONDS", 10)
    cap = _setting("STRONGROOM_DYNAMIC_RETRY_MAX_SECONDS", 3600)
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return min(cap, delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not a secret


def due_filter(now: datetime.datetime) -> Q:
    """Leases a revocation may claim now."""
    return (
        Q(status=LeaseStatus.ACTIVE, expire_at__lte=now)
        | Q(status=LeaseStatus.ACTIVE, revoke_requested_at__isnull=False)
        | Q(status=LeaseStatus.FAILED, next_attempt_at__lte=now)
        | Q(status=LeaseStatus.REVOKING, claimed_until__lt=now)
    )


def _claim(lease_id: int, *, now: datetime.datetime, any_live: bool = False) -> Lease | None:
    """Compare-and-set ``→ revoking``. *any_live*: an explicit request (revoke now, force) may claim
    a lease that is not due yet, or irrevocable; never one another worker holds."""
    due = due_filter(now)
    if any_live:
        due |= Q(status__in=[LeaseStatus.ACTIVE, LeaseStatus.FAILED, LeaseStatus.IRREVOCABLE])
    claimed = (
        Lease.objects.filter(pk=lease_id)
        .filter(due)
        .update(status=LeaseStatus.REVOKING, claimed_until=now + datetime.timedelta(seconds=claim_seconds()))
    )
    if claimed != 1:
        return None
    return Lease.objects.get(pk=lease_id)


def _connections(lease: Lease) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """(config, credentials) to try, in order: the definition's current ones when it still points
    at the same endpoint, then the lease's snapshot."""
    provider = provider_for(lease.provider)
    snapshot = (dict(lease.config_snapshot), open_for_lease(lease))
    secret = DynamicSecret.objects.filter(pk=lease.dynamic_secret_id).first() if lease.dynamic_secret_id else None
    if secret is None or secret.provider != lease.provider:
        return [snapshot]
    if provider.endpoint(secret.config) != provider.endpoint(lease.config_snapshot):
        return [snapshot]
    try:
        current = (dict(secret.config), open_for_secret(secret))
    except CredentialsUnavailable:
        return [snapshot]
    return [current] if current == snapshot else [current, snapshot]


def revoke_remote(lease: Lease) -> str | None:
    """Run the lease's revocation on its target; returns the provider's note, if any (e.g. "nothing
    to revoke"). Raises ProviderError / TargetRefused / CredentialsUnavailable (the first
    connection's error when every one fails)."""
    provider = provider_for(lease.provider)
    errors: list[Exception] = []
    for config, credentials in _connections(lease):
        try:
            target = connect_target(
                provider, organization_id=lease.organization_id_snapshot, config=config, credentials=credentials
            )
            return provider.revoke_user(target, username=lease.username, statements=list(lease.revocation_statements))
        except (ProviderError, TargetRefused) as exc:
            errors.append(exc)
    raise errors[0]


def _secrets_of(lease: Lease) -> list[str]:
    """Strings to scrub from any error text of this lease."""
    values = definition_values(lease)
    try:
        values += list(open_for_lease(lease).values())
    except CredentialsUnavailable:
        pass
    return values


def lease_audit(lease: Lease, action: str, actor: AuditActor, **metadata: Any) -> None:
    """Record *action* on *lease* (ids, username, expiry; never a password)."""
    audit_record(
        action=action,
        actor=actor,
        organization_id=lease.organization_id_snapshot,
        project_id=lease.project_id,
        environment=lease.environment_slug,
        path=lease.path,
        resource_type="lease",
        resource_id=str(lease.public_id),
        metadata={
            "dynamic_secret": lease.dynamic_secret_name,
            "dynamic_secret_id": str(lease.dynamic_secret_public_id),
            "provider": lease.provider,
            "username": lease.username,
            "expire_at": lease.expire_at.isoformat(),
            **metadata,
        },
    )


@dataclass(frozen=True)
class RevokeOutcome:
    status: str  # revoked | failed | irrevocable | not_due
    retry_in: float | None = None


def lease_revoke_execute(
    *, lease_id: int, actor: AuditActor = SYSTEM_ACTOR, reason: str = "expired", any_live: bool = False
) -> RevokeOutcome:
    """Claim and revoke one lease. Idempotent: a lease that is not due, already revoked or held by
    another worker is left alone (``not_due``)."""
    now = timezone.now()
    lease = _claim(lease_id, now=now, any_live=any_live)
    if lease is None:
        return RevokeOutcome("not_due")
    try:
        note = revoke_remote(lease)
    except Exception as exc:  # noqa: BLE001 - every failure is kept on the lease, never lost
        return _record_failure(lease, exc, actor=actor, reason=reason)
    with transaction.atomic():
        done = Lease.objects.filter(pk=lease.pk, status=LeaseStatus.REVOKING).update(
            status=LeaseStatus.REVOKED,
            revoked_at=timezone.now(),
            claimed_until=None,
            last_error="",
            next_attempt_at=None,
        )
        if done:
            lease.refresh_from_db()
            extra = {"note": note} if note else {}
            lease_audit(lease, "lease.revoked", actor, reason=reason, attempts=lease.revoke_attempts + 1, **extra)
    return RevokeOutcome("revoked")


def _record_failure(lease: Lease, exc: BaseException, *, actor: AuditActor, reason: str) -> RevokeOutcome:
    text = failure_text(exc, _secrets_of(lease))
    if not isinstance(exc, ProviderError | TargetRefused | CredentialsUnavailable):
        logger.error("lease %s: revocation failed with %s", lease.public_id, type(exc).__name__)
    attempts = lease.revoke_attempts + 1
    final = attempts >= max_attempts() or isinstance(exc, CredentialsUnavailable) or not getattr(exc, "retryable", True)
    now = timezone.now()
    retry_in = None if final else backoff_seconds(attempts)
    with transaction.atomic():
        updated = Lease.objects.filter(pk=lease.pk, status=LeaseStatus.REVOKING).update(
            status=LeaseStatus.IRREVOCABLE if final else LeaseStatus.FAILED,
            revoke_attempts=attempts,
            last_error=text,
            claimed_until=None,
            next_attempt_at=None if retry_in is None else now + datetime.timedelta(seconds=retry_in),
            dispatched_at=None,
        )
        if not updated:
            return RevokeOutcome("not_due")
        lease.refresh_from_db()
        lease_audit(
            lease,
            "lease.marked_irrevocable" if final else "lease.revoke_failed",
            actor,
            reason=reason,
            error=text,
            attempts=attempts,
        )
        if final:
            transaction.on_commit(lambda: alert_irrevocable(lease.pk))
        elif retry_in is not None:
            send_due = lease.next_attempt_at
            transaction.on_commit(lambda: dispatch(lease.pk, eta=send_due))
    return RevokeOutcome("irrevocable" if final else "failed", retry_in=retry_in)


def alert_irrevocable(lease_id: int) -> None:
    """Tell the project admins once (compare-and-set on ``alerted_at``)."""
    from dynamic.services.notify import notify_irrevocable

    claimed = Lease.objects.filter(pk=lease_id, alerted_at__isnull=True).update(alerted_at=timezone.now())
    if claimed:
        notify_irrevocable(Lease.objects.get(pk=lease_id))


# --- messages -------------------------------------------------------------------------------------


def eta_horizon() -> float:
    return _setting("STRONGROOM_DYNAMIC_ETA_HORIZON_SECONDS", 300)


def lost_after() -> float:
    return _setting("STRONGROOM_DYNAMIC_LOST_SECONDS", 60)


def dispatch(lease_id: int, *, eta: datetime.datetime | None = None) -> None:
    """Send one ``lease_revoke`` message (at *eta*), recording when it is due to run. Only when the
    ETA is within the horizon (a longer one would outlive the broker's visibility timeout and be
    redelivered early): the sweeper sends later ones when they come near. Never raises: a broker
    that is down is the sweeper's problem."""
    from dynamic.tasks import lease_revoke_task

    now = timezone.now()
    run_at = max(eta or now, now)
    if (run_at - now).total_seconds() > eta_horizon():
        return
    Lease.objects.filter(pk=lease_id).update(dispatched_at=run_at)
    options: dict[str, Any] = {"countdown": max(0.0, (run_at - now).total_seconds())}
    queue = getattr(settings, "STRONGROOM_DYNAMIC_QUEUE", "")
    if queue:
        options["queue"] = queue
    try:
        lease_revoke_task.apply_async(args=[lease_id], **options)
    except Exception:  # noqa: BLE001 - the sweeper sends it again
        logger.warning("lease %s: could not send the revocation message; the sweeper will", lease_id)


def schedule_on_commit(lease: Lease) -> None:
    lease_id, eta = lease.pk, lease.expire_at
    transaction.on_commit(lambda: dispatch(lease_id, eta=eta))


def leases_sweep(*, limit: int = 2000) -> dict[str, int]:
    """Beat: send the revocation message of every lease that is due (or will be within the ETA
    horizon) and whose last message is missing or overdue by ``STRONGROOM_DYNAMIC_LOST_SECONDS``."""
    now = timezone.now()
    lost = now - datetime.timedelta(seconds=lost_after())
    not_sent = Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost)
    due = list(
        Lease.objects.filter(due_filter(now))
        .filter(not_sent)
        .order_by("expire_at")
        .values_list("pk", "expire_at")[:limit]
    )
    soon_until = now + datetime.timedelta(seconds=eta_horizon())
    soon = list(
        Lease.objects.filter(status=LeaseStatus.ACTIVE, expire_at__gt=now, expire_at__lte=soon_until)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=now - datetime.timedelta(seconds=eta_horizon())))
        .order_by("expire_at")
        .values_list("pk", "expire_at")[:limit]
    )
    for lease_id, _ in due:
        dispatch(lease_id)
    for lease_id, expire_at in soon:
        dispatch(lease_id, eta=expire_at)
    return {"due": len(due), "scheduled": len(soon)}
