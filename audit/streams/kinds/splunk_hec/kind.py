"""Splunk HTTP Event Collector (HEC), the JSON event endpoint.

Wire format::

    POST <url>/services/collector/event
    Authorization: Splunk <token>
    Content-Type: application/json

    {"time": 1735689600.123456, "host": "<strongroom host>", "source": "strongroom",
     "sourcetype": "_json", "index": "<index, when set>", "event": {<row + chain head>}}{"time": …}…

One envelope per event, concatenated with no separator and no array (HEC's batch form). ``time``
is the event's ``occurred_at`` in epoch seconds (fractional), so Splunk files the event when it
happened, not when it arrived. ``event`` is the exported row (every column, ``row_hash``,
``block_*``) plus ``chain_head_sequence`` / ``chain_head_hash``.

HEC answers ``{"text": "Success", "code": 0}``. Its errors, mapped:

- 400 code 6 "Invalid data format" (with ``invalid-event-number``), 5 "No data", 12/13 event
  field missing/blank, and 413 → :class:`StreamRejected` (this batch; the engine splits it);
- 400 code 7 "Incorrect index" → :class:`StreamUnavailable` (a setting: every batch would fail);
- 401 (codes 2, 3: token missing/invalid authorization) and 403 (codes 1, 4: token disabled or
  invalid) → :class:`StreamUnavailable` with the status;
- 429 and 503 (code 9 "Server is busy"), other 5xx → :class:`StreamUnavailable` with ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from audit.streams.base import ChainHead, PluginField, StreamContext, StreamUnavailable
from audit.streams.wire import (
    CA_CERTIFICATE,
    GuardedStreamKind,
    event_time,
    post,
    raise_for_status,
    safe_code,
    site_host,
    stream_test_event,
    with_chain_head,
)

EVENT_PATH = "/services/collector/event"
DEFAULT_SOURCE = "strongroom"
DEFAULT_SOURCETYPE = "_json"
CONFIG_ERROR_CODES = frozenset({7})  # incorrect index: no batch can succeed until it is fixed


def collector_url(base: str) -> str:
    """``<base>/services/collector/event``; a URL already naming the collector is kept."""
    base = base.rstrip("/")
    if base.endswith(EVENT_PATH):
        return base
    if base.endswith("/services/collector"):
        return base + "/event"
    return base + EVENT_PATH


def hec_envelope(event: Mapping[str, Any], config: Mapping[str, Any], head: ChainHead | None) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "time": round(event_time(event).timestamp(), 6),
        "host": site_host(),
        "source": config.get("source") or DEFAULT_SOURCE,
        "sourcetype": config.get("sourcetype") or DEFAULT_SOURCETYPE,
    }
    if config.get("index"):
        envelope["index"] = config["index"]
    envelope["event"] = with_chain_head(event, head)
    return envelope


def hec_body(events: Sequence[Mapping[str, Any]], config: Mapping[str, Any], head: ChainHead | None) -> bytes:
    return "".join(
        json.dumps(hec_envelope(event, config, head), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        for event in events
    ).encode("ascii")


class SplunkHecStream(GuardedStreamKind):
    kind = "splunk_hec"
    label = "Splunk HTTP Event Collector"
    description = "Sends each batch to Splunk's HTTP Event Collector, one event per audit row, timed when it happened."
    url_fields = ("url",)
    fields = (
        PluginField(
            "url",
            "HEC URL",
            input="url",
            placeholder="https://splunk.example.com:8088",
            help="The collector's base URL (scheme, host, port); /services/collector/event is added.",
        ),
        PluginField(
            "token", "HEC token", secret=True, max_length=200, placeholder="xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
        ),
        PluginField("index", "Index", required=False, max_length=80, help="Default: the token's default index."),
        PluginField("source", "Source", required=False, max_length=200, help=f"Default: {DEFAULT_SOURCE}"),
        PluginField("sourcetype", "Source type", required=False, max_length=200, help=f"Default: {DEFAULT_SOURCETYPE}"),
        CA_CERTIFICATE,
    )

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        self._post(ctx, hec_body(events, ctx.config, head))

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        self._post(ctx, hec_body([stream_test_event(ctx)], ctx.config, head))

    def _post(self, ctx: StreamContext, body: bytes) -> None:
        headers = {
            "Authorization": f"Splunk {ctx.credentials.get('token', '')}",
            "Content-Type": "application/json",
        }
        response = post(
            collector_url(str(ctx.config.get("url", ""))),
            body=body,
            headers=headers,
            config=ctx.config,
            service="Splunk HEC",
        )
        code, detail = _hec_error(response)
        if response.status_code == 400 and code in CONFIG_ERROR_CODES:
            raise StreamUnavailable(f"Splunk HEC refused the stream's settings (HTTP 400) {detail}", status=400)
        raise_for_status(response, service="Splunk HEC", detail=detail)


def _hec_error(response: requests.Response) -> tuple[int | None, str]:
    """(HEC code, a safe "code N: text" with the invalid event number) from an error answer."""
    if response.status_code < 300:
        return None, ""
    try:
        answer = response.json()
    except ValueError:
        return None, ""
    if not isinstance(answer, dict):
        return None, ""
    code = answer.get("code")
    detail = f"code {safe_code(code)}: {safe_code(answer.get('text', ''))}" if code is not None else ""
    if answer.get("invalid-event-number") is not None:
        detail += f" (event #{safe_code(answer['invalid-event-number'])} of the batch)"
    return (code if isinstance(code, int) else None), detail
