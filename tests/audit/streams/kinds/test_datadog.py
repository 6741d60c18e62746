"""The Datadog kind on the wire: a JSON array of logs for the v2 intake."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.streams.base import PluginFieldError, StreamRejected
from audit.streams.kinds.datadog.kind import intake_url
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import DatadogIntakeEmulator
from tests.audit.streams.kind_fixtures import DD_API_KEY, HEAD, export_row, stream_ctx

KIND = stream_kind("datadog")


def _ctx(emulator: DatadogIntakeEmulator, **config: Any) -> Any:
    return stream_ctx("datadog", {"url": emulator.url, **config}, {"api_key": DD_API_KEY})


def test_it_posts_a_json_array_of_logs_with_datadogs_reserved_attributes(datadog_intake: DatadogIntakeEmulator) -> None:
    rows = [export_row(1), export_row(2, outcome="deny"), export_row(3, outcome="error")]

    KIND.send(_ctx(datadog_intake, service="vault", tags="env:prod, team:sec"), rows, head=HEAD)

    (request,) = datadog_intake.requests
    assert request.path == "/api/v2/logs" and request.headers["dd-api-key"] == DD_API_KEY
    assert request.headers["content-type"] == "application/json"
    logs = json.loads(request.body)
    assert isinstance(logs, list) and len(logs) == 3
    first = logs[0]
    assert first["ddsource"] == "strongroom" and first["service"] == "vault"
    assert first["hostname"] == "strongroom.example.com"
    assert first["ddtags"] == "env:prod,team:sec,strongroom_org:1"
    assert first["date"] == "2025-03-04T05:06:01.123456Z"
    assert [log["status"] for log in logs] == ["info", "warn", "error"]
    assert {key: first[key] for key in rows[0]} == rows[0]
    assert json.loads(first["message"]) == {**rows[0], "chain_head_sequence": 7, "chain_head_hash": HEAD.block_hash}


def test_the_site_picks_the_intake_host() -> None:
    assert intake_url({}) == "https://http-intake.logs.datadoghq.com/api/v2/logs"
    assert intake_url({"site": "datadoghq.eu"}) == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    assert intake_url({"site": "ddog-gov.com"}) == "https://http-intake.logs.ddog-gov.com/api/v2/logs"
    assert (
        intake_url({"site": "us5.datadoghq.com", "url": "https://proxy.example.com/dd"})
        == "https://proxy.example.com/dd"
    )


def test_an_event_over_one_megabyte_is_rejected_before_datadog_truncates_it(
    datadog_intake: DatadogIntakeEmulator,
) -> None:
    huge = export_row(9, metadata={"blob": "x" * 1_100_000})

    with pytest.raises(StreamRejected) as rejected:
        KIND.send(_ctx(datadog_intake), [huge], head=HEAD)

    assert "event 9" in str(rejected.value)
    assert datadog_intake.requests == []


def test_kind_limits_fit_the_v2_intake() -> None:
    assert KIND.max_events <= 1000 and 2 * KIND.max_bytes < 5 * 1000 * 1000


@pytest.mark.parametrize(
    ("config", "credentials", "field"),
    [
        ({"site": "datadoghq.xyz"}, {"api_key": DD_API_KEY}, "config.site"),
        ({}, {"api_key": "not a key!"}, "credentials.api_key"),
        ({}, {}, "credentials.api_key"),
        ({"url": "https://10.0.0.5/api/v2/logs"}, {"api_key": DD_API_KEY}, "config.url"),
    ],
)
def test_it_names_the_field_of_a_bad_setting(
    settings: Any, config: dict[str, Any], credentials: dict[str, Any], field: str
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config=config, credentials=credentials)
    assert refused.value.field == field
    assert DD_API_KEY not in str(refused.value)


def test_the_default_site_is_us1() -> None:
    config, _ = KIND.validate(config={}, credentials={"api_key": DD_API_KEY})
    assert config["site"] == "datadoghq.com"
