"""Audit streams: create, change, delete, pause, resume, replay and test. Org admins only: every
function here checks (``streams_admin_require``), so no interface can forget it.

- Credentials are write-only: validated by the kind, sealed with the root key bound to the row
  (``audit.streams.credentials``), opened only in memory for a send or a test, never returned or
  logged. On update a secret field left out or empty keeps its stored value.
- Destinations pass the outbound guard when saved (every field the kind lists in ``url_fields``).
- New settings are proved before they are kept, as Infisical does: a test event is sent first and
  a failure refuses the save with the reason (:class:`StreamTestFailed`), unless the caller asks
  for ``test=False`` (a destination that is down for maintenance, say).
- Every change records ``audit_stream.<verb>`` with names and ids, never a credential value.

Positions: a stream's ``cursor_event_id`` says every event of the organization up to it was
delivered or parked. A new stream starts at the current end of the log by default (after the
organization's newest *sealed* event: an event with a lower id may still be committing until the
sealer has passed it, so the sealed boundary is the newest point that skips nothing), or at the
beginning (cursor 0) when asked. Replay moves the cursor back (never forward: that would skip events).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, Min
from django.utils import timezone

from audit.models import AuditEvent, Outcome, chain_of
from audit.sealing import audit_chain_head, audit_sealed_through
from audit.services import audit_record
from audit.streams.base import ChainHead, StreamContext, StreamError, StreamKind
from audit.streams.credentials import (
    stream_context,
    stream_open_credentials,
    stream_scrub,
    stream_seal_credentials,
    stream_secret_strings,
)
from audit.streams.models import AuditStream, ParkedAuditEvent, StreamState, StreamTestStatus
from audit.streams.registry import STREAM_KINDS
from audit.streams.selectors import streams_admin_require
from secrets_app import outbound
from secrets_app.errors import Conflict, DomainError, ValidationFailed
from secrets_app.models import Organization
from secrets_app.plugins import PluginError, PluginFieldError
from secrets_app.principals import Principal

START_AT_END = "end"
START_AT_BEGINNING = "beginning"
START_CHOICES = (START_AT_END, START_AT_BEGINNING)
LAG_ALERT_MIN_SECONDS = 60
LAG_ALERT_MAX_SECONDS = 7 * 24 * 3600


class StreamTestFailed(DomainError):
    """The test event of new settings was refused: nothing was saved. ``str()`` is safe to show."""

    status = 400
    code = "stream_test_failed"


# --- helpers -----------------------------------------------------------------------------------------


def _kind(kind: str) -> StreamKind:
    return STREAM_KINDS.require(kind)


def _validated(
    kind: StreamKind, config: Mapping[str, Any], credentials: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The kind's cleaned (config, credentials), every destination field through the outbound
    guard. ValidationFailed names the field (``config.url``), never echoing a value."""
    try:
        cleaned_config, cleaned_credentials = kind.validate(config=config, credentials=credentials)
    except PluginFieldError as exc:
        raise ValidationFailed(exc.field, exc.message) from None
    except PluginError as exc:
        raise ValidationFailed("config", str(exc)) from None
    for name in kind.url_fields:
        declared = kind.field(name)
        value = (cleaned_credentials if declared.secret else cleaned_config).get(name)
        if not value:
            continue
        text = str(value).strip()
        # A host (syslog) is checked as the https URL it would be: same name and address rules.
        url = text if "://" in text else f"https://{text}/"
        try:
            outbound.check_url(url, unresolvable_ok=True)
        except outbound.OutboundRefused as refusal:
            # The reason names the host at most, never a path or query (which may hold a key).
            raise ValidationFailed(f"{declared.group}.{name}", refusal.reason) from None
    return cleaned_config, cleaned_credentials


def _name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValidationFailed("name", "this field is required")
    if len(cleaned) > 120:
        raise ValidationFailed("name", "must be at most 120 characters")
    return cleaned


def _lag_alert(seconds: Any) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValidationFailed("lagAlertSeconds", "must be a whole number of seconds")
    if not LAG_ALERT_MIN_SECONDS <= seconds <= LAG_ALERT_MAX_SECONDS:
        raise ValidationFailed(
            "lagAlertSeconds", f"must be between {LAG_ALERT_MIN_SECONDS} and {LAG_ALERT_MAX_SECONDS} seconds"
        )
    return seconds


def _audit(
    principal: Principal, action: str, stream: AuditStream, *, outcome: str = Outcome.ALLOW, **metadata: Any
) -> None:
    audit_record(
        action=action,
        actor=principal.audit_actor(),
        outcome=outcome,
        organization_id=stream.organization_id,
        resource_type="audit_stream",
        resource_id=str(stream.public_id) if stream.pk else "",
        metadata={"name": stream.name, "kind": stream.kind, **metadata},
    )


