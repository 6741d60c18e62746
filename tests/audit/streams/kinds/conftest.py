"""The stream kinds' wire tests: emulator and rsyslog fixtures (``tests.audit.streams.kind_fixtures``)."""

from __future__ import annotations

from tests.audit.streams.kind_fixtures import (  # noqa: F401
    datadog_intake,
    logs_ingestion,
    rsyslog,
    rsyslog_mtls,
    splunk_hec,
    stream_outbound,
    webhook_receiver,
)
