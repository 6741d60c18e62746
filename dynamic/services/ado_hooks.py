"""The Azure DevOps ``run-state-changed`` service hook: configuring its receiver (organization
admins) and receiving events (ado-governance.md §2).

Azure DevOps signs nothing: a subscription authenticates with Basic credentials and, optionally,
an extra header (both ours, sealed at rest, compared in constant time). An event is accepted only
when all of these hold, in this order:

1. the hook exists and the Basic credentials (and the extra header, when configured) match —
   otherwise 401, audited as ``ado_hook.auth_failed`` (never with what was sent);
2. ``eventType`` is ``ms.vss-pipelines.run-state-changed-event`` and the body has the documented
   shape (``id``, ``createdDate``, ``resourceContainers.account.id``/``project.id``,
   ``resource.run.id``/``state``) — otherwise 400;
3. ``resourceContainers.account.id`` is the hook's account, and the project is one the hook
   accepts — otherwise 403, audited as ``ado_hook.event_refused``;
4. ``createdDate`` is at most ``STRONGROOM_ADO_HOOK_MAX_AGE_SECONDS`` (10 min) old and not in the
   future beyond a minute's clock skew — otherwise 400, audited (a captured request replayed later);
5. the event id was not seen before for this hook (a replay answers 200 and does nothing).

A completed run ends every live lease of that run in the hook's organization (``ado_runs``).
"""

from __future__ import annotations

import datetime
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import Outcome
from audit.services import ANONYMOUS_ACTOR, SYSTEM_ACTOR, audit_record
from dynamic.models import AdoHookEvent, AdoRunHook
from dynamic.services.ado_runs import COMPLETED, new_hook_username, run_leases, run_leases_mark, run_leases_revoke
from secrets_app.crypto.bindings import ado_run_hook_aad
from secrets_app.errors import DomainError, NotFound, ValidationFailed
from secrets_app.http_basic import basic_credentials
from secrets_app.keyring import keyring
from secrets_app.models import Organization
from secrets_app.principals import Principal
from secrets_app.selectors.access import org_admin_require

EVENT_TYPE = "ms.vss-pipelines.run-state-changed-event"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")
CLOCK_SKEW_SECONDS = 60


class HookUnauthorized(DomainError):
    status = 401
    code = "unauthorized"


class HookRefused(DomainError):
    status = 403
    code = "permission_denied"


@dataclass(frozen=True)
class HookSecrets:
    password: str
    header_value: str = ""

    def __repr__(self) -> str:
        return "HookSecrets(***)"


def _aad(hook: AdoRunHook) -> bytes:
    return ado_run_hook_aad(public_id=hook.public_id, organization_id=hook.organization_id)


def _seal(hook: AdoRunHook, values: HookSecrets) -> bytes:
    payload = json.dumps({"password": values.password, "header_value": values.header_value}).encode()
    return keyring.seal_with_root(payload, _aad(hook))


def _open(hook: AdoRunHook) -> HookSecrets:
    data = json.loads(keyring.open_with_root(bytes(hook.secrets_ciphertext), _aad(hook)))
    return HookSecrets(password=str(data.get("password", "")), header_value=str(data.get("header_value", "")))


def max_age_seconds() -> float:
    return float(getattr(settings, "STRONGROOM_ADO_HOOK_MAX_AGE_SECONDS", 600))


# --- configuration ---------------------------------------------------------------------------------


def _require_admin(principal: Principal, organization: Organization, action: str) -> None:
    org_admin_require(
        principal,
        organization.pk,
        requested_action=action,
        resource_type="ado_run_hook",
        message="Only organization admins may configure the Azure DevOps run hook",
    )


def _guid(field: str, value: Any) -> str:
    text = str(value or "").strip().lower()
    if not _GUID.match(text):
        raise ValidationFailed(field, "must be a GUID")
    return text


