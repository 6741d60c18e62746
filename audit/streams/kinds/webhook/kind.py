"""Generic HTTPS webhook: one signed POST per batch.

Wire format (docs/audit-streams.md has a receiver's verification snippet)::

    POST <url>
    Content-Type: application/json
    X-Strongroom-Timestamp: 1735689600
    X-Strongroom-Signature: v1=<hex HMAC-SHA256(signing_secret, "<timestamp>.<raw body>")>
    X-Strongroom-Batch: <first event id>-<last event id>      ("test" for a stream test)
    X-Strongroom-Chain-Sequence: 41                            (absent before the first seal)
    X-Strongroom-Chain-Head: <hex block hash>                  (absent before the first seal)
    <extra header name>: <extra header value>                  (optional, e.g. Authorization)

    [{"id": 1, "occurred_at": "…", "action": "secret.created", …, "row_hash": "…",
      "block_sequence": …, "chain_head_sequence": 41, "chain_head_hash": "…"}, …]

The body is a JSON array of the exported rows (every column, ``row_hash``, the ``block_*`` fields)
in id order, each with ``chain_head_sequence`` / ``chain_head_hash`` added: the chain head is in the
body as well as in the headers because many receivers store bodies and drop headers. The signature
covers the timestamp and the exact body bytes (Stripe's scheme), so a receiver rejects a modified
body and, by refusing timestamps older than a few minutes, a replay. ``X-Strongroom-Batch`` is the
same on every retry of a batch: an idempotency key for receivers that want one (events also carry
their ``id``; delivery is at least once).

Answers: 2xx accepted; 401/403 credentials refused (the stream waits for an admin); 404/405/410 no
intake at this URL; 408/429/5xx retried (``Retry-After`` honoured); other 4xx (400, 413, 422)
reject the batch, which the engine splits to park the one event refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from audit.streams.base import ChainHead, PluginField, PluginFieldError, StreamContext
from audit.streams.wire import (
    CA_CERTIFICATE,
    GuardedStreamKind,
    post,
    raise_for_status,
    stream_test_event,
    with_chain_head,
)

SIGNATURE_VERSION = "v1"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")  # an RFC 9110 header field name
_RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "transfer-encoding", "connection"})


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 keyed with the signing secret over ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def webhook_body(events: Sequence[Mapping[str, Any]], head: ChainHead | None) -> bytes:
    """The JSON array, ASCII with control characters escaped (one batch, byte-exact for the signature)."""
    rows = [with_chain_head(event, head) for event in events]
    return json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class WebhookStream(GuardedStreamKind):
    kind = "webhook"
    label = "HTTPS webhook"
    description = (
        "POSTs each batch as a JSON array of audit events, signed with HMAC-SHA256 "
        "(X-Strongroom-Signature) so the receiver can prove it came from this Strongroom."
    )
    url_fields = ("url",)
    fields = (
        PluginField("url", "URL", input="url", placeholder="https://siem.example.com/strongroom"),
        PluginField(
            "signing_secret",
            "Signing secret",
            secret=True,
            max_length=500,
            help="The HMAC-SHA256 key the receiver verifies X-Strongroom-Signature with. At least 16 characters.",
        ),
        PluginField(
            "header_name",
            "Extra header name",
            required=False,
            max_length=100,
            placeholder="Authorization",
            help="Optional: a header the receiver requires, sent with every request.",
        ),
        PluginField("header_value", "Extra header value", secret=True, required=False, max_length=4000),
        CA_CERTIFICATE,
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        if len(cleaned_credentials.get("signing_secret", "")) < 16:
            raise PluginFieldError("credentials.signing_secret", "must be at least 16 characters")
        name = cleaned_config.get("header_name")
        value = cleaned_credentials.get("header_value")
        if name:
            if not _TOKEN.match(name):
                raise PluginFieldError("config.header_name", "must be a header name (letters, digits, -)")
            if name.lower() in _RESERVED_HEADERS or name.lower().startswith("x-strongroom-"):
                raise PluginFieldError("config.header_name", "is set by Strongroom itself")
        if value is not None and ("\r" in value or "\n" in value):
            raise PluginFieldError("credentials.header_value", "must not contain line breaks")
        if bool(name) != bool(value):
            missing = "credentials.header_value" if name else "config.header_name"
            raise PluginFieldError(missing, "the extra header needs both a name and a value")
        return cleaned_config, cleaned_credentials

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        batch = f"{events[0].get('id')}-{events[-1].get('id')}" if events else "empty"
        self._post(ctx, webhook_body(events, head), head=head, batch=batch)

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        self._post(ctx, webhook_body([stream_test_event(ctx)], head), head=head, batch="test")

    def _post(self, ctx: StreamContext, body: bytes, *, head: ChainHead | None, batch: str) -> None:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-Strongroom-Timestamp": timestamp,
            "X-Strongroom-Signature": webhook_signature(ctx.credentials.get("signing_secret", ""), timestamp, body),
            "X-Strongroom-Batch": batch,
        }
        if head is not None:
            headers["X-Strongroom-Chain-Sequence"] = str(head.sequence)
            headers["X-Strongroom-Chain-Head"] = head.block_hash
        name, value = ctx.config.get("header_name"), ctx.credentials.get("header_value")
        if name and value:
            headers[str(name)] = value
        response = post(
            str(ctx.config.get("url", "")), body=body, headers=headers, config=ctx.config, service="webhook"
        )
        raise_for_status(response, service="webhook")
