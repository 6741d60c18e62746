"""The per-destination lock: runs writing one remote container never overlap (security bar F6).

A row per target key, taken by compare-and-set on ``locked_until`` with a TTL that heartbeats
extend. Chosen over a PostgreSQL advisory lock because it needs no session held open for the
whole run, works on the embedded SQLite default too, and a dead holder's lock simply expires.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from syncs.models import DestinationLock


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.STRONGROOM_SYNC_LOCK_TTL_SECONDS)


def lock_acquire(target_key: str, holder: str) -> bool:
    """True when *holder* now holds the lock (free, expired, or already its own)."""
    now = timezone.now()
    if not DestinationLock.objects.filter(target_key=target_key).exists():
        try:
            with transaction.atomic():
                DestinationLock.objects.create(target_key=target_key)
        except IntegrityError:
            pass  # created by a concurrent caller: fine, compete below
    taken = (
        DestinationLock.objects.filter(target_key=target_key)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now) | Q(holder=holder))
        .update(holder=holder, locked_until=now + _ttl())
    )
    return taken == 1


def lock_extend(target_key: str, holder: str) -> bool:
    """Push the expiry out; False when the lock is no longer ours (it expired and was taken)."""
    return (
        DestinationLock.objects.filter(target_key=target_key, holder=holder).update(
            locked_until=timezone.now() + _ttl()
        )
        == 1
    )


def lock_release(target_key: str, holder: str) -> None:
    DestinationLock.objects.filter(target_key=target_key, holder=holder).update(holder="", locked_until=None)
