"""Microsoft Sentinel / Azure Monitor through the Logs Ingestion API, with Microsoft's own SDK
(``azure-monitor-ingestion``'s ``LogsIngestionClient``) and an Entra ID service principal
(``azure-identity``'s ``ClientSecretCredential``).

Wire format (what the SDK sends)::

    POST <endpoint>/dataCollectionRules/<dcr-immutable-id>/streams/<stream name>?api-version=2023-01-01
    Authorization: Bearer <token for https://monitor.azure.com/.default>
    Content-Type: application/json
    Content-Encoding: gzip

    gzip([{"TimeGenerated": "<occurred_at>", "id": …, "action": …, …every exported column…,
           "chain_head_sequence": …, "chain_head_hash": …}, …])

The data collection rule's stream declaration must have these columns (docs/audit-streams.md);
its transformation maps them onto the table (``StrongroomAudit_CL``, or a Sentinel table).

Our configuration of the SDKs (the same seam as ``syncs.providers.entra``, built here because
``audit`` imports no other app):

- both sessions go through ``secrets_app.outbound``: the credential's bound to the authority host,
  the ingestion client's to the endpoint host (public addresses, the checked address dialled, no
  redirects, no proxy variables), with the stream's private CA when one is set;
- azure-core's retries are off (``retry_total=0``): the delivery engine is the one retry layer;
- the SDK splits a list into 1 MB chunks itself and uploads each: ``max_bytes`` keeps a batch to
  one chunk, so a batch is one request and succeeds or fails whole; ``on_error`` collects any
  chunk's failure and the first one is raised as our error;
- a custom authority (``authority_host``: a sovereign cloud, a local emulator) turns MSAL instance
  discovery off; the token scope follows the endpoint's cloud (``monitor.azure.us`` / ``.cn``);
- credentials are cached per (authority, tenant, client, secret digest), so a busy stream does not
  ask Entra ID for a token per batch.

Errors: 401/403 and a refused client secret → :class:`StreamUnavailable` with the status; 400 and
413 → :class:`StreamRejected`; 408, 429 and 5xx → :class:`StreamUnavailable` with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from audit.streams.base import (
    ChainHead,
    PluginField,
    PluginFieldError,
    StreamContext,
    StreamError,
    StreamRejected,
    StreamUnavailable,
)
from audit.streams.wire import (
    CA_CERTIFICATE,
    GuardedStreamKind,
    event_time,
    retry_after_of,
    safe_code,
    stream_test_event,
    timeout,
    tls_verify,
    with_chain_head,
)
from secrets_app import outbound

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_STREAM = "Custom-StrongroomAudit_CL"
_RULE_ID = re.compile(r"^dcr-[0-9a-f]{32}$")
_STREAM = re.compile(r"^(Custom|Microsoft)-[A-Za-z0-9_]{1,100}$")
_GUID = re.compile(r"^[0-9A-Za-z.-]{1,100}$")
_SCOPES = (
    (".azure.us", "https://monitor.azure.us/.default"),
    (".azure.cn", "https://monitor.azure.cn/.default"),
)
PUBLIC_SCOPE = "https://monitor.azure.com/.default"


def monitor_scope(endpoint: str) -> str:
    host = outbound.host_of(endpoint)[0]
    for suffix, scope in _SCOPES:
        if host.endswith(suffix):
            return scope
    return PUBLIC_SCOPE


def azure_log(event: Mapping[str, Any], head: ChainHead | None) -> dict[str, Any]:
    """One log: ``TimeGenerated`` (ISO 8601 UTC) first, then the row and the chain head."""
    row = with_chain_head(event, head)
    return {"TimeGenerated": event_time(row).isoformat(timespec="microseconds").replace("+00:00", "Z"), **row}


def _transport(bound_to: str, config: Mapping[str, Any]) -> tuple[Any, Any]:
    """(azure-core transport, its session): everything through the outbound guard."""
    from azure.core.pipeline.transport import RequestsTransport

    session = outbound.session(bound_to=[bound_to])
    transport = RequestsTransport(
        session=session,
        session_owner=False,
        use_env_settings=False,
        connection_verify=tls_verify(config),
        connection_timeout=timeout(),
        read_timeout=timeout(),
    )
    return transport, session


_credentials: OrderedDict[str, Any] = OrderedDict()
_credentials_lock = threading.Lock()
_CACHE_SIZE = 32


def _credential(config: Mapping[str, Any], client_secret: str) -> Any:
    from azure.identity import ClientSecretCredential

    authority = str(config.get("authority_host") or DEFAULT_AUTHORITY)
    key = hashlib.sha256(
        "\x00".join(
            [authority, str(config["tenant_id"]), str(config["client_id"]), client_secret, str(tls_verify(config))]
        ).encode()
    ).hexdigest()
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None:
            _credentials.move_to_end(key)
            return cached
    transport, _ = _transport(authority, config)  # lives as long as the cached credential
    kwargs: dict[str, Any] = {"authority": authority, "transport": transport, "retry_total": 0}
    if config.get("authority_host"):
        kwargs["disable_instance_discovery"] = True
    credential = ClientSecretCredential(config["tenant_id"], config["client_id"], client_secret, **kwargs)
    with _credentials_lock:
        _credentials[key] = credential
        while len(_credentials) > _CACHE_SIZE:
            _credentials.popitem(last=False)
    return credential


class AzureMonitorStream(GuardedStreamKind):
    kind = "azure_monitor"
    label = "Microsoft Sentinel / Azure Monitor"
    description = (
        "Sends each batch to a Log Analytics workspace through the Logs Ingestion API "
        "(data collection endpoint + rule), authenticated as an Entra ID service principal."
    )
    url_fields = ("endpoint", "authority_host")
    max_events = 400
    max_bytes = 800 * 1024  # one SDK chunk (1 MiB of JSON) per batch, with room for TimeGenerated
    fields = (
        PluginField(
            "endpoint",
            "Data collection endpoint",
            input="url",
            placeholder="https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com",
            help="The logs ingestion URL of the data collection endpoint (or of the rule itself).",
        ),
        PluginField(
            "rule_id",
            "Data collection rule immutable ID",
            max_length=40,
            placeholder="dcr-00000000000000000000000000000000",
        ),
        PluginField(
            "stream_name",
            "Stream name",
            required=False,
            max_length=110,
            placeholder=DEFAULT_STREAM,
            help=f"The rule's input stream. Default: {DEFAULT_STREAM}.",
        ),
        PluginField("tenant_id", "Tenant ID", max_length=100),
        PluginField("client_id", "Client (application) ID", max_length=100),
        PluginField("client_secret", "Client secret", secret=True, max_length=500),
        PluginField(
            "authority_host",
            "Authority host",
            required=False,
            input="url",
            placeholder=DEFAULT_AUTHORITY,
            help="Only for a sovereign cloud (e.g. https://login.microsoftonline.us).",
        ),
        CA_CERTIFICATE,
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        if not _RULE_ID.match(cleaned_config.get("rule_id", "")):
            raise PluginFieldError("config.rule_id", "must be the rule's immutable ID (dcr- and 32 hex digits)")
        cleaned_config.setdefault("stream_name", DEFAULT_STREAM)
        if not _STREAM.match(cleaned_config["stream_name"]):
            raise PluginFieldError("config.stream_name", "must be a stream name such as Custom-StrongroomAudit_CL")
        for name in ("tenant_id", "client_id"):
            if not _GUID.match(cleaned_config.get(name, "")):
                raise PluginFieldError(f"config.{name}", "must be an ID (letters, digits, - and .)")
        for name in ("endpoint", "authority_host"):
            if cleaned_config.get(name) and not str(cleaned_config[name]).lower().startswith("https://"):
                raise PluginFieldError(f"config.{name}", "must be an https:// URL (Entra ID tokens never go over http)")
        return cleaned_config, cleaned_credentials

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        self._upload(ctx, [azure_log(event, head) for event in events])

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        self._upload(ctx, [azure_log(stream_test_event(ctx), head)])

    def _upload(self, ctx: StreamContext, logs: list[MutableMapping[str, Any]]) -> None:
        from azure.monitor.ingestion import LogsIngestionClient

        endpoint = str(ctx.config.get("endpoint", ""))
        failures: list[BaseException] = []
        session = None
        try:
            credential = _credential(ctx.config, ctx.credentials.get("client_secret", ""))
            transport, session = _transport(endpoint, ctx.config)
            client = LogsIngestionClient(
                endpoint,
                credential,
                transport=transport,
                retry_total=0,
                permit_redirects=False,
                credential_scopes=[monitor_scope(endpoint)],
                connection_timeout=timeout(),
                read_timeout=timeout(),
            )
            client.upload(
                rule_id=str(ctx.config.get("rule_id", "")),
                stream_name=str(ctx.config.get("stream_name") or DEFAULT_STREAM),
                logs=logs,
                on_error=lambda failure: failures.append(failure.error),
            )
        except StreamError:
            raise
        except Exception as exc:
            raise azure_error(exc, **_hosts(ctx.config)) from None
        finally:
            if session is not None:
                session.close()
        if failures:
            errors = [azure_error(failure, **_hosts(ctx.config)) for failure in failures]
            raise next((error for error in errors if isinstance(error, StreamUnavailable)), errors[0])


def _hosts(config: Mapping[str, Any]) -> dict[str, str]:
    names = {}
    for key, url in (
        ("authority", config.get("authority_host") or DEFAULT_AUTHORITY),
        ("endpoint", config.get("endpoint")),
    ):
        try:
            names[key] = outbound.host_of(str(url))[0]
        except outbound.OutboundRefused:
            continue
    return names


def azure_error(
    exc: BaseException, *, authority: str = "Microsoft Entra ID", endpoint: str = "the endpoint"
) -> StreamError:
    """Our error for an SDK/transport failure: a status, an error code, the host — never a body.
    *authority* / *endpoint*: the host names to blame for a connection failure."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    refusal = outbound.refusal_in(exc)
    if refusal is not None:
        return StreamUnavailable(f"Azure Monitor: {refusal}")
    if isinstance(exc, ClientAuthenticationError) and exc.response is None and exc.__cause__ is not None:
        # azure-identity wraps a transport failure (authority down, TLS) in this error: not a refusal.
        return StreamUnavailable(
            f"Azure Monitor: could not get a token from {authority} ({type(exc.__cause__).__name__})"
        )
    if isinstance(exc, ClientAuthenticationError):
        status = getattr(exc, "status_code", None)
        status = status if status in (401, 403) else 401
        return StreamUnavailable(
            f"Azure Monitor or Microsoft Entra ID refused the credentials (HTTP {status})", status=status
        )
    if isinstance(exc, HttpResponseError):
        status = int(exc.status_code or 0)
        error = getattr(exc, "error", None)
        code = f" {safe_code(error.code)}" if error is not None and getattr(error, "code", None) else ""
        response = getattr(exc, "response", None)
        retry_after = retry_after_of(response.headers if response is not None else None)
        if status in (401, 403):
            return StreamUnavailable(f"Azure Monitor refused the credentials (HTTP {status}){code}", status=status)
        if status in (404, 405, 410):
            return StreamUnavailable(f"Azure Monitor has no such rule or stream (HTTP {status}){code}", status=status)
        if status in (408, 429) or status >= 500 or status == 0:
            return StreamUnavailable(
                f"Azure Monitor is unavailable (HTTP {status}){code}", status=status or None, retry_after=retry_after
            )
        return StreamRejected(f"Azure Monitor rejected the batch (HTTP {status}){code}", status=status)
    return StreamUnavailable(f"Azure Monitor: request to {endpoint} failed ({type(exc).__name__})")
