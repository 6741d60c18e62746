"""Idempotency keys for POST requests (``Idempotency-Key`` header).

The first request with a key *reserves* it (a committed row with ``status_code = 0``) before it
runs, so a concurrent duplicate finds the reservation instead of running the action a second
time. When the action succeeds, the reservation is completed with the response, inside the same
transaction as the action: either both are committed or neither is. A failed action releases the
key so the client may retry with it.

Only responses without secret values or credentials may be stored (the API refuses the header on
endpoints whose response holds a token). Records are forgotten after ``RETENTION``.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from secrets_app.errors import Conflict, DomainError, ValidationFailed
from secrets_app.models import IdempotencyRecord

IN_PROGRESS = 0
RETENTION = datetime.timedelta(hours=24)
# A reservation older than this belongs to a request that died before finishing; it can be taken over.
ABANDONED_AFTER = datetime.timedelta(minutes=5)
# How long a duplicate waits for the first request to finish before answering 409.
WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def idempotency_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """sha256 over method, full path (with query) and the raw body: the same request, byte for byte."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode("utf-8", "surrogatepass"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_key_validate(raw: str) -> str:
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} printable characters")
    return key


def _stored(record: IdempotencyRecord, fingerprint: str) -> StoredResponse | None:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request", fields={"Idempotency-Key": ["reused"]}
        )
    if record.status_code == IN_PROGRESS:
        return None
    return StoredResponse(status_code=record.status_code, body=record.response_body)


def idempotency_begin(*, principal_key: str, key: str, fingerprint: str) -> StoredResponse | IdempotencyRecord:
    """Reserve *key* for this request, or return the stored response of the earlier identical one.

    Returns the reservation (the caller runs the action, then ``idempotency_complete`` or
    ``idempotency_release``) or a ``StoredResponse`` to replay. Raises IdempotencyKeyReused (422)
    when the key was used for a different request, IdempotencyInProgress (409) when an identical
    request is still running after ``WAIT_SECONDS``.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        now = timezone.now()
        IdempotencyRecord.objects.filter(principal=principal_key, key=key, created_at__lt=now - RETENTION).delete()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    principal=principal_key, key=key, request_fingerprint=fingerprint, status_code=IN_PROGRESS
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(principal=principal_key, key=key).first()
        if record is None:
            continue  # released or expired between our insert and our read: try again
        stored = _stored(record, fingerprint)
        if stored is not None:
            return stored
        if record.created_at < now - ABANDONED_AFTER:
            # Compare-and-set: only one duplicate takes the abandoned reservation over.
            taken = IdempotencyRecord.objects.filter(
                pk=record.pk, status_code=IN_PROGRESS, created_at=record.created_at
            ).update(created_at=now)
            if taken == 1:
                record.created_at = now
                return record
        if time.monotonic() >= deadline:
            raise IdempotencyInProgress(
                "A request with this Idempotency-Key is still being processed; retry later",
                fields={"Idempotency-Key": ["in progress"]},
            )
        time.sleep(POLL_SECONDS)


def idempotency_complete(*, record: IdempotencyRecord, status_code: int, body: Any) -> None:
    """Store the response; call inside the transaction of the action (both commit or neither)."""
    record.status_code = status_code
    record.response_body = body
    record.save(update_fields=["status_code", "response_body"])


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a reservation whose request failed, so the key can be retried."""
    IdempotencyRecord.objects.filter(pk=record.pk, status_code=IN_PROGRESS).delete()


def idempotency_purge_expired() -> int:
    """Delete records past ``RETENTION``; returns how many. Safe to run at any time."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
