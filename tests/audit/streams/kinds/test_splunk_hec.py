"""The Splunk HEC kind on the wire: concatenated envelopes timed when the event happened."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from audit.streams.base import PluginFieldError, StreamRejected, StreamUnavailable
from audit.streams.kinds.splunk_hec.kind import collector_url
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import SplunkHecEmulator
from tests.audit.streams.kind_fixtures import HEAD, HEC_TOKEN, export_row, stream_ctx

KIND = stream_kind("splunk_hec")


def _ctx(emulator: SplunkHecEmulator, **config: Any) -> Any:
    return stream_ctx("splunk_hec", {"url": emulator.base_url, **config}, {"token": HEC_TOKEN})


def test_it_sends_one_envelope_per_event_concatenated_with_the_splunk_token(splunk_hec: SplunkHecEmulator) -> None:
    rows = [export_row(1), export_row(2, action="secret.deleted")]

    KIND.send(_ctx(splunk_hec, index="strongroom"), rows, head=HEAD)

    (request,) = splunk_hec.requests
    assert request.path == "/services/collector/event"
    assert request.headers["authorization"] == f"Splunk {HEC_TOKEN}"
    assert not request.body.startswith(b"[") and b"}{" in request.body  # no array, no separator
    first, second = splunk_hec.envelopes
    assert first["time"] == pytest.approx(datetime.fromisoformat(rows[0]["occurred_at"]).timestamp())
    assert first["host"] == "strongroom.example.com"
    assert (first["source"], first["sourcetype"], first["index"]) == ("strongroom", "_json", "strongroom")
    assert {key: first["event"][key] for key in rows[0]} == rows[0]
    assert (second["event"]["chain_head_sequence"], second["event"]["chain_head_hash"]) == (7, HEAD.block_hash)
    assert [event["id"] for event in splunk_hec.events] == [1, 2]


def test_it_uses_the_configured_source_and_sourcetype_and_no_index_by_default(splunk_hec: SplunkHecEmulator) -> None:
    KIND.send(_ctx(splunk_hec, source="vault-audit", sourcetype="strongroom:audit"), [export_row(3)], head=None)

    (envelope,) = splunk_hec.envelopes
    assert (envelope["source"], envelope["sourcetype"]) == ("vault-audit", "strongroom:audit")
    assert "index" not in envelope
    assert envelope["event"]["chain_head_hash"] is None


def test_an_invalid_data_format_answer_rejects_the_batch_and_names_the_event(splunk_hec: SplunkHecEmulator) -> None:
    splunk_hec.fail_next(1, status=400, body={"text": "Invalid data format", "code": 6, "invalid-event-number": 1})

    with pytest.raises(StreamRejected) as rejected:
        KIND.send(_ctx(splunk_hec), [export_row(1), export_row(2)], head=HEAD)

    assert rejected.value.status == 400
    assert "code 6" in str(rejected.value) and "event #1" in str(rejected.value)


def test_an_index_the_token_may_not_write_makes_the_stream_wait(splunk_hec: SplunkHecEmulator) -> None:
    with pytest.raises(StreamUnavailable) as unavailable:
        KIND.send(_ctx(splunk_hec, index="secret-index"), [export_row(1)], head=HEAD)

    assert unavailable.value.status == 400 and "code 7" in str(unavailable.value)


def test_a_busy_hec_asks_to_retry_after(splunk_hec: SplunkHecEmulator) -> None:
    splunk_hec.fail_next(1, status=503, retry_after=30)

    with pytest.raises(StreamUnavailable) as unavailable:
        KIND.send(_ctx(splunk_hec), [export_row(1)], head=HEAD)

    assert (unavailable.value.status, unavailable.value.retry_after) == (503, 30)
    assert "code 9" in str(unavailable.value)


def test_its_test_event_is_one_envelope(splunk_hec: SplunkHecEmulator) -> None:
    KIND.test(_ctx(splunk_hec), head=HEAD)

    (envelope,) = splunk_hec.envelopes
    assert envelope["event"]["type"] == "strongroom.stream_test"
    assert envelope["time"] == pytest.approx(datetime.fromisoformat(envelope["event"]["sent_at"]).timestamp())
    json.dumps(envelope)


@pytest.mark.parametrize(
    ("base", "url"),
    [
        ("https://splunk:8088", "https://splunk:8088/services/collector/event"),
        ("https://splunk:8088/", "https://splunk:8088/services/collector/event"),
        ("https://splunk:8088/services/collector", "https://splunk:8088/services/collector/event"),
        ("https://splunk:8088/services/collector/event", "https://splunk:8088/services/collector/event"),
    ],
)
def test_it_posts_to_the_event_endpoint_of_the_configured_collector(base: str, url: str) -> None:
    assert collector_url(base) == url


@pytest.mark.parametrize(
    ("config", "credentials", "field"),
    [
        ({"url": "https://splunk.example.com:8088"}, {}, "credentials.token"),
        ({}, {"token": HEC_TOKEN}, "config.url"),
        ({"url": "http://splunk.example.com:8088"}, {"token": HEC_TOKEN}, "config.url"),
    ],
)
def test_it_names_the_field_of_a_bad_setting(
    settings: Any, config: dict[str, Any], credentials: dict[str, Any], field: str
) -> None:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(PluginFieldError) as refused:
        KIND.validate(config=config, credentials=credentials)
    assert refused.value.field == field
