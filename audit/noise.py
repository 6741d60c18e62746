"""Denial de-duplication: a refusal repeated by the same actor is recorded once per window, then
summarised with a count (docs/audit.md, "Noise").

The audit table stays append-only: nothing here updates a row. The repeats are counted **outside
it**, in the shared Django cache (``STRONGROOM_AUDIT_DENIAL_CACHE``, Redis in production), with
``add`` + ``incr``, which are atomic there, so every worker and web node counts into one window.

A denial's identity is every field of the event it would write: actor (type, id, label, role),
organization, project, environment, path, resource, metadata (requested action, reasons) and the
client address. Anything different, including the same request from another address, is a
different denial and is written.

- The first denial of a window is written (in its own committed INSERT, as before).
- A repeat inside ``STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS`` (60) of the first is only counted;
  the first repeat also files the window under the 10 s bucket of its end (the flush index).
- The summary ``permission.denied_repeated`` (outcome ``deny``, the first denial's fields,
  ``metadata.suppressed_repeats`` / ``suppressed_from`` / ``suppressed_until``) is written by
  whoever claims the ended window first: the next identical denial (before its own row), or the
  beat task ``audit.tasks.audit_denials_flush``. The claim is a ``cache.add`` of a claim key, so
  exactly one claimer writes it, however many flushers and requests race.

Fail open toward the log: when the cache cannot be reached every denial is written. A denial
recorded inside a database transaction is always written too: that transaction could still roll
back, and a window started for a row that never commits would hide the repeats' record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connection

from audit.context import current_request_context
from audit.models import AuditEvent, Outcome
from audit.services import AuditActor, audit_record

logger = logging.getLogger("strongroom.audit.noise")

DENIED = "permission.denied"
REPEATED = "permission.denied_repeated"
BUCKET_SECONDS = 10
# A window is claimed this long after its end, so a repeat that read the window just before the
# end and is about to increment its count is not left out of the summary.
CLAIM_GRACE_SECONDS = 1.0
# How long counts and index entries outlive their window: a summary survives a beat outage this long.
KEEP_SECONDS = 3600


def denial_window_seconds() -> float:
    """0 or less turns de-duplication off (every denial written)."""
    return float(getattr(settings, "STRONGROOM_AUDIT_DENIAL_WINDOW_SECONDS", 60))


def _store() -> BaseCache:
    return caches[getattr(settings, "STRONGROOM_AUDIT_DENIAL_CACHE", "default")]


def _prefix() -> str:
    return str(getattr(settings, "STRONGROOM_AUDIT_DENIAL_KEY_PREFIX", "strongroom:audit:denial"))


def audit_denial_record(
    *,
    actor: AuditActor,
    organization_id: int | None = None,
    project_id: int | None = None,
    environment: str = "",
    path: str = "",
    resource_type: str = "",
    resource_id: str | int = "",
    metadata: dict[str, Any] | None = None,
) -> AuditEvent | None:
    """Record a ``permission.denied`` event, unless it repeats one recorded in the current window
    (then count it and return None). Raises AuditWriteError like ``audit_record``."""
    fields: dict[str, Any] = {
        "actor": [actor.type, str(actor.id), actor.label, actor.role],
        "organization_id": organization_id,
        "project_id": project_id,
        "environment": environment,
        "path": path,
        "resource_type": resource_type,
        "resource_id": str(resource_id),
        "metadata": metadata or {},
    }
    window = denial_window_seconds()
    if window <= 0 or connection.in_atomic_block:
        return _write(DENIED, fields)
    identity = {**fields, "source_ip": current_request_context().source_ip}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    store = _store()
    try:
        first, summary = _admit(store, digest, fields, time.time(), window)
    except Exception as exc:  # noqa: BLE001 - whatever the store raises, record the denial instead
        logger.warning("denial de-duplication unavailable (%s); writing every denial", type(exc).__name__)
        return _write(DENIED, fields)
    if summary is not None:
        _write_summary(summary)
    if not first:
        return None
    try:
        return _write(DENIED, fields)
    except Exception:
        _forget_window(store, digest)  # no row, so no window: the next repeat must be written
        raise


def audit_denials_flush(*, now: float | None = None) -> int:
    """Write the summary of every ended window that has repeats and no claimer yet. Returns how
    many summaries this call wrote. Idempotent; concurrent calls write each summary once."""
    now = time.time() if now is None else now
    store = _store()
    first_bucket = int((now - KEEP_SECONDS) // BUCKET_SECONDS)
    last_bucket = int(now // BUCKET_SECONDS)
    index = f"{_prefix()}:due"
    sizes = store.get_many([f"{index}:{bucket}:n" for bucket in range(first_bucket, last_bucket + 1)])
    slots = [f"{key[:-2]}:{number}" for key, size in sizes.items() for number in range(1, int(size) + 1)]
    written = 0
    for entry in store.get_many(slots).values():
        if entry["end"] + CLAIM_GRACE_SECONDS > now:
            continue
        summary = _claim(store, entry["digest"], entry["start"], entry["end"], entry["fields"])
        if summary is not None:
            _write_summary(summary)
            written += 1
    return written


def _write(action: str, fields: dict[str, Any]) -> AuditEvent:
    kind, actor_id, label, role = fields["actor"]
    return audit_record(
        action=action,
        actor=AuditActor(type=kind, id=actor_id, label=label, role=role),
        outcome=Outcome.DENY,
        **{name: value for name, value in fields.items() if name != "actor"},
    )


def _write_summary(summary: dict[str, Any]) -> AuditEvent:
    fields = dict(summary["fields"])
    fields["metadata"] = {
        **fields["metadata"],
        "suppressed_repeats": summary["count"],
        "suppressed_from": _iso(summary["start"]),
        "suppressed_until": _iso(summary["end"]),
    }
    return _write(REPEATED, fields)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


def _window_key(digest: str) -> str:
    return f"{_prefix()}:{digest}"


def _count_key(digest: str, start: float) -> str:
    return f"{_prefix()}:{digest}:{start:.6f}:n"


def _admit(
    store: BaseCache, digest: str, fields: dict[str, Any], now: float, window: float
) -> tuple[bool, dict[str, Any] | None]:
    """(write this denial?, a summary this caller claimed and must write first, or None)."""
    key, ttl = _window_key(digest), int(window + KEEP_SECONDS)
    state = {"start": now, "end": now + window}
    if store.add(key, state, timeout=ttl):
        return True, None
    current = store.get(key)
    if current is None:  # it expired between add and get: this denial starts the next window
        store.set(key, state, timeout=ttl)
        return True, None
    if now < current["end"]:
        if _increment(store, _count_key(digest, current["start"]), ttl) == 1:
            _file_due(store, digest, current["start"], current["end"], fields, ttl)
        return False, None
    summary = None
    if now >= current["end"] + CLAIM_GRACE_SECONDS:  # else the flusher claims it, a beat later
        summary = _claim(store, digest, current["start"], current["end"], fields)
    # Two denials that both find the window over each write their row; the later set wins.
    store.set(key, state, timeout=ttl)
    return True, summary


def _increment(store: BaseCache, key: str, ttl: int) -> int:
    store.add(key, 0, timeout=ttl)
    try:
        return int(store.incr(key))
    except ValueError:  # expired between add and incr
        store.add(key, 0, timeout=ttl)
        return int(store.incr(key))


def _file_due(store: BaseCache, digest: str, start: float, end: float, fields: dict[str, Any], ttl: int) -> None:
    """File the window under the bucket of its end, where the flusher looks for it."""
    index = f"{_prefix()}:due:{int(end // BUCKET_SECONDS)}"
    number = _increment(store, f"{index}:n", ttl)
    store.set(f"{index}:{number}", {"digest": digest, "start": start, "end": end, "fields": fields}, timeout=ttl)


def _claim(store: BaseCache, digest: str, start: float, end: float, fields: dict[str, Any]) -> dict[str, Any] | None:
    """The window's summary for the one caller whose ``add`` of the claim key succeeds; None for
    every other caller, and when the window had no repeats."""
    if not store.add(f"{_prefix()}:{digest}:{start:.6f}:claimed", 1, timeout=KEEP_SECONDS):
        return None
    count = int(store.get(_count_key(digest, start)) or 0)
    if not count:
        return None
    return {"count": count, "start": start, "end": end, "fields": fields}


def _forget_window(store: BaseCache, digest: str) -> None:
    try:
        store.delete(_window_key(digest))
    except Exception:  # noqa: BLE001 - best effort: the write error is what the caller must see
        logger.warning("could not drop the denial window of an unwritten denial")
