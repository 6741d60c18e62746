"""``Idempotency-Key`` on lease creation: a retried create never mints a second lease.

The generic replay (``secrets_app.api.idempotency``) stores the first answer and sends it again;
a lease's answer holds the credentials, which are returned once and never stored. So here the key
remembers only the **lease id**, and a replay is answered **409 ``lease_already_created``** naming
that lease: the client learns that its first attempt did create a lease (whose credentials it
never received), can revoke it at once, and takes a new lease with a new key. What a replay can
never do is hand out a second credential, or the first one again.

The key is recorded in the transaction that commits the write-ahead lease row (``lease_create``'s
``on_written``), so a crash between the two cannot leave a lease the key does not know about. When
the creation fails (400/502, nothing usable issued) the key is forgotten and may be retried.
Keys are per principal and kept 24 hours, like every other ``Idempotency-Key``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dynamic.models import Lease
from secrets_app.errors import Conflict
from secrets_app.models import IdempotencyRecord
from secrets_app.services.idempotency import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_key_validate,
)

HEADER = "Idempotency-Key"
ALREADY_CREATED = 409


class LeaseAlreadyCreated(Conflict):
    """A replayed ``Idempotency-Key``: the lease it created, by id (its credentials are gone)."""

    code = "lease_already_created"

    def __init__(self, lease_id: str) -> None:
        super().__init__(
            f"A lease was already created with this Idempotency-Key: {lease_id}. Its credentials were in "
            "that answer only; revoke the lease if you did not receive them, and retry with a new key",
            fields={HEADER: [f"already used to create lease {lease_id}"]},
        )
        self.lease_id = lease_id


def lease_request_fingerprint(*, path: str, fields: dict[str, Any]) -> str:
    """The request as the key binds it: route and the lease fields (never ``adoAccessToken``)."""
    canonical = json.dumps({"path": path, "fields": fields}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@contextmanager
def lease_idempotency(
    *, principal_key: str, raw_key: str | None, fingerprint: str
) -> Iterator[Callable[[Lease], None] | None]:
    """Reserve *raw_key* for one lease creation; yields the ``on_written`` hook for ``lease_create``
    (None without a key). Raises LeaseAlreadyCreated (409) for a replay, IdempotencyKeyReused (422)
    for the key of a different request, IdempotencyInProgress (409) while the first one runs."""
    if raw_key is None:
        yield None
        return
    outcome = idempotency_begin(
        principal_key=principal_key, key=idempotency_key_validate(raw_key), fingerprint=fingerprint
    )
    if isinstance(outcome, StoredResponse):
        raise LeaseAlreadyCreated(str((outcome.body or {}).get("leaseId", "")))
    record = outcome

    def remember(lease: Lease) -> None:
        idempotency_complete(record=record, status_code=ALREADY_CREATED, body={"leaseId": str(lease.public_id)})

    try:
        yield remember
    except BaseException:
        # Nothing usable was issued (a failed creation revokes what it made): the key is free again.
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
