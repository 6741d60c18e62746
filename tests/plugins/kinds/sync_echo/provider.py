"""A sync destination that keeps its items in ``BUCKETS`` (bucket name -> {remote name: value})."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from secrets_app.plugins import PluginField
from syncs.providers.base import (
    ActionKind,
    AppliedItem,
    ApplyProgress,
    ApplyResult,
    ConnectionInfo,
    ConnectionMethod,
    Credential,
    Plan,
    RemoteItem,
    SyncContext,
    SyncProvider,
)

BUCKETS: dict[str, dict[str, str]] = {}


class EchoToken(ConnectionMethod):
    kind = "token"
    label = "Echo token"
    fields = (Credential("echo_token", "Echo token"),)


class EchoSyncProvider(SyncProvider):
    kind = "sync_echo"
    label = "Echo bucket"
    description = "A destination declared only in tests"
    reveals_values = True
    max_value_bytes = 64  # small, so a test can be warned about a value over it
    methods = (EchoToken(),)
    destination_fields = (PluginField("bucket", "Echo bucket name", help="The bucket the values land in"),)
    option_fields = (
        PluginField(
            "loudness", "Loudness", input="choice", choices=(("quiet", "Quiet"), ("loud", "Loud")), required=False
        ),
    )

    def test_connection(self, connection: ConnectionInfo) -> str:
        return "echo bucket store reached"

    def target_key(self, destination: Mapping[str, Any]) -> str:
        return f"echo:{destination['bucket']}"

    def read_remote(self, ctx: SyncContext) -> dict[str, RemoteItem]:
        bucket = BUCKETS.get(ctx.destination["bucket"], {})
        return {name: RemoteItem(name, value=value) for name, value in bucket.items()}

    def apply(self, ctx: SyncContext, plan: Plan) -> ApplyResult:
        bucket = BUCKETS.setdefault(ctx.destination["bucket"], {})
        applied = []
        for action in plan.of_kind(*ActionKind.WRITES):
            bucket[action.name] = action.value or ""
            applied.append(
                AppliedItem(action.name, action.key, action.digest, created=action.kind == ActionKind.CREATE)
            )
        removed = [action.name for action in plan.of_kind(ActionKind.DELETE) if bucket.pop(action.name, None) or True]
        ctx.progress(ApplyProgress(applied=tuple(applied), removed=tuple(removed)))
        return ApplyResult(applied=applied, removed=removed)

    def delete_items(self, ctx: SyncContext, names: list[str], *, delete_container: bool) -> dict[str, str] | None:
        for name in names:
            BUCKETS.get(ctx.destination["bucket"], {}).pop(name, None)
        return None
