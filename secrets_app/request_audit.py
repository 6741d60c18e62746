"""Audit events about requests refused before any service ran: a bearer token that was not
accepted (``token.rejected``) and a write whose input failed validation (``request.invalid``).

Both surfaces (``/api/v1`` and ``/compat/infisical``) record them through here, one event per
request. Neither ever holds a credential or a submitted value: a rejected token is named by its row
id (an identity token whose signature is ours) or by the stored, non-secret prefix of a personal
token; an invalid request by the names of its offending fields.
"""

from __future__ import annotations

import logging
from typing import Any

from audit.models import ActorType, Outcome
from audit.services import ANONYMOUS_ACTOR, AuditActor, audit_record
from secrets_app.principals import Principal

logger = logging.getLogger("strongroom.audit")

MAX_FIELDS = 20
MAX_FIELD_NAME = 100


def _token_reference(raw_token: str) -> tuple[AuditActor, int | None, dict[str, Any]]:
    """Who a rejected token names, as far as it can be told without trusting it."""
    from secrets_app.identities.access_tokens import identity_actor, looks_like_identity_token, token_row_signed
    from secrets_app.services.personal_tokens import TOKEN_PREFIX, token_row_any_state

    if raw_token.startswith(TOKEN_PREFIX):
        token = token_row_any_state(raw_token=raw_token)
        if token is None:  # not one of ours: its characters are the caller's, never recorded
            return ANONYMOUS_ACTOR, None, {"kind": "personal", "token_id": None}
        actor = AuditActor(type=ActorType.USER, id=str(token.user_id), label=token.user.get_username())
        return actor, None, {"kind": "personal", "token_id": token.pk, "token_prefix": token.prefix}
    if looks_like_identity_token(raw_token):
        row = token_row_signed(raw_token)
        if row is None:  # signature not ours: its claims are the caller's word, never recorded
            return ANONYMOUS_ACTOR, None, {"kind": "identity", "token_id": None}
        return identity_actor(row.identity), row.identity.organization_id, {"kind": "identity", "token_id": row.pk}
    return ANONYMOUS_ACTOR, None, {"kind": "unknown", "token_id": None}


def token_rejected_record(*, raw_token: str | None, reason: str, surface: str) -> None:
    """Audit one refused bearer credential (outcome deny). *reason* must be a fixed text of ours."""
    actor, organization_id, reference = _token_reference(raw_token) if raw_token else (ANONYMOUS_ACTOR, None, {})
    audit_record(
        action="token.rejected",
        actor=actor,
        outcome=Outcome.DENY,
        organization_id=organization_id,
        resource_type="token",
        resource_id=str(reference.get("token_id") or ""),
        metadata={"surface": surface, "reason": reason[:200], **reference},
    )


def _printable(name: str) -> str:
    """A submitted field name as safe text: control characters, NUL and lone surrogates escaped
    (PostgreSQL's jsonb refuses the last two, and the audit row must always be writable)."""
    return "".join(
        char if char.isprintable() and not 0xD800 <= ord(char) <= 0xDFFF else f"\\u{ord(char):04x}"
        for char in name[:MAX_FIELD_NAME]
    )


def field_names(names: Any) -> list[str]:
    """At most MAX_FIELDS field names, each cut to MAX_FIELD_NAME characters and escaped, sorted."""
    return sorted({_printable(str(name)) for name in names})[:MAX_FIELDS]


def request_invalid_record(
    *, principal: Principal | None, method: str, url_path: str, fields: list[str], surface: str, status: int
) -> None:
    """Audit one write refused for bad input (outcome deny): the field names, never their values."""
    audit_record(
        action="request.invalid",
        actor=principal.audit_actor() if principal is not None else ANONYMOUS_ACTOR,
        outcome=Outcome.DENY,
        organization_id=principal.organization_id if principal is not None else None,
        resource_type="api",
        resource_id=surface,
        metadata={"method": method, "url": url_path[:300], "status": status, "fields": field_names(fields)},
    )


__all__ = ["field_names", "request_invalid_record", "token_rejected_record"]