def ado_run_hook_save(
    *,
    principal: Principal,
    organization: Organization,
    connection_id: str,
    account_id: str,
    project_ids: list[str] | None = None,
    password: str | None = None,
    header_name: str = "",
    header_value: str = "",
) -> tuple[AdoRunHook, str | None]:
    """Create or replace the hook of one of the organization's Azure DevOps connections. Returns
    the hook and, when this call chose it, the generated password (shown once). A password given
    by the caller must be at least 24 characters; a header name needs a value and vice versa."""
    from syncs.models import AppConnection, ConnectionKind

    _require_admin(principal, organization, "ado_run_hook.manage")
    connection = AppConnection.objects.filter(
        organization=organization, kind=ConnectionKind.AZURE_DEVOPS, public_id=_uuid_or_none(connection_id)
    ).first()
    if connection is None:
        raise ValidationFailed("connection", "no Azure DevOps connection of this organization has that id")
    account = _guid("accountId", account_id)
    projects = sorted({_guid(f"projectIds[{i}]", p) for i, p in enumerate(project_ids or [])})
    generated = None
    if password is None or password == "":
        generated = password = secrets.token_urlsafe(32)
    elif len(password) < 24:
        raise ValidationFailed("password", "must be at least 24 characters (or leave it out to have one generated)")
    header_name = (header_name or "").strip()
    if bool(header_name) != bool(header_value):
        raise ValidationFailed("headerName", "a header needs both a name and a value")
    if header_name and (not _HEADER_NAME.match(header_name) or header_name.lower() == "authorization"):
        raise ValidationFailed("headerName", "letters, digits and dashes; not Authorization")
    with transaction.atomic():
        hook = AdoRunHook.objects.select_for_update().filter(connection=connection).first()
        created = hook is None
        if hook is None:
            hook = AdoRunHook(organization=organization, connection=connection, username=new_hook_username())
        hook.account_id = account
        hook.project_ids = projects
        hook.header_name = header_name
        hook.secrets_ciphertext = _seal(hook, HookSecrets(password=password, header_value=header_value or ""))
        hook.save()
        audit_record(
            action="ado_run_hook.created" if created else "ado_run_hook.updated",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="ado_run_hook",
            resource_id=str(hook.public_id),
            metadata={
                "connection": connection.name,
                "account_id": account,
                "project_ids": projects,
                "header_name": header_name,
                "password_generated": generated is not None,
            },
        )
    return hook, generated


