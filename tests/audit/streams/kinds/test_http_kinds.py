"""What every HTTP stream kind does the same way, each against its own emulator: how the
destination's answers become the errors the engine acts on, secrets kept out of errors, the
outbound guard, and a receiver that is down."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audit.streams.base import StreamContext, StreamRejected, StreamUnavailable
from audit.streams.registry import stream_kind
from tests.audit.streams.emulators import HttpIntakeEmulator
from tests.audit.streams.kind_fixtures import (
    AZURE_SECRET,
    DD_API_KEY,
    HEAD,
    HEC_TOKEN,
    WEBHOOK_SECRET,
    export_row,
    stream_ctx,
)

SECRETS = (WEBHOOK_SECRET, HEC_TOKEN, DD_API_KEY, AZURE_SECRET)


def _webhook(emulator: Any, *, wrong: bool = False, url: str | None = None) -> StreamContext:
    secret = "whsec-not-the-receivers-one" if wrong else WEBHOOK_SECRET
    return stream_ctx("webhook", {"url": url or emulator.url}, {"signing_secret": secret})


def _splunk(emulator: Any, *, wrong: bool = False, url: str | None = None) -> StreamContext:
    token = "00000000-0000-0000-0000-000000000000" if wrong else HEC_TOKEN
    return stream_ctx("splunk_hec", {"url": url or emulator.base_url}, {"token": token})


def _datadog(emulator: Any, *, wrong: bool = False, url: str | None = None) -> StreamContext:
    key = "f" * 32 if wrong else DD_API_KEY
    return stream_ctx("datadog", {"url": url or emulator.url}, {"api_key": key})


def _azure(emulator: Any, *, wrong: bool = False, url: str | None = None) -> StreamContext:
    return stream_ctx(
        "azure_monitor",
        {
            "endpoint": url or emulator.endpoint,
            "rule_id": emulator.rule_id,
            "tenant_id": emulator.tenant_id,
            "client_id": emulator.client_id,
            "authority_host": emulator.authority,
            "ca_certificate": emulator.ca_pem,
        },
        {"client_secret": "wrong-" + AZURE_SECRET if wrong else AZURE_SECRET},
    )


CASES: dict[str, tuple[str, str, Callable[..., StreamContext]]] = {
    "webhook": ("webhook", "webhook_receiver", _webhook),
    "splunk_hec": ("splunk_hec", "splunk_hec", _splunk),
    "datadog": ("datadog", "datadog_intake", _datadog),
    "azure_monitor": ("azure_monitor", "logs_ingestion", _azure),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[Any, HttpIntakeEmulator, Callable[..., StreamContext]]:
    kind, fixture, make_ctx = CASES[request.param]
    return stream_kind(kind), request.getfixturevalue(fixture), make_ctx


def _assert_safe(error: BaseException, ctx: StreamContext) -> None:
    for text in (str(error), repr(error), repr(ctx)):
        for secret in SECRETS:
            assert secret not in text


def test_it_delivers_a_batch_in_order(case: Any) -> None:
    kind, emulator, make_ctx = case
    kind.send(make_ctx(emulator), [export_row(1), export_row(2), export_row(3)], head=HEAD)

    assert [event["id"] for event in emulator.events] == [1, 2, 3]
    assert all(event["chain_head_hash"] == HEAD.block_hash for event in emulator.events)


def test_a_429_with_retry_after_asks_the_engine_to_wait(case: Any) -> None:
    kind, emulator, make_ctx = case
    emulator.fail_next(1, status=429, retry_after=7)
    ctx = make_ctx(emulator)

    with pytest.raises(StreamUnavailable) as unavailable:
        kind.send(ctx, [export_row(1)], head=HEAD)

    assert unavailable.value.status == 429 and unavailable.value.retry_after == 7
    _assert_safe(unavailable.value, ctx)
    assert emulator.events == []
    kind.send(ctx, [export_row(1)], head=HEAD)  # the same batch goes through once it may
    assert [event["id"] for event in emulator.events] == [1]


def test_a_busy_destination_is_unavailable_not_a_refusal(case: Any) -> None:
    kind, emulator, make_ctx = case
    emulator.fail_next(1, status=503, retry_after=2)

    with pytest.raises(StreamUnavailable) as unavailable:
        kind.send(make_ctx(emulator), [export_row(1)], head=HEAD)

    assert unavailable.value.status == 503 and unavailable.value.retry_after == 2


def test_a_413_rejects_the_batch_so_the_engine_splits_it(case: Any) -> None:
    kind, emulator, make_ctx = case
    emulator.reject_if(lambda event: event.get("id") == 2, status=413)
    ctx = make_ctx(emulator)

    with pytest.raises(StreamRejected) as rejected:
        kind.send(ctx, [export_row(1), export_row(2), export_row(3)], head=HEAD)

    assert rejected.value.status == 413
    _assert_safe(rejected.value, ctx)
    kind.send(ctx, [export_row(1)], head=HEAD)
    kind.send(ctx, [export_row(3)], head=HEAD)
    assert [event["id"] for event in emulator.events] == [1, 3]


def test_wrong_credentials_make_the_stream_wait_with_the_status(case: Any) -> None:
    kind, emulator, make_ctx = case
    ctx = make_ctx(emulator, wrong=True)

    with pytest.raises(StreamUnavailable) as unavailable:
        kind.send(ctx, [export_row(1)], head=HEAD)

    assert unavailable.value.status in (401, 403)
    assert "refused the credentials" in str(unavailable.value)
    _assert_safe(unavailable.value, ctx)
    assert emulator.events == []


def test_a_destination_that_is_down_is_unavailable_and_recovers(case: Any) -> None:
    kind, emulator, make_ctx = case
    ctx = make_ctx(emulator)
    emulator.down()

    with pytest.raises(StreamUnavailable) as unavailable:
        kind.send(ctx, [export_row(1)], head=HEAD)

    assert unavailable.value.status is None
    assert "127.0.0.1" in str(unavailable.value)
    _assert_safe(unavailable.value, ctx)
    emulator.up()
    kind.send(ctx, [export_row(1)], head=HEAD)
    assert [event["id"] for event in emulator.events] == [1]


def test_the_test_event_arrives_in_the_kinds_format(case: Any) -> None:
    kind, emulator, make_ctx = case
    kind.test(make_ctx(emulator), head=HEAD)

    (event,) = emulator.events
    assert event["type"] == "strongroom.stream_test"
    assert event["organization_id"] == 1


def test_the_outbound_guard_refuses_the_metadata_address(case: Any, settings: Any) -> None:
    kind, emulator, make_ctx = case
    ctx = make_ctx(emulator)  # saved while allowed …
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = []  # … then the operator closes the escape hatch

    with pytest.raises(StreamUnavailable) as unavailable:
        kind.send(ctx, [export_row(1)], head=HEAD)

    assert "127.0.0.1" in str(unavailable.value) and "refused" in str(unavailable.value)
    assert emulator.requests == []

    field = {"webhook": "url", "splunk_hec": "url", "datadog": "url", "azure_monitor": "endpoint"}[kind.kind]
    config = {**ctx.config, field: "https://169.254.169.254/latest/meta-data"}
    from audit.streams.base import PluginFieldError

    with pytest.raises(PluginFieldError) as refused:
        kind.validate(config=config, credentials=dict(ctx.credentials))
    assert refused.value.field == f"config.{field}"
    assert "non-public" in str(refused.value)
