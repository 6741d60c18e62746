"""Notification channels: create, change, delete, test, and their routes. Org admins only (the
interfaces resolve channels through ``notifications.selectors``, which checks that).

Credentials are write-only: validated by the kind, sealed with the root key (AAD bound to the
row), opened only in memory for one send, never returned or logged. Saving new settings tests
them at once (a test message), and the result is shown on the channel.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import AuditActor, audit_record
from notifications.channels.base import ChannelContext, DeliveryError, FinalDeliveryError
from notifications.channels.registry import CHANNELS
from notifications.models import ChannelRoute, ChannelTestStatus, NotificationChannel
from secrets_app.crypto.bindings import channel_aad
from secrets_app.crypto.envelope import DecryptionError
from secrets_app.errors import Conflict, ValidationFailed
from secrets_app.keyring import keyring
from secrets_app.models import Organization, Project
from secrets_app.plugins import PluginFieldError
from secrets_app.principals import Principal

EVENT_PATTERN = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")
KNOWN_EVENT_KINDS = (
    "approvals.change_request",
    "approvals.access_request",
    "syncs.failed",
    "leases.revoke_failed",
    "leases.irrevocable",
    "rotation.failed",
    "rotation.reset_failed",
    "rotation.due",
    "audit.stream_failed",
    "audit.stream_lagging",
)


def _seal(channel: NotificationChannel, credentials: Mapping[str, str]) -> bytes:
    aad = channel_aad(public_id=channel.public_id, organization_id=channel.organization_id, kind=channel.kind)
    return keyring.seal_map_with_root(credentials, aad)


def _open(channel: NotificationChannel) -> dict[str, str]:
    aad = channel_aad(public_id=channel.public_id, organization_id=channel.organization_id, kind=channel.kind)
    try:
        return keyring.open_map_with_root(channel.credentials_ciphertext, aad)
    except DecryptionError:
        # Moved from another row, or sealed under a root key rotated since: enter them again.
        raise FinalDeliveryError(
            f"the credentials of channel {channel.name} cannot be opened; enter them again"
        ) from None


def channel_context(channel: NotificationChannel) -> ChannelContext:
    """The decrypted channel for one send (in memory only)."""
    return ChannelContext(
        id=channel.pk,
        name=channel.name,
        config=dict(channel.config),
        credentials=_open(channel),
        organization_id=channel.organization_id,
    )


def secret_strings(channel: NotificationChannel) -> list[str]:
    """The channel's credential values, to scrub from any text before it is stored."""
    try:
        return [value for value in _open(channel).values() if value]
    except Exception:
        return []


def scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text[:240]


