"""Fixtures for the stream kinds' wire tests (and for fault tests that want a real SIEM stand-in)::

    from tests.audit.streams.kind_fixtures import datadog_intake, logs_ingestion, rsyslog, splunk_hec, webhook_receiver  # noqa: F401

- ``stream_outbound``: the outbound guard lets 127.0.0.1 through; the site is strongroom.example.com;
  stream timeouts are 5 s.
- ``webhook_receiver`` / ``splunk_hec`` / ``datadog_intake`` / ``logs_ingestion``: the emulators of
  ``tests.audit.streams.emulators``, started, with the credentials below.
- ``rsyslog``: the real rsyslogd with a TLS input (``RsyslogServer``). Without rsyslog installed the
  test is skipped with the reason, except under CI, where it fails (.ci/run installs it).
- ``export_row(id, ...)``: an event dict exactly as ``audit.export.audit_export_rows`` yields it.
- ``stream_ctx(kind, config, credentials)``: a ``StreamContext`` from settings cleaned by the kind's
  own ``validate`` (what the engine hands a kind).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from audit.chain import EVENT_FIELDS, audit_row_hash_of
from audit.export import EXPORT_FIELDS
from audit.streams.base import ChainHead, StreamContext
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import (
    DatadogIntakeEmulator,
    LogsIngestionEmulator,
    RsyslogServer,
    SplunkHecEmulator,
    WebhookReceiver,
    rsyslog_missing,
)

WEBHOOK_SECRET = "whsec-kind-test-2f9c81d4e7"
HEC_TOKEN = "8f2c1e7a-3b4d-4c5e-9f60-1a2b3c4d5e6f"
DD_API_KEY = "0123456789abcdef0123456789abcdef"
AZURE_SECRET = "azure-client-secret-Q8~kind-test"
HEAD = ChainHead(sequence=7, block_hash="ab" * 32)
ORG_ID = 1


@pytest.fixture
def stream_outbound(settings: Any) -> Any:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.SITE_URL = "https://strongroom.example.com"
    settings.STRONGROOM_AUDIT_STREAM_TIMEOUT = 5
    return settings


@pytest.fixture
def webhook_receiver(stream_outbound: Any) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture
def splunk_hec(stream_outbound: Any) -> Iterator[SplunkHecEmulator]:
    with SplunkHecEmulator(HEC_TOKEN) as emulator:
        yield emulator


@pytest.fixture
def datadog_intake(stream_outbound: Any) -> Iterator[DatadogIntakeEmulator]:
    with DatadogIntakeEmulator(DD_API_KEY) as emulator:
        yield emulator


@pytest.fixture
def logs_ingestion(stream_outbound: Any) -> Iterator[LogsIngestionEmulator]:
    with LogsIngestionEmulator(client_secret=AZURE_SECRET) as emulator:
        yield emulator


def _rsyslog_or_skip() -> None:
    missing = rsyslog_missing()
    if missing is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture
def rsyslog(stream_outbound: Any) -> Iterator[RsyslogServer]:
    _rsyslog_or_skip()
    with RsyslogServer() as server:
        yield server


@pytest.fixture
def rsyslog_mtls(stream_outbound: Any) -> Iterator[RsyslogServer]:
    _rsyslog_or_skip()
    with RsyslogServer(client_auth=True) as server:
        yield server


def export_row(event_id: int, **overrides: Any) -> dict[str, Any]:
    """A row as ``audit_export_rows`` yields it (every column, ``row_hash``, sealed block fields)."""
    row: dict[str, Any] = {
        "id": event_id,
        "occurred_at": f"2025-03-04T05:06:{event_id % 60:02d}.123456+00:00",
        "action": "secret.value_read",
        "outcome": "allow",
        "actor_type": "user",
        "actor_id": "1",
        "actor_label": "alice",
        "actor_role": "admin",
        "organization_id": ORG_ID,
        "project_id": 10,
        "environment": "prod",
        "path": "/backend",
        "resource_type": "secret",
        "resource_id": str(event_id),
        "source_ip": "203.0.113.7",
        "user_agent": "strongroom-cli/1.0",
        "request_id": f"req-{event_id}",
        "metadata": {"keys": ["DB_URL"]},
    }
    row.update({key: value for key, value in overrides.items() if not key.startswith("block_")})
    row["row_hash"] = audit_row_hash_of({key: row[key] for key in EVENT_FIELDS})
    row.update(
        block_chain=ORG_ID,
        block_sequence=3,
        block_hash="cd" * 32,
        block_first_event_id=1,
        block_last_event_id=100,
        block_previous_hash="ef" * 32,
        block_row_count=100,
    )
    row.update({key: value for key, value in overrides.items() if key.startswith("block_")})
    assert set(row) == set(EXPORT_FIELDS)
    return row


def stream_ctx(kind: str, config: Mapping[str, Any], credentials: Mapping[str, Any]) -> StreamContext:
    cleaned_config, cleaned_credentials = stream_kind(kind).validate(config=config, credentials=credentials)
    return StreamContext(
        id=1, name=f"{kind} test", organization_id=ORG_ID, config=cleaned_config, credentials=cleaned_credentials
    )