def _uuid_or_none(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def ado_run_hook_list(*, principal: Principal, organization: Organization) -> list[AdoRunHook]:
    _require_admin(principal, organization, "ado_run_hook.read")
    return list(AdoRunHook.objects.filter(organization=organization).select_related("connection").order_by("id"))


def ado_run_hook_get(*, principal: Principal, organization: Organization, hook_id: str) -> AdoRunHook:
    _require_admin(principal, organization, "ado_run_hook.read")
    hook = (
        AdoRunHook.objects.filter(organization=organization, public_id=_uuid_or_none(hook_id))
        .select_related("connection")
        .first()
    )
    if hook is None:
        raise NotFound("Hook not found")
    return hook


def ado_run_hook_delete(*, principal: Principal, organization: Organization, hook_id: str) -> None:
    hook = ado_run_hook_get(principal=principal, organization=organization, hook_id=hook_id)
    with transaction.atomic():
        audit_record(
            action="ado_run_hook.deleted",
            actor=principal.audit_actor(),
            organization_id=organization.pk,
            resource_type="ado_run_hook",
            resource_id=str(hook.public_id),
            metadata={"connection": hook.connection.name},
        )
        hook.delete()


# --- receiving -------------------------------------------------------------------------------------


def _auth_failed(hook: AdoRunHook | None, hook_id: str, reason: str) -> HookUnauthorized:
    with transaction.atomic():
        audit_record(
            action="ado_hook.auth_failed",
            actor=ANONYMOUS_ACTOR,
            outcome=Outcome.DENY,
            organization_id=hook.organization_id if hook is not None else None,
            resource_type="ado_run_hook",
            resource_id=str(hook.public_id) if hook is not None else str(hook_id)[:64],
            metadata={"reason": reason},
        )
    return HookUnauthorized("Authentication failed")


def _refused(hook: AdoRunHook, reason: str, event_id: str, error: DomainError) -> DomainError:
    with transaction.atomic():
        audit_record(
            action="ado_hook.event_refused",
            actor=SYSTEM_ACTOR,
            outcome=Outcome.DENY,
            organization_id=hook.organization_id,
            resource_type="ado_run_hook",
            resource_id=str(hook.public_id),
            metadata={"reason": reason, "event_id": event_id[:64]},
        )
    return error


def hook_authenticate(*, hook_id: str, authorization: str, headers: dict[str, str]) -> AdoRunHook:
    """The hook whose credentials the request carries; HookUnauthorized (audited) otherwise.
    Both comparisons always run, in constant time, so a wrong user and a wrong password look alike."""
    hook = AdoRunHook.objects.filter(public_id=_uuid_or_none(hook_id)).first()
    if hook is None:
        raise _auth_failed(None, hook_id, "unknown hook")
    sent = basic_credentials(authorization or "")
    if sent is None:
        raise _auth_failed(hook, hook_id, "no Basic credentials")
    stored = _open(hook)
    user_ok = hmac.compare_digest(sent[0].encode(), hook.username.encode())
    password_ok = hmac.compare_digest(sent[1].encode(), stored.password.encode())
    if not (user_ok and password_ok):
        raise _auth_failed(hook, hook_id, "wrong username or password")
    if hook.header_name:
        value = headers.get(hook.header_name.lower(), "")
        if not hmac.compare_digest(value.encode(), stored.header_value.encode()):
            raise _auth_failed(hook, hook_id, f"missing or wrong {hook.header_name} header")
    return hook


def _event_fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed("body", "must be a JSON object")
    if body.get("eventType") != EVENT_TYPE:
        raise ValidationFailed("eventType", f"must be {EVENT_TYPE}")
    event_id = str(body.get("id") or "").strip()
    if not event_id or len(event_id) > 64:
        raise ValidationFailed("id", "required (the event GUID)")
    created = parse_datetime(str(body.get("createdDate") or ""))
    if created is None:
        raise ValidationFailed("createdDate", "required (ISO 8601)")
    if timezone.is_naive(created):
        created = timezone.make_aware(created, datetime.UTC)
    containers = body.get("resourceContainers") or {}
    account_id = str(((containers.get("account") or {}).get("id")) or "").lower()
    collection_id = str(((containers.get("collection") or {}).get("id")) or "").lower()
    project_id = str(((containers.get("project") or {}).get("id")) or "").lower()
    run = ((body.get("resource") or {}).get("run")) or {}
    run_id = run.get("id")
    if not _GUID.match(account_id) or not _GUID.match(project_id):
        raise ValidationFailed("resourceContainers", "account.id and project.id are required")
    if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id <= 0:
        raise ValidationFailed("resource.run.id", "required (the build id)")
    return {
        "event_id": event_id,
        "created": created,
        "account_id": account_id,
        "collection_id": collection_id if _GUID.match(collection_id) else "",
        "project_id": project_id,
        "run_id": run_id,
        "state": str(run.get("state") or "")[:16],
        "result": str(run.get("result") or "")[:16],
    }


@dataclass(frozen=True)
class HookOutcome:
    status: str  # accepted | replay | ignored
    leases: int = 0
    revoked: int = 0


def ado_run_state_receive(*, hook_id: str, authorization: str, headers: dict[str, str], body: Any) -> HookOutcome:
    """Accept one ``run-state-changed`` event (see the module docstring for the checks and their
    answers). Idempotent by event id."""
    hook = hook_authenticate(hook_id=hook_id, authorization=authorization, headers=headers)
    event = _event_fields(body)
    event_id = event["event_id"]
    if event["account_id"] != hook.account_id:
        raise _refused(hook, "another Azure DevOps organization", event_id, HookRefused("Unknown account"))
    if hook.project_ids and event["project_id"] not in hook.project_ids:
        raise _refused(hook, "a project this hook does not accept", event_id, HookRefused("Unknown project"))
    now = timezone.now()
    age = (now - event["created"]).total_seconds()
    if age > max_age_seconds() or age < -CLOCK_SKEW_SECONDS:
        raise _refused(
            hook,
            "stale event" if age > 0 else "event from the future",
            event_id,
            ValidationFailed("createdDate", "the event is too old (more than 10 minutes) or in the future"),
        )
    reason = f"the Azure DevOps run ended ({event['result'] or event['state']}; service hook)"
    try:
        with transaction.atomic():
            AdoHookEvent.objects.create(
                hook=hook,
                event_id=event_id,
                project_id=event["project_id"],
                build_id=event["run_id"],
                state=event["state"],
            )
            AdoRunHook.objects.filter(pk=hook.pk).update(last_event_at=now)
            if event["state"] != COMPLETED:
                return HookOutcome("ignored")
            leases = run_leases(
                organization_id=hook.organization_id,
                project_id=event["project_id"],
                build_id=event["run_id"],
                account_ids=[event["account_id"], event["collection_id"]],
                connection_id=hook.connection_id,
            )
            marked = run_leases_mark(
                lease_ids=list(leases.values_list("pk", flat=True)), state=COMPLETED, reason=reason
            )
    except IntegrityError:
        return HookOutcome("replay")
    revoked = run_leases_revoke(lease_ids=marked, reason=reason)
    return HookOutcome("accepted", leases=len(marked), revoked=revoked)


def ado_hook_events_prune(*, older_than_seconds: float = 86400) -> int:
    """Forget event ids older than a day (older events are refused as stale anyway)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than_seconds)
    deleted, _ = AdoHookEvent.objects.filter(received_at__lt=cutoff).delete()
    return deleted
