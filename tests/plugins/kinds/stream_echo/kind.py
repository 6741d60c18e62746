"""An audit stream kind that records each batch it was handed in ``BATCHES``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.streams.base import ChainHead, PluginField, StreamContext, StreamKind

BATCHES: list[dict[str, Any]] = []


class EchoStream(StreamKind):
    kind = "stream_echo"
    label = "Echo log"
    description = "A stream kind declared only in tests"
    fields = (
        PluginField("channel", "Echo channel", placeholder="e.g. siem"),
        PluginField("echo_token", "Echo token", secret=True, input="password"),
    )

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        BATCHES.append({"channel": ctx.config["channel"], "ids": [event["id"] for event in events], "test": False})

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        BATCHES.append({"channel": ctx.config["channel"], "ids": [], "test": True})