def _validated(
    kind: str, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    channel_kind = CHANNELS.require(kind)
    try:
        return channel_kind.validate(config=config, credentials=credentials)
    except PluginFieldError as exc:
        raise ValidationFailed(exc.field, exc.message) from None


def _audit(principal: Principal | AuditActor, action: str, channel: NotificationChannel, **metadata: Any) -> None:
    actor = principal if isinstance(principal, AuditActor) else principal.audit_actor()
    audit_record(
        action=action,
        actor=actor,
        organization_id=channel.organization_id,
        resource_type="notification_channel",
        resource_id=str(channel.public_id),
        metadata={"name": channel.name, "kind": channel.kind, **metadata},
    )


def _route_rows(channel: NotificationChannel, routes: Sequence[Mapping[str, Any]]) -> list[ChannelRoute]:
    rows = []
    if len(routes) > 50:
        raise ValidationFailed("routes", "at most 50 routes per channel")
    for index, route in enumerate(routes):
        if not isinstance(route, Mapping):
            raise ValidationFailed(f"routes[{index}]", "must be an object")
        project_ref = route.get("project") or None
        project = None
        if project_ref is not None:
            query = Project.objects.filter(organization_id=channel.organization_id)
            project = query.filter(slug=str(project_ref)).first()
            if project is None and re.fullmatch(r"[0-9a-fA-F-]{36}", str(project_ref)):
                project = query.filter(public_id=str(project_ref)).first()
            if project is None:
                raise ValidationFailed(f"routes[{index}].project", "no such project in this organization")
        events = route.get("events")
        if isinstance(events, str):
            events = [part for part in re.split(r"[\s,]+", events) if part]
        if not isinstance(events, list | tuple) or not events:
            raise ValidationFailed(f"routes[{index}].events", "give at least one event kind (e.g. approvals.*)")
        cleaned = []
        for position, event in enumerate(events):
            if not isinstance(event, str) or not EVENT_PATTERN.match(event.strip()):
                raise ValidationFailed(
                    f"routes[{index}].events[{position}]", "an event kind like approvals.change_request, syncs.* or *"
                )
            cleaned.append(event.strip())
        digest = route.get("digest", False)
        if not isinstance(digest, bool):
            raise ValidationFailed(f"routes[{index}].digest", "must be true or false")
        rows.append(ChannelRoute(channel=channel, project=project, event_kinds=sorted(set(cleaned)), digest=digest))
    return rows


def routes_set(*, principal: Principal, channel: NotificationChannel, routes: Sequence[Mapping[str, Any]]) -> None:
    """Replace the channel's routes as a whole. Each route: ``project`` (slug or id; null = every
    project), ``events`` (list of event kinds, prefix matching), ``digest`` (bool)."""
    rows = _route_rows(channel, routes)
    with transaction.atomic():
        channel.routes.all().delete()
        ChannelRoute.objects.bulk_create(rows)
        _audit(principal, "notification_channel.updated", channel, changed=["routes"])


def channel_create(
    *,
    principal: Principal,
    organization: Organization,
    kind: str,
    name: str,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    enabled: bool = True,
    routes: Sequence[Mapping[str, Any]] | None = None,
    test: bool = True,
) -> NotificationChannel:
    """Save a channel (the caller checked the principal administers *organization*) and, when
    *test*, send a test message at once (the outcome is on the channel: ``last_test_status``)."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("name", "this field is required")
    cleaned_config, cleaned_credentials = _validated(kind, config or {}, credentials or {})
    channel = NotificationChannel(
        organization=organization,
        kind=kind,
        name=name[:120],
        config=cleaned_config,
        enabled=enabled,
        credential_names=sorted(cleaned_credentials),
        created_by=principal.user if principal.kind == "user" else None,
    )
    channel.credentials_ciphertext = _seal(channel, cleaned_credentials) if cleaned_credentials else None
    route_rows = _route_rows(channel, routes or [])
    try:
        with transaction.atomic():
            channel.save()
            for row in route_rows:
                row.channel = channel
            ChannelRoute.objects.bulk_create(route_rows)
            _audit(principal, "notification_channel.created", channel, routes=len(route_rows))
    except IntegrityError:
        raise Conflict(f"A channel named '{name}' already exists", fields={"name": ["already exists"]}) from None
    if test:
        channel_test(principal=principal, channel=channel)
    return channel


def channel_update(
    *,
    principal: Principal,
    channel: NotificationChannel,
    name: str | None = None,
    enabled: bool | None = None,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    routes: Sequence[Mapping[str, Any]] | None = None,
    test: bool = True,
) -> NotificationChannel:
    """Rename, enable/disable, change settings or credentials, replace routes. A secret field left
    out (or empty) keeps its stored value; stored values are never read back to the caller. New
    settings or credentials are tested at once."""
    changed: list[str] = []
    if name is not None and name.strip() and name.strip() != channel.name:
        channel.name = name.strip()[:120]
        changed.append("name")
    if enabled is not None and enabled != channel.enabled:
        channel.enabled = enabled
        changed.append("enabled")
    settings_changed = False
    if config is not None or credentials is not None:
        given = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
        stored = _open(channel) if channel.credentials_ciphertext else {}
        merged = {**stored, **given}
        cleaned_config, cleaned_credentials = _validated(
            channel.kind, config if config is not None else channel.config, merged
        )
        channel.config = cleaned_config
        if given:
            channel.credentials_ciphertext = _seal(channel, cleaned_credentials) if cleaned_credentials else None
            channel.credential_names = sorted(cleaned_credentials)
            changed.append("credentials")
        if config is not None:
            changed.append("config")
        settings_changed = True
        channel.last_test_status = ChannelTestStatus.UNTESTED
    route_rows = _route_rows(channel, routes) if routes is not None else None
    try:
        with transaction.atomic():
            channel.save()
            if route_rows is not None:
                channel.routes.all().delete()
                ChannelRoute.objects.bulk_create(route_rows)
                changed.append("routes")
            _audit(principal, "notification_channel.updated", channel, changed=changed)
    except IntegrityError:
        raise Conflict(f"A channel named '{name}' already exists", fields={"name": ["already exists"]}) from None
    if settings_changed and test:
        channel_test(principal=principal, channel=channel)
    return channel


def channel_delete(*, principal: Principal, channel: NotificationChannel) -> None:
    """Delete a channel. Its past deliveries stay (shown as a deleted channel); pending ones are
    skipped."""
    with transaction.atomic():
        _audit(principal, "notification_channel.deleted", channel)
        channel.delete()


def channel_test(*, principal: Principal, channel: NotificationChannel) -> tuple[bool, str]:
    """Send a test message with the stored settings. Returns (ok, safe message) and records the
    outcome on the channel and in the audit log."""
    ok, message = False, ""
    try:
        ctx = channel_context(channel)
        message = CHANNELS.get(channel.kind).test(ctx)
        ok = True
    except DeliveryError as exc:
        message = str(exc)
    except Exception as exc:  # never let SDK text (which may hold a URL with a token) escape
        message = f"the test failed ({type(exc).__name__})"
    message = scrub(message, secret_strings(channel))
    with transaction.atomic():
        NotificationChannel.objects.filter(pk=channel.pk).update(
            last_tested_at=timezone.now(),
            last_test_status=ChannelTestStatus.OK if ok else ChannelTestStatus.FAILED,
            last_test_message=message[:240],
        )
        _audit(principal, "notification_channel.tested", channel, ok=ok)
    channel.refresh_from_db()
    return ok, message
