"""Datadog Logs, HTTP intake v2.

Wire format::

    POST https://http-intake.logs.<site>/api/v2/logs        (or the configured URL override)
    DD-API-KEY: <api key>
    Content-Type: application/json

    [{"ddsource": "strongroom", "service": "strongroom", "hostname": "<strongroom host>",
      "ddtags": "<tags>,strongroom_org:<id>", "status": "info" | "warn" | "error",
      "date": "<occurred_at>", "message": "<the row + chain head as compact JSON>",
      "id": …, "action": …, …every exported column…, "chain_head_sequence": …, "chain_head_hash": …}, …]

Each log is the exported row as top-level attributes (facets in Datadog) plus Datadog's reserved
attributes; ``message`` holds the same row as JSON (what the Log Explorer shows), ``date`` makes
Datadog file the log when the event happened, and ``status`` is the outcome as a log level
(deny → warn, error → error).

Intake limits (v2): 1,000 logs and 5 MB (uncompressed) per request, 1 MB per log; Datadog would
truncate a larger log, which would break its row hash, so such an event is refused here
(:class:`StreamRejected`: the engine parks it). Since every row is sent twice (attributes and
``message``), ``max_bytes`` is 2 MiB of rows. Answers: 202 accepted; 400 and 413 reject the batch;
403 is a wrong API key (:class:`StreamUnavailable` with the status); 408, 429, 5xx are retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from audit.streams.base import ChainHead, PluginField, PluginFieldError, StreamContext, StreamRejected
from audit.streams.wire import (
    CA_CERTIFICATE,
    GuardedStreamKind,
    event_time,
    post,
    raise_for_status,
    site_host,
    stream_test_event,
    with_chain_head,
)

SITES: tuple[tuple[str, str], ...] = (
    ("datadoghq.com", "US1 (datadoghq.com)"),
    ("us3.datadoghq.com", "US3 (us3.datadoghq.com)"),
    ("us5.datadoghq.com", "US5 (us5.datadoghq.com)"),
    ("datadoghq.eu", "EU1 (datadoghq.eu)"),
    ("ap1.datadoghq.com", "AP1 (ap1.datadoghq.com)"),
    ("ap2.datadoghq.com", "AP2 (ap2.datadoghq.com)"),
    ("ddog-gov.com", "US1-FED (ddog-gov.com)"),
)
DEFAULT_SITE = "datadoghq.com"
DEFAULT_SERVICE = "strongroom"
SOURCE = "strongroom"
MAX_LOG_BYTES = 1_000_000
LEVELS = {"deny": "warn", "error": "error"}


def intake_url(config: Mapping[str, Any]) -> str:
    """The URL override when set, else the site's v2 logs intake."""
    if config.get("url"):
        return str(config["url"])
    return f"https://http-intake.logs.{config.get('site') or DEFAULT_SITE}/api/v2/logs"


def datadog_log(event: Mapping[str, Any], config: Mapping[str, Any], head: ChainHead | None) -> dict[str, Any]:
    row = with_chain_head(event, head)
    tags = [tag.strip() for tag in str(config.get("tags") or "").split(",") if tag.strip()]
    if row.get("organization_id") is not None:
        tags.append(f"strongroom_org:{row['organization_id']}")
    return {
        **row,
        "ddsource": SOURCE,
        "service": config.get("service") or DEFAULT_SERVICE,
        "hostname": site_host(),
        "ddtags": ",".join(tags),
        "status": LEVELS.get(str(row.get("outcome", "")), "info"),
        "date": event_time(row).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "message": json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True),
    }


def datadog_body(events: Sequence[Mapping[str, Any]], config: Mapping[str, Any], head: ChainHead | None) -> bytes:
    """The JSON array; :class:`StreamRejected` when one log would pass Datadog's 1 MB per log."""
    logs = []
    for event in events:
        log = json.dumps(datadog_log(event, config, head), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        if len(log) > MAX_LOG_BYTES:
            raise StreamRejected(f"event {event.get('id')} is over Datadog's 1 MB per log (it would be truncated)")
        logs.append(log)
    return ("[" + ",".join(logs) + "]").encode("ascii")


class DatadogStream(GuardedStreamKind):
    kind = "datadog"
    label = "Datadog Logs"
    description = "Sends each batch to Datadog's log intake (v2) with ddsource strongroom, one log per audit event."
    url_fields = ("url",)
    max_events = 1000
    max_bytes = 2 * 1024 * 1024
    fields = (
        PluginField(
            "site",
            "Datadog site",
            required=False,
            input="choice",
            choices=SITES,
            help=f"Where your Datadog organization lives. Default: {DEFAULT_SITE}.",
        ),
        PluginField(
            "url",
            "Intake URL override",
            required=False,
            input="url",
            placeholder="https://http-intake.logs.datadoghq.com/api/v2/logs",
            help="Only for a proxy or a private link: replaces the site's intake URL.",
        ),
        PluginField("api_key", "API key", secret=True, max_length=100),
        PluginField("service", "Service", required=False, max_length=100, help=f"Default: {DEFAULT_SERVICE}"),
        PluginField(
            "tags",
            "Tags",
            required=False,
            max_length=500,
            placeholder="env:prod,team:security",
            help="Comma-separated.",
        ),
        CA_CERTIFICATE,
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        api_key = cleaned_credentials.get("api_key", "")
        if not api_key.isalnum():
            raise PluginFieldError("credentials.api_key", "must be a Datadog API key (letters and digits)")
        cleaned_config.setdefault("site", DEFAULT_SITE)
        return cleaned_config, cleaned_credentials

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        self._post(ctx, datadog_body(events, ctx.config, head))

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        self._post(ctx, datadog_body([stream_test_event(ctx)], ctx.config, head))

    def _post(self, ctx: StreamContext, body: bytes) -> None:
        headers = {"DD-API-KEY": ctx.credentials.get("api_key", ""), "Content-Type": "application/json"}
        response = post(intake_url(ctx.config), body=body, headers=headers, config=ctx.config, service="Datadog")
        raise_for_status(response, service="Datadog")