def _chain_head(organization_id: int) -> ChainHead | None:
    block = audit_chain_head(chain_of(organization_id))
    return ChainHead(sequence=block.sequence, block_hash=block.block_hash) if block else None


def _send_test(kind: StreamKind, ctx: StreamContext, secrets: list[str]) -> tuple[bool, str]:
    """(ok, safe message) of one test event."""
    try:
        kind.test(ctx, head=_chain_head(ctx.organization_id))
    except StreamError as exc:
        return False, stream_scrub(str(exc) or type(exc).__name__, secrets)
    except outbound.OutboundRefused as refusal:
        return False, stream_scrub(str(refusal), secrets)
    except Exception as exc:  # never let SDK text (which may hold a URL with a key) escape
        cause = outbound.refusal_in(exc)
        if cause is not None:
            return False, stream_scrub(str(cause), secrets)
        return False, f"the test failed ({type(exc).__name__})"
    return True, "test event accepted"


def _prove(principal: Principal, stream: AuditStream, kind: StreamKind, credentials: Mapping[str, str]) -> str:
    """Send a test event with settings not saved yet; StreamTestFailed (recorded as a failed
    ``audit_stream.tested``) when the destination refuses it. Returns the success message."""
    ctx = StreamContext(
        id=stream.pk,
        name=stream.name,
        organization_id=stream.organization_id,
        config=dict(stream.config),
        credentials=dict(credentials),
    )
    ok, message = _send_test(kind, ctx, [value for value in credentials.values() if value])
    if not ok:
        with transaction.atomic():
            _audit(principal, "audit_stream.tested", stream, outcome=Outcome.ERROR, ok=False, saved=False)
        raise StreamTestFailed(
            f"The test event to {stream.name} failed: {message}. Nothing was saved: fix the settings, "
            "or save without sending a test event."
        )
    return message


def _start_cursor(organization_id: int, start: str) -> int:
    if start == START_AT_BEGINNING:
        return 0
    if start != START_AT_END:
        raise ValidationFailed("start", f"must be one of {', '.join(START_CHOICES)}")
    newest = AuditEvent.objects.filter(organization_id=organization_id, id__lte=audit_sealed_through()).aggregate(
        newest=Max("id")
    )["newest"]
    return int(newest or 0)


def _name_conflict(name: str) -> Conflict:
    return Conflict(f"An audit stream named '{name}' already exists", fields={"name": ["already exists"]})


# --- services ----------------------------------------------------------------------------------------


def stream_create(
    *,
    principal: Principal,
    organization: Organization,
    kind: str,
    name: str,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    lag_alert_seconds: int = 900,
    start: str = START_AT_END,
    test: bool = True,
) -> AuditStream:
    """Add a stream to *organization*. *start*: ``end`` (default: only events from now on) or
    ``beginning`` (every retained event). With *test* (default) a test event is sent first and a
    refusal raises StreamTestFailed with nothing saved."""
    streams_admin_require(principal, organization)
    plugin = _kind(kind)
    cleaned_name = _name(name)
    cleaned_config, cleaned_credentials = _validated(plugin, config or {}, credentials or {})
    stream = AuditStream(
        organization=organization,
        kind=kind,
        name=cleaned_name,
        config=cleaned_config,
        credential_names=sorted(cleaned_credentials),
        lag_alert_seconds=_lag_alert(lag_alert_seconds),
        created_by=principal.user if principal.is_user else None,
    )
    if start not in START_CHOICES:
        raise ValidationFailed("start", f"must be one of {', '.join(START_CHOICES)}")
    if AuditStream.objects.filter(organization=organization, name=cleaned_name).exists():
        raise _name_conflict(cleaned_name)
    message = _prove(principal, stream, plugin, cleaned_credentials) if test else ""
    stream.credentials_ciphertext = (
        stream_seal_credentials(stream, cleaned_credentials) if cleaned_credentials else None
    )
    if test:
        stream.last_tested_at = timezone.now()
        stream.last_test_status = StreamTestStatus.OK
        stream.last_test_message = message
    try:
        with transaction.atomic():
            stream.cursor_event_id = _start_cursor(organization.pk, start)
            stream.save()
            _audit(
                principal,
                "audit_stream.created",
                stream,
                start=start,
                cursor_event_id=stream.cursor_event_id,
                credential_names=stream.credential_names,
            )
            if test:
                _audit(principal, "audit_stream.tested", stream, ok=True)
    except IntegrityError:
        raise _name_conflict(cleaned_name) from None
    return stream


