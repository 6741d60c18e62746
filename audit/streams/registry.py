"""Find an audit stream kind. Adding a kind is one folder plus one line here: a ``StreamKind``
subclass (``audit/streams/base.py``) declaring its fields and implementing ``send`` and ``test``.
The form, API validation, kind choices and schema derive from the declaration (the plugin pattern,
``secrets_app/plugins.py``); the smallest example is ``tests/plugins/kinds/stream_echo/``."""

from __future__ import annotations

from audit.streams.base import StreamKind
from secrets_app.plugins import PluginRegistry

STREAM_KINDS: PluginRegistry[StreamKind] = PluginRegistry(
    {
        "webhook": "audit.streams.kinds.webhook.kind:WebhookStream",
        "splunk_hec": "audit.streams.kinds.splunk_hec.kind:SplunkHecStream",
        "azure_monitor": "audit.streams.kinds.azure_monitor.kind:AzureMonitorStream",
        "datadog": "audit.streams.kinds.datadog.kind:DatadogStream",
        "syslog": "audit.streams.kinds.syslog.kind:SyslogStream",
    },
    base=StreamKind,
    noun="stream kind",
)


def stream_kind(kind: str) -> StreamKind:
    return STREAM_KINDS.get(kind)
