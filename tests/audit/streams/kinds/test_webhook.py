"""The webhook kind on the wire: a signed JSON array, the chain head, a receiver that verifies."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest

from audit.export import audit_export_rows
from audit.models import AuditEvent
from audit.streams.base import PluginFieldError, StreamUnavailable
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import WebhookReceiver
from tests.audit.streams.kind_fixtures import (
    HEAD,
    WEBHOOK_SECRET,
    export_row,
    stream_ctx,
)

KIND = stream_kind("webhook")


def _ctx(receiver: WebhookReceiver, **extra: Any) -> Any:
    credentials = {"signing_secret": extra.pop("signing_secret", WEBHOOK_SECRET), **extra.pop("credentials", {})}
    return stream_ctx("webhook", {"url": receiver.url, **extra}, credentials)


def test_it_posts_the_batch_as_a_signed_json_array_with_the_chain_head(webhook_receiver: WebhookReceiver) -> None:
    rows = [export_row(1), export_row(2, outcome="deny", metadata={"path": 'a"b]\\c\nd'})]

    KIND.send(_ctx(webhook_receiver), rows, head=HEAD)

    (request,) = webhook_receiver.requests
    assert request.method == "POST" and request.path == "/hooks/strongroom"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-strongroom-batch"] == "1-2"
    assert request.headers["x-strongroom-chain-sequence"] == "7"
    assert request.headers["x-strongroom-chain-head"] == HEAD.block_hash
    timestamp = request.headers["x-strongroom-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-strongroom-signature"] == f"v1={expected}"
    body = json.loads(request.body)
    assert isinstance(body, list) and [event["id"] for event in body] == [1, 2]
    for sent, row in zip(body, rows, strict=True):
        assert {key: sent[key] for key in row} == row  # every exported column, unchanged
        assert sent["chain_head_sequence"] == 7 and sent["chain_head_hash"] == HEAD.block_hash
    assert webhook_receiver.heads == [{"sequence": 7, "block_hash": HEAD.block_hash}]
    assert webhook_receiver.events == body


def test_it_omits_the_chain_head_headers_before_the_first_seal(webhook_receiver: WebhookReceiver) -> None:
    KIND.send(_ctx(webhook_receiver), [export_row(5)], head=None)

    assert "x-strongroom-chain-head" not in webhook_receiver.requests[0].headers
    assert webhook_receiver.events[0]["chain_head_sequence"] is None


def test_it_is_refused_with_a_clear_error_when_the_receiver_has_another_secret(
    webhook_receiver: WebhookReceiver,
) -> None:
    ctx = _ctx(webhook_receiver, signing_secret="whsec-someone-elses-secret")

    with pytest.raises(StreamUnavailable) as refused:
        KIND.send(ctx, [export_row(1)], head=HEAD)

    assert refused.value.status == 401
    assert str(refused.value) == "webhook refused the credentials (HTTP 401)"
    assert "whsec" not in str(refused.value) and "whsec" not in repr(ctx)
    assert webhook_receiver.events == []


def test_it_sends_the_extra_header_the_receiver_requires(stream_outbound: Any) -> None:
    with WebhookReceiver(WEBHOOK_SECRET, required_header=("Authorization", "Bearer rcv-token-1")) as receiver:
        ctx = _ctx(receiver, header_name="Authorization", credentials={"header_value": "Bearer rcv-token-1"})
        KIND.send(ctx, [export_row(1)], head=HEAD)
        assert [event["id"] for event in receiver.events] == [1]


def test_its_test_event_is_a_signed_one_element_array(webhook_receiver: WebhookReceiver) -> None:
    KIND.test(_ctx(webhook_receiver), head=HEAD)

    (event,) = webhook_receiver.events
    assert event["type"] == "strongroom.stream_test" and event["organization_id"] == 1 and "sent_at" in event
    assert "id" not in event
    assert webhook_receiver.requests[0].headers["x-strongroom-batch"] == "test"


@pytest.mark.parametrize(
    ("config", "credentials", "field"),
    [
        ({}, {"signing_secret": WEBHOOK_SECRET}, "config.url"),
        ({"url": "ftp://example.com/x"}, {"signing_secret": WEBHOOK_SECRET}, "config.url"),
        ({"url": "https://example.com/x"}, {"signing_secret": "short"}, "credentials.signing_secret"),
        (
            {"url": "https://example.com/x", "header_name": "X Bad"},
            {"signing_secret": WEBHOOK_SECRET, "header_value": "v"},
            "config.header_name",
        ),
        (
            {"url": "https://example.com/x", "header_name": "X-Strongroom-Signature"},
            {"signing_secret": WEBHOOK_SECRET, "header_value": "v"},
            "config.header_name",
        ),
        (
            {"url": "https://example.com/x", "header_name": "X-Api-Key"},
            {"signing_secret": WEBHOOK_SECRET},
            "credentials.header_value",
        ),
        (
            {"url": "https://example.com/x", "header_name": "X-Api-Key"},
            {"signing_secret": WEBHOOK_SECRET, "header_value": "a\r\nInjected: 1"},
            "credentials.header_value",
        ),
        (
            {"url": "https://example.com/x", "ca_certificate": "not a pem"},
            {"signing_secret": WEBHOOK_SECRET},
            "config.ca_certificate",
        ),
        ({"url": "https://example.com/x", "colour": "red"}, {"signing_secret": WEBHOOK_SECRET}, "config.colour"),
    ],
)
def test_it_names_the_field_of_a_bad_setting(
    settings: Any, config: dict[str, Any], credentials: dict[str, Any], field: str
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config=config, credentials=credentials)

    assert refused.value.field == field
    assert WEBHOOK_SECRET not in str(refused.value) and "Injected" not in str(refused.value)


@pytest.mark.django_db
def test_it_delivers_real_exported_rows_and_the_receiver_can_recompute_their_hashes(
    webhook_receiver: WebhookReceiver, record_event: Any
) -> None:
    from audit.chain import EVENT_FIELDS, audit_row_hash_of

    record_event("secret.value_read", metadata={"keys": ["A", "B"]}, path="/app")
    record_event("secret.updated", outcome="deny")
    rows = list(audit_export_rows(AuditEvent.objects.all()))

    KIND.send(_ctx(webhook_receiver), rows, head=HEAD)

    received = webhook_receiver.events
    assert [event["id"] for event in received] == [row["id"] for row in rows]
    for event in received:
        assert audit_row_hash_of({name: event[name] for name in EVENT_FIELDS}) == event["row_hash"]


def test_the_documented_verification_snippet_accepts_our_requests_and_refuses_a_tampered_body(
    webhook_receiver: WebhookReceiver,
) -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "audit-streams.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "docs/audit-streams.md", "exec"), namespace)  # noqa: S102 (our own documentation)
    genuine = namespace["strongroom_request_is_genuine"]
    KIND.send(_ctx(webhook_receiver), [export_row(1)], head=HEAD)
    request = webhook_receiver.requests[0]
    headers = {
        "X-Strongroom-Timestamp": request.headers["x-strongroom-timestamp"],
        "X-Strongroom-Signature": request.headers["x-strongroom-signature"],
    }

    assert genuine(WEBHOOK_SECRET, headers, request.body)
    assert not genuine(WEBHOOK_SECRET, headers, request.body.replace(b"alice", b"mallory"))
    assert not genuine("whsec-another-receivers-secret", headers, request.body)