def stream_update(
    *,
    principal: Principal,
    stream: AuditStream,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    credentials: Mapping[str, Any] | None = None,
    lag_alert_seconds: int | None = None,
    test: bool = True,
) -> AuditStream:
    """Rename, change settings (*config* replaces them as a whole), replace secret fields (one left
    out or empty keeps its stored value) or the lag alert threshold. New settings or credentials
    are tested first (StreamTestFailed: nothing saved) unless *test* is False; the stream keeps its
    position either way."""
    streams_admin_require(principal, stream.organization)
    plugin = _kind(stream.kind)
    changed: list[str] = []
    if name is not None:
        cleaned_name = _name(name)
        if cleaned_name != stream.name:
            if AuditStream.objects.filter(organization_id=stream.organization_id, name=cleaned_name).exists():
                raise _name_conflict(cleaned_name)
            stream.name = cleaned_name
            changed.append("name")
    if lag_alert_seconds is not None and _lag_alert(lag_alert_seconds) != stream.lag_alert_seconds:
        stream.lag_alert_seconds = lag_alert_seconds
        changed.append("lag_alert_seconds")
    given = {key: value for key, value in (credentials or {}).items() if value not in (None, "")}
    settings_changed = config is not None or bool(given)
    cleaned_credentials: dict[str, str] = {}
    if settings_changed:
        # Stored values are opened only when some secret field is kept (a stream whose sealed
        # credentials no longer open, after a root key change, can be fixed by entering them all).
        kept = {declared.name for declared in plugin.secret_fields} - set(given)
        try:
            stored = stream_open_credentials(stream) if stream.credentials_ciphertext and kept else {}
        except StreamError:
            raise ValidationFailed(
                "credentials", "the stored credentials cannot be opened; enter them all again"
            ) from None
        merged = {**{key: value for key, value in stored.items() if key in kept}, **given}
        cleaned_config, cleaned_credentials = _validated(
            plugin, config if config is not None else stream.config, merged
        )
        if cleaned_config != stream.config:
            changed.append("config")
        stream.config = cleaned_config
        if given:
            changed.append("credentials")
    message = ""
    if settings_changed and test:
        message = _prove(principal, stream, plugin, cleaned_credentials)
    if given:
        stream.credentials_ciphertext = (
            stream_seal_credentials(stream, cleaned_credentials) if cleaned_credentials else None
        )
        stream.credential_names = sorted(cleaned_credentials)
    if settings_changed:
        stream.last_tested_at = timezone.now() if test else stream.last_tested_at
        stream.last_test_status = StreamTestStatus.OK if test else StreamTestStatus.UNTESTED
        stream.last_test_message = message if test else ""
        # New settings deserve an attempt now, not at the end of a backoff earned by the old ones.
        stream.next_attempt_at = None
    # Only what an admin edits: the cursor, lease, counters and alert state belong to the delivery
    # engine, and this instance was loaded before the (slow) test send, so they may be stale.
    fields = ["name", "lag_alert_seconds", "config", "credentials_ciphertext", "credential_names", "updated_at"]
    if settings_changed:
        fields += ["last_tested_at", "last_test_status", "last_test_message", "next_attempt_at"]
    try:
        with transaction.atomic():
            stream.save(update_fields=fields)
            _audit(principal, "audit_stream.updated", stream, changed=changed)
            if settings_changed and test:
                _audit(principal, "audit_stream.tested", stream, ok=True)
    except IntegrityError:
        raise _name_conflict(stream.name) from None
    return stream


def stream_delete(*, principal: Principal, stream: AuditStream) -> None:
    """Delete a stream and its parked events. The destination keeps what it received."""
    streams_admin_require(principal, stream.organization)
    with transaction.atomic():
        _audit(principal, "audit_stream.deleted", stream, cursor_event_id=stream.cursor_event_id)
        stream.delete()


def _set_state(principal: Principal, stream: AuditStream, state: str, action: str) -> AuditStream:
    streams_admin_require(principal, stream.organization)
    with transaction.atomic():
        locked = AuditStream.objects.select_for_update().get(pk=stream.pk)
        if locked.state == state:
            return locked  # idempotent: nothing changed, nothing recorded
        locked.state = state
        fields = ["state", "updated_at"]
        if state == StreamState.ACTIVE:
            # Resume means "try now", not after a backoff that ran while it was paused.
            locked.next_attempt_at = None
            fields.append("next_attempt_at")
        locked.save(update_fields=fields)
        _audit(principal, action, locked, cursor_event_id=locked.cursor_event_id)
    return locked


def stream_pause(*, principal: Principal, stream: AuditStream) -> AuditStream:
    """Stop delivering (the cursor stays; events keep accumulating as lag). Idempotent."""
    return _set_state(principal, stream, StreamState.PAUSED, "audit_stream.paused")


