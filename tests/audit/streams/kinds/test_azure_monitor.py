"""The Azure Monitor kind through Microsoft's SDKs against the local Logs Ingestion API and Entra ID."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from audit.streams.base import PluginFieldError, StreamUnavailable
from audit.streams.kinds.azure_monitor.kind import monitor_scope
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import LogsIngestionEmulator
from tests.audit.streams.kind_fixtures import AZURE_SECRET, HEAD, export_row, stream_ctx

KIND = stream_kind("azure_monitor")


def _config(emulator: LogsIngestionEmulator, **overrides: Any) -> dict[str, Any]:
    return {
        "endpoint": emulator.endpoint,
        "rule_id": emulator.rule_id,
        "tenant_id": emulator.tenant_id,
        "client_id": emulator.client_id,
        "authority_host": emulator.authority,
        "ca_certificate": emulator.ca_pem,  # the self-signed emulator is trusted as a private CA would be
        **overrides,
    }


def _ctx(emulator: LogsIngestionEmulator, **overrides: Any) -> Any:
    return stream_ctx("azure_monitor", _config(emulator, **overrides), {"client_secret": AZURE_SECRET})


def _uploads(emulator: LogsIngestionEmulator) -> list[Any]:
    return [request for request in emulator.requests if request.path.startswith("/dataCollectionRules/")]


def test_it_uploads_gzipd_logs_with_time_generated_and_a_monitor_token(logs_ingestion: LogsIngestionEmulator) -> None:
    rows = [export_row(1), export_row(2)]

    KIND.send(_ctx(logs_ingestion), rows, head=HEAD)

    (upload,) = _uploads(logs_ingestion)
    assert upload.path == f"/dataCollectionRules/{logs_ingestion.rule_id}/streams/Custom-StrongroomAudit_CL"
    assert upload.query["api-version"] == ["2023-01-01"]
    assert upload.headers["content-encoding"] == "gzip"
    assert upload.headers["content-type"].startswith("application/json")
    token = upload.headers["authorization"].removeprefix("Bearer ")
    assert logs_ingestion.token_scopes[token] == "https://monitor.azure.com/.default"
    logs = json.loads(gzip.decompress(upload.body))
    assert [log["TimeGenerated"] for log in logs] == ["2025-03-04T05:06:01.123456Z", "2025-03-04T05:06:02.123456Z"]
    assert {key: logs[0][key] for key in rows[0]} == rows[0]
    assert (logs[1]["chain_head_sequence"], logs[1]["chain_head_hash"]) == (7, HEAD.block_hash)
    assert logs_ingestion.token_requests[-1]["grant_type"] == "client_credentials"
    assert logs_ingestion.token_requests[-1]["client_id"] == logs_ingestion.client_id


def test_the_token_is_reused_across_batches(logs_ingestion: LogsIngestionEmulator) -> None:
    ctx = _ctx(logs_ingestion)
    for event_id in (1, 2, 3):
        KIND.send(ctx, [export_row(event_id)], head=HEAD)

    assert len(logs_ingestion.token_requests) == 1
    assert [event["id"] for event in logs_ingestion.events] == [1, 2, 3]


def test_the_sdk_does_not_retry_behind_the_engines_back(logs_ingestion: LogsIngestionEmulator) -> None:
    ctx = _ctx(logs_ingestion)
    KIND.send(ctx, [export_row(1)], head=HEAD)  # a token first
    logs_ingestion.fail_next(5, status=503)

    with pytest.raises(StreamUnavailable) as unavailable:
        KIND.send(ctx, [export_row(2)], head=HEAD)

    assert unavailable.value.status == 503 and "ServiceUnavailable" in str(unavailable.value)
    assert len(_uploads(logs_ingestion)) == 2  # one for each send: no SDK retries


def test_an_unknown_rule_makes_the_stream_wait_for_its_settings(logs_ingestion: LogsIngestionEmulator) -> None:
    with pytest.raises(StreamUnavailable) as unavailable:
        KIND.send(_ctx(logs_ingestion, rule_id="dcr-" + "f" * 32), [export_row(1)], head=HEAD)

    assert unavailable.value.status == 404


def test_an_untrusted_certificate_is_refused(logs_ingestion: LogsIngestionEmulator) -> None:
    config = _config(logs_ingestion)
    del config["ca_certificate"]
    ctx = stream_ctx("azure_monitor", config, {"client_secret": AZURE_SECRET})

    with pytest.raises(StreamUnavailable):
        KIND.send(ctx, [export_row(1)], head=HEAD)

    assert logs_ingestion.events == []


def test_its_test_event_is_one_log(logs_ingestion: LogsIngestionEmulator) -> None:
    KIND.test(_ctx(logs_ingestion), head=None)

    (log,) = logs_ingestion.events
    assert log["type"] == "strongroom.stream_test" and log["TimeGenerated"].endswith("Z")
    assert log["chain_head_hash"] is None


def test_the_scope_follows_the_endpoints_cloud() -> None:
    assert monitor_scope("https://dce-1.westeurope-1.ingest.monitor.azure.com") == "https://monitor.azure.com/.default"
    assert monitor_scope("https://dce-1.usgovvirginia-1.ingest.monitor.azure.us") == "https://monitor.azure.us/.default"
    assert monitor_scope("https://dce-1.chinaeast2-1.ingest.monitor.azure.cn") == "https://monitor.azure.cn/.default"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rule_id": "my-rule"}, "config.rule_id"),
        ({"stream_name": "StrongroomAudit"}, "config.stream_name"),
        ({"tenant_id": "a tenant"}, "config.tenant_id"),
        ({"endpoint": "http://dce.example.com"}, "config.endpoint"),
        ({"authority_host": "https://169.254.169.254"}, "config.authority_host"),
        ({"ca_certificate": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}, "config.ca_certificate"),
    ],
)
def test_it_names_the_field_of_a_bad_setting(settings: Any, overrides: dict[str, Any], field: str) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    config = {
        "endpoint": "https://dce-1.westeurope-1.ingest.monitor.azure.com",
        "rule_id": "dcr-0123456789abcdef0123456789abcdef",
        "tenant_id": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "client_id": "00000000-0000-0000-0000-000000000001",
        **overrides,
    }
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config=config, credentials={"client_secret": AZURE_SECRET})
    assert refused.value.field == field
    assert AZURE_SECRET not in str(refused.value)
