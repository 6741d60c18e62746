"""The interface every audit stream kind implements (one folder per kind under ``kinds/``).

A kind is stateless and does one thing: put one batch of events on the wire in its destination's
exact format and say how it went. The delivery engine (``audit.streams.delivery``) owns the cursor,
ordering, batching limits, retries, backoff, splitting and parking; a kind never retries by itself.

Errors raised by ``send`` and ``test`` must be :class:`StreamError` subclasses whose ``str()`` is
safe to store and show: a status code, an exception class, a short reason — never a token, a
signing secret, a URL with a key in it, or a response body that might echo one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from secrets_app.plugins import PluginField, PluginFieldError, PluginKind

__all__ = [
    "ChainHead",
    "PluginField",
    "PluginFieldError",
    "StreamContext",
    "StreamError",
    "StreamKind",
    "StreamRejected",
    "StreamUnavailable",
]


class StreamError(Exception):
    """A send failed. ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class StreamUnavailable(StreamError):
    """Try the same batch again later: connection refused/reset, timeout, TLS handshake failure,
    429, 5xx. ``retry_after`` (seconds) when the destination said so (``Retry-After``)."""


class StreamRejected(StreamError):
    """The destination refused *this batch* and will refuse it again (400, 413, 422 …): the engine
    splits the batch to find the event it refuses and parks that event. 401/403 are not this (the
    stream's credentials are wrong, every batch would fail): raise :class:`StreamUnavailable` for them,
    with the status, so the stream waits for an admin to fix it instead of parking good events."""


@dataclass(frozen=True)
class ChainHead:
    """The newest sealed block of the organization's hash chain at the time of the batch: every
    batch carries it, so the SIEM holds an independent copy of the chain head."""

    sequence: int
    block_hash: str


@dataclass(frozen=True)
class StreamContext:
    """A decrypted stream for one call. Never logged, never stored."""

    id: int | None
    name: str
    organization_id: int
    config: Mapping[str, Any]
    credentials: Mapping[str, str]  # in memory only

    def __repr__(self) -> str:  # credentials never appear in logs or tracebacks
        return f"<StreamContext {self.id} {self.name!r}>"


class StreamKind(PluginKind):
    """Base of every stream kind.

    ``max_events`` / ``max_bytes``: the engine never hands ``send`` more events than ``max_events``
    and keeps the serialized events under ``max_bytes`` (a single event over it is sent alone).
    ``url_fields``: config/credential fields holding a URL or host that must pass the outbound guard
    when saved (``secrets_app.outbound.check_url``).
    """

    max_events: ClassVar[int] = 400
    max_bytes: ClassVar[int] = 700 * 1024
    url_fields: ClassVar[tuple[str, ...]] = ()

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        """Deliver ``events`` (dicts as ``audit.export.audit_export_rows`` yields them: every column,
        ``row_hash`` and the block fields; in id order) as one request/one write. Return on success
        (the destination accepted every event); raise StreamUnavailable or StreamRejected otherwise."""
        raise NotImplementedError

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        """Send one test event (``{"type": "strongroom.stream_test", ...}`` in the kind's format),
        proving the destination and credentials work. Same errors as ``send``."""
        raise NotImplementedError
