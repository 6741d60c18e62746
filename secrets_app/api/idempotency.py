"""``Idempotency-Key`` on POST, applied once for every view by ``ApiView`` (see base.py).

A replay answers with the stored status and body and the header ``Idempotent-Replayed: true``;
the action does not run again. Views whose response holds a credential set
``idempotency_storable = False``: they refuse the header (400) rather than store a token.
Views with ``idempotency_by_view = True`` honour the header themselves (lease creation remembers
the lease id, never the credentials: ``dynamic.services.lease_idempotency``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.http.request import RawPostDataException
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from secrets_app.api.authentication import principal_of
from secrets_app.errors import ValidationFailed
from secrets_app.services.idempotency import (
    StoredResponse,
    idempotency_begin,
    idempotency_complete,
    idempotency_fingerprint,
    idempotency_key_validate,
    idempotency_release,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


def _raw_body(request: Request) -> bytes:
    try:
        return request._request.body
    except RawPostDataException:  # already parsed by someone: fingerprint the parsed data instead
        return json.dumps(request.data, sort_keys=True, default=str).encode()


def _json_body(data: Any) -> Any:
    """The body exactly as the client received it (datetimes, UUIDs rendered as JSON)."""
    return json.loads(JSONRenderer().render(data)) if data is not None else None


def with_idempotency(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a view's ``post`` so an ``Idempotency-Key`` makes retries safe."""
    if getattr(handler, "_idempotent", False):
        return handler

    @functools.wraps(handler)
    def post(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw_key = request.headers.get(HEADER)
        if raw_key is None or view.idempotency_by_view:
            return handler(view, request, *args, **kwargs)
        if not view.idempotency_storable:
            raise ValidationFailed(HEADER, "is not accepted here: the response holds a credential and is never stored")
        key = idempotency_key_validate(raw_key)
        outcome = idempotency_begin(
            principal_key=principal_of(request.user).key,
            key=key,
            fingerprint=idempotency_fingerprint(
                method=request.method or "POST", path=request.get_full_path(), body=_raw_body(request)
            ),
        )
        if isinstance(outcome, StoredResponse):
            return Response(outcome.body, status=outcome.status_code, headers={REPLAYED_HEADER: "true"})
        record = outcome
        try:
            # The action and the stored response commit together: a crash cannot leave an action
            # done but unrecorded (which a retry would then repeat).
            with transaction.atomic():
                try:
                    response = handler(view, request, *args, **kwargs)
                except Exception as exc:  # noqa: BLE001 - converted exactly as DRF's dispatch would
                    response = view.handle_exception(exc)
                if 200 <= response.status_code < 300:
                    idempotency_complete(
                        record=record, status_code=response.status_code, body=_json_body(response.data)
                    )
                    return response
            # A refused or invalid request keeps what it recorded (e.g. the audited denial) and
            # frees the key, so the client may fix the problem and retry with the same key.
            idempotency_release(record=record)
            return response
        except BaseException:
            idempotency_release(record=record)
            raise

    post._idempotent = True  # type: ignore[attr-defined]
    return post