def stream_resume(*, principal: Principal, stream: AuditStream) -> AuditStream:
    """Deliver again from where the stream stopped, at once (any backoff is cleared). Idempotent."""
    return _set_state(principal, stream, StreamState.ACTIVE, "audit_stream.resumed")


def stream_replay(
    *,
    principal: Principal,
    stream: AuditStream,
    from_event_id: int | None = None,
    since: datetime | None = None,
) -> AuditStream:
    """Deliver again from a point: the first event of the organization with an id at or after
    *from_event_id*, or that occurred at or after *since* (give exactly one). The cursor goes to just
    before it, backoff and failure counts are cleared, and parked events at or after it are removed
    so they are tried again. The destination receives duplicates of what it had (each event
    carries its id for de-duplication).

    Replay only moves back: a point after the stream's position is refused when events lie in
    between (moving forward would skip them). A point with no event at or after it, or none
    between the position and it, leaves the cursor where it is."""
    streams_admin_require(principal, stream.organization)
    if (from_event_id is None) == (since is None):
        raise ValidationFailed("fromEventId", "give either fromEventId or since")
    events = AuditEvent.objects.filter(organization_id=stream.organization_id)
    if from_event_id is not None:
        if isinstance(from_event_id, bool) or not isinstance(from_event_id, int) or from_event_id < 1:
            raise ValidationFailed("fromEventId", "must be a positive event id")
        field, first = "fromEventId", events.filter(id__gte=from_event_id).aggregate(first=Min("id"))["first"]
    else:
        assert since is not None
        if timezone.is_naive(since):
            raise ValidationFailed("since", "must include a time zone (e.g. 2025-01-31T09:00:00Z)")
        # Ids and times agree only roughly (commits interleave): replay from the first id whose
        # event happened at or after *since*; anything later by id goes out again too.
        field, first = "since", events.filter(occurred_at__gte=since).aggregate(first=Min("id"))["first"]
    with transaction.atomic():
        locked = AuditStream.objects.select_for_update().get(pk=stream.pk)
        new_cursor = int(first) - 1 if first is not None else locked.cursor_event_id
        if (
            new_cursor > locked.cursor_event_id
            and not events.filter(id__gt=locked.cursor_event_id, id__lte=new_cursor).exists()
        ):
            new_cursor = locked.cursor_event_id  # nothing lies in between: the stream is there already
        if new_cursor > locked.cursor_event_id:
            raise ValidationFailed(
                field,
                f"is after the stream's position (event {locked.cursor_event_id}): replay only goes back; "
                "later events are delivered anyway",
            )
        previous = locked.cursor_event_id
        released, _ = ParkedAuditEvent.objects.filter(stream=locked, event_id__gt=new_cursor).delete()
        locked.cursor_event_id = new_cursor
        locked.consecutive_failures = 0
        locked.next_attempt_at = None
        locked.parked_count = max(0, locked.parked_count - released)
        # A delivery run in flight holds the lease: taking it away means that run can no longer move
        # the cursor past the replay point when its batch completes (audit.streams.delivery).
        locked.claim_token = ""
        locked.claimed_until = None
        locked.save(
            update_fields=[
                "cursor_event_id",
                "consecutive_failures",
                "next_attempt_at",
                "parked_count",
                "claim_token",
                "claimed_until",
                "updated_at",
            ]
        )
        _audit(
            principal,
            "audit_stream.replayed",
            locked,
            from_event_id=from_event_id,
            since=since.isoformat() if since else None,
            cursor_event_id=new_cursor,
            previous_cursor_event_id=previous,
            parked_released=released,
        )
    return locked


def stream_test(*, principal: Principal, stream: AuditStream) -> tuple[bool, str]:
    """Send a test event with the stored settings ("send test event"). Returns (ok, safe message)
    and records the outcome on the stream (``last_test_*``) and in the audit log."""
    streams_admin_require(principal, stream.organization)
    secrets = stream_secret_strings(stream)
    try:
        ctx = stream_context(stream)
    except StreamError as exc:
        ok, message = False, stream_scrub(str(exc), secrets)
    else:
        ok, message = _send_test(_kind(stream.kind), ctx, secrets)
    with transaction.atomic():
        AuditStream.objects.filter(pk=stream.pk).update(
            last_tested_at=timezone.now(),
            last_test_status=StreamTestStatus.OK if ok else StreamTestStatus.FAILED,
            last_test_message=message[:240],
        )
        _audit(principal, "audit_stream.tested", stream, outcome=Outcome.ALLOW if ok else Outcome.ERROR, ok=ok)
    stream.refresh_from_db()
    return ok, message
