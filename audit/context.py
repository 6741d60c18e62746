"""Per-request facts every audit row carries (source IP, user agent, request id).

Set by the request middleware; Celery tasks and management commands leave the defaults.
"""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    source_ip: str = ""
    user_agent: str = ""
    request_id: str = field(default_factory=lambda: f"req-{uuid.uuid4().hex[:16]}")


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("audit_request", default=None)


def current_request_context() -> RequestContext:
    return _current.get() or RequestContext(request_id="")


def set_request_context(context: RequestContext | None) -> contextvars.Token[RequestContext | None]:
    return _current.set(context)


def reset_request_context(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
