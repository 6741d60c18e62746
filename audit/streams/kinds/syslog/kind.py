"""Syslog: RFC 5424 messages over TLS (RFC 5425), octet-counted, one connection per batch.

One message per event::

    <PRI>1 2025-01-01T12:00:00.123456Z strongroom.example.com strongroom - secret.value_read
    [strongroom@32473 eventId="42" organizationId="1" outcome="allow" rowHash="…" blockSeq="3"
    blockHash="…" chainSeq="7" chainHead="…"] {"action":"secret.value_read",…}

- framing: octet counting, ``<byte length> SP <message>`` (RFC 5425 §4.3 / RFC 6587 §3.4.1), so a
  line break inside an event can never split it;
- PRI = facility × 8 + severity: facility ``auth`` (4) by default (security/authorization
  messages; configurable: authpriv, log audit, local0–7); severity from the outcome — ``error`` →
  err (3), ``deny`` → warning (4), a secret value read → notice (5), anything else → info (6);
- TIMESTAMP is ``occurred_at`` (UTC, microseconds); HOSTNAME the Strongroom site's host; APP-NAME
  the configured name (default ``strongroom``); PROCID ``-``; MSGID the action (printable ASCII,
  at most 32 characters);
- STRUCTURED-DATA: one element with SD-ID ``strongroom@32473``. **32473 is the example private
  enterprise number RFC 5612 reserves for documentation**: Strongroom has no PEN of its own yet;
  a SIEM parser should key on the name ``strongroom@32473`` as is. Parameter values escape ``"``,
  ``\\`` and ``]`` with a backslash; parameters without a value are left out;
- MSG: the event as compact JSON (the exported row plus ``chain_head_sequence`` /
  ``chain_head_hash``; ASCII, so no BOM) or its CEF line (``audit.cef``; UTF-8, with a BOM when it
  holds non-ASCII characters, as RFC 5424 §6.4 asks).

Transport: ``tls`` (default; the server certificate is verified against the system store or the
stream's private CA, and its name against the configured host unless turned off; an optional client
certificate and key for mutual TLS) or ``tcp`` (plain, allowed only for hosts the operator listed
in ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS``, like plain http). The host passes the outbound guard:
resolved once, every address public (or allow-listed), and the checked address is the one dialled.

Syslog has no acknowledgements. A batch counts as delivered when every byte was written and the
receiver then closed the session (it replies to our TLS close_notify, or closes after our FIN,
once it has read everything before it); a reset or a failure to connect or handshake raises
:class:`StreamUnavailable`, and the engine sends the batch again (receivers dedupe on ``eventId``).
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from audit.cef import VALUE_READ_ACTIONS, cef_line, cef_stream_test_line, strongroom_version
from audit.streams.base import ChainHead, PluginField, PluginFieldError, StreamContext, StreamUnavailable
from audit.streams.wire import (
    CA_CERTIFICATE,
    PEM_MAX_LENGTH,
    TEST_EVENT_TYPE,
    GuardedStreamKind,
    clean_ca_certificate,
    event_time,
    site_host,
    stream_test_event,
    timeout,
    with_chain_head,
)
from secrets_app import outbound

PRIVATE_ENTERPRISE_NUMBER = 32473  # RFC 5612's documentation PEN: a placeholder until we register ours
SD_ID = f"strongroom@{PRIVATE_ENTERPRISE_NUMBER}"
DEFAULT_PORT = 6514
DEFAULT_APP_NAME = "strongroom"
FACILITIES: dict[str, int] = {
    "auth": 4,
    "authpriv": 10,
    "logaudit": 13,
    **{f"local{n}": 16 + n for n in range(8)},
}
DEFAULT_FACILITY = "auth"
BOM = b"\xef\xbb\xbf"
CLOSE_WAIT_SECONDS = 5.0
# (SD param name, event key) in the order they are written.
SD_PARAMS: tuple[tuple[str, str], ...] = (
    ("eventId", "id"),
    ("organizationId", "organization_id"),
    ("outcome", "outcome"),
    ("rowHash", "row_hash"),
    ("blockSeq", "block_sequence"),
    ("blockHash", "block_hash"),
    ("chainSeq", "chain_head_sequence"),
    ("chainHead", "chain_head_hash"),
    ("type", "type"),
)
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")


def syslog_severity(event: Mapping[str, Any]) -> int:
    """err 3 for an error, warning 4 for a refusal, notice 5 for a secret value read, info 6 otherwise."""
    outcome = event.get("outcome")
    if outcome == "error":
        return 3
    if outcome == "deny":
        return 4
    if event.get("action") in VALUE_READ_ACTIONS:
        return 5
    return 6


def header_field(value: Any, limit: int) -> str:
    """A header field: printable US-ASCII (33–126) only, at most *limit* characters, ``-`` when empty."""
    text = "".join(ch for ch in str(value or "") if 33 <= ord(ch) <= 126)[:limit]
    return text or "-"


def sd_escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def structured_data(event: Mapping[str, Any]) -> str:
    params = "".join(
        f' {name}="{sd_escape(event[key])}"' for name, key in SD_PARAMS if event.get(key) not in (None, "")
    )
    return f"[{SD_ID}{params}]"


def syslog_message(
    event: Mapping[str, Any], *, config: Mapping[str, Any], head: ChainHead | None, version: str
) -> bytes:
    """One RFC 5424 message (without framing)."""
    row = with_chain_head(event, head)
    pri = FACILITIES[str(config.get("facility") or DEFAULT_FACILITY)] * 8 + syslog_severity(row)
    timestamp = event_time(row).isoformat(timespec="microseconds").replace("+00:00", "Z")
    header = " ".join(
        [
            f"<{pri}>1",
            timestamp,
            header_field(site_host(), 255),
            header_field(config.get("app_name") or DEFAULT_APP_NAME, 48),
            "-",
            header_field(row.get("action") or row.get("type"), 32),
            structured_data(row),
        ]
    )
    if config.get("format") == "cef":
        line = (
            cef_stream_test_line(dict(event), version=version)
            if event.get("type") == TEST_EVENT_TYPE
            else cef_line(dict(event), version=version)
        )
        body = line.encode("utf-8")
        if not line.isascii():
            body = BOM + body
    else:
        body = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return header.encode("ascii") + b" " + body


def octet_frame(message: bytes) -> bytes:
    return str(len(message)).encode("ascii") + b" " + message


def _url_of(host: str, port: int, *, tls: bool) -> str:
    return f"{'https' if tls else 'http'}://{f'[{host}]' if ':' in host else host}:{port}/"


class SyslogStream(GuardedStreamKind):
    kind = "syslog"
    label = "Syslog (RFC 5424 over TLS)"
    description = (
        "Writes each event as an RFC 5424 message with Strongroom structured data, octet-counted over TLS "
        "(RFC 5425), as JSON or CEF."
    )
    url_fields = ()  # the host is checked in validate (it is a host, not a URL)
    fields = (
        PluginField("host", "Host", max_length=253, placeholder="syslog.example.com"),
        PluginField("port", "Port", required=False, input="int", help=f"Default: {DEFAULT_PORT}"),
        PluginField(
            "transport",
            "Transport",
            required=False,
            input="choice",
            choices=(("tls", "TLS (RFC 5425)"), ("tcp", "Plain TCP (allow-listed hosts only)")),
            help="Default: TLS.",
        ),
        PluginField(
            "format",
            "Message format",
            required=False,
            input="choice",
            choices=(("json", "JSON (the exported row)"), ("cef", "CEF (ArcSight)")),
            help="Default: JSON.",
        ),
        PluginField("app_name", "APP-NAME", required=False, max_length=48, help=f"Default: {DEFAULT_APP_NAME}"),
        PluginField(
            "facility",
            "Facility",
            required=False,
            input="choice",
            choices=tuple((name, f"{name} ({number})") for name, number in FACILITIES.items()),
            help=f"Default: {DEFAULT_FACILITY}.",
        ),
        CA_CERTIFICATE,
        PluginField(
            "skip_hostname_verification",
            "Do not check the certificate's host name",
            input="bool",
            help="Still verifies the certificate chain. Only for a receiver whose certificate names another host.",
        ),
        PluginField(
            "client_certificate",
            "Client certificate (PEM)",
            secret=True,
            required=False,
            input="textarea",
            max_length=PEM_MAX_LENGTH,
            help="For mutual TLS: the certificate (and chain) Strongroom presents.",
        ),
        PluginField(
            "client_key",
            "Client private key (PEM)",
            secret=True,
            required=False,
            input="textarea",
            max_length=PEM_MAX_LENGTH,
            help="The unencrypted private key of the client certificate.",
        ),
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        host = str(cleaned_config.get("host", "")).strip("[]").rstrip(".").lower()
        if not _HOST.match(host):
            raise PluginFieldError("config.host", "must be a host name or an IP address")
        port = cleaned_config.get("port") or DEFAULT_PORT
        if not 1 <= port <= 65535:
            raise PluginFieldError("config.port", "must be between 1 and 65535")
        tls = (cleaned_config.get("transport") or "tls") == "tls"
        try:
            outbound.check_url(_url_of(host, port, tls=tls), unresolvable_ok=True)
        except outbound.OutboundRefused as refusal:
            reason = refusal.reason
            if not tls and reason == "must be an https:// URL":
                reason = "plain TCP is allowed only for hosts in STRONGROOM_OUTBOUND_ALLOWED_HOSTS: use TLS"
            raise PluginFieldError("config.host", reason) from None
        cleaned_config.update(
            host=host,
            port=port,
            transport="tls" if tls else "tcp",
            format=cleaned_config.get("format") or "json",
            facility=cleaned_config.get("facility") or DEFAULT_FACILITY,
            app_name=header_field(cleaned_config.get("app_name") or DEFAULT_APP_NAME, 48),
        )
        certificate, key = cleaned_credentials.get("client_certificate"), cleaned_credentials.get("client_key")
        if bool(certificate) != bool(key):
            missing = "credentials.client_key" if certificate else "credentials.client_certificate"
            raise PluginFieldError(missing, "mutual TLS needs both the client certificate and its key")
        if certificate and key:
            clean_ca_certificate(certificate, where="credentials.client_certificate")
            try:
                _tls_context(cleaned_config, cleaned_credentials)
            except (ssl.SSLError, ValueError, OSError):
                raise PluginFieldError(
                    "credentials.client_key", "must be the unencrypted PEM private key of the client certificate"
                ) from None
        return cleaned_config, cleaned_credentials

    def send(self, ctx: StreamContext, events: Sequence[Mapping[str, Any]], *, head: ChainHead | None) -> None:
        version = strongroom_version()
        self._write(
            ctx, b"".join(octet_frame(syslog_message(e, config=ctx.config, head=head, version=version)) for e in events)
        )

    def test(self, ctx: StreamContext, *, head: ChainHead | None) -> None:
        message = syslog_message(stream_test_event(ctx), config=ctx.config, head=head, version=strongroom_version())
        self._write(ctx, octet_frame(message))

    def _write(self, ctx: StreamContext, payload: bytes) -> None:
        host = str(ctx.config.get("host", ""))
        port = int(ctx.config.get("port") or DEFAULT_PORT)
        tls = (ctx.config.get("transport") or "tls") == "tls"
        where = f"{host}:{port}"
        try:
            outbound.split_url(_url_of(host, port, tls=tls))
            address = outbound.checked_address("https" if tls else "http", host, port)
        except outbound.OutboundRefused as refusal:
            raise StreamUnavailable(f"syslog: {refusal}") from None
        try:
            context = _tls_context(ctx.config, ctx.credentials) if tls else None
        except (ssl.SSLError, ValueError, OSError):
            raise StreamUnavailable("syslog: the TLS settings (CA or client certificate) cannot be loaded") from None
        try:
            raw = socket.create_connection((address, port), timeout=timeout())
        except TimeoutError:
            raise StreamUnavailable(f"syslog: connection to {where} timed out") from None
        except OSError as exc:
            raise StreamUnavailable(f"syslog: connection to {where} failed ({type(exc).__name__})") from None
        sock: socket.socket = raw
        try:
            if context is not None:
                try:
                    sock = context.wrap_socket(raw, server_hostname=host)
                except ssl.SSLCertVerificationError:
                    raise StreamUnavailable(
                        f"syslog: {where} presented a certificate that is not trusted or not for {host}"
                    ) from None
                except (ssl.SSLError, OSError) as exc:
                    raise StreamUnavailable(
                        f"syslog: TLS handshake with {where} failed ({type(exc).__name__})"
                    ) from None
            try:
                sock.sendall(payload)
            except OSError as exc:
                raise StreamUnavailable(f"syslog: {where} closed the connection ({type(exc).__name__})") from None
            _close_cleanly(sock, where)
        finally:
            sock.close()
            raw.close()


def _close_cleanly(sock: socket.socket, where: str) -> None:
    """End the session and wait (briefly) for the receiver to end it too: it does so after reading
    everything we wrote. A reset means it did not: the batch is sent again."""
    sock.settimeout(min(timeout(), CLOSE_WAIT_SECONDS))
    try:
        if isinstance(sock, ssl.SSLSocket):
            sock.unwrap()  # our close_notify; returns once the receiver's arrives (RFC 5425 §4.4)
        else:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
    except (TimeoutError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
        return  # written in full; the receiver closed without ceremony, or is slow to
    except OSError as exc:
        raise StreamUnavailable(f"syslog: {where} reset the connection ({type(exc).__name__})") from None


def _tls_context(config: Mapping[str, Any], credentials: Mapping[str, Any]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = not config.get("skip_hostname_verification")
    context.verify_mode = ssl.CERT_REQUIRED
    if config.get("ca_certificate"):
        context.load_verify_locations(cadata=str(config["ca_certificate"]))
    else:
        context.load_default_certs()
    certificate, key = credentials.get("client_certificate"), credentials.get("client_key")
    if certificate and key:
        # ssl loads a key only from a file: a private directory, removed as soon as it is loaded.
        with tempfile.TemporaryDirectory(prefix="strongroom-syslog-") as directory:
            cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
            for path, text in ((cert_path, certificate), (key_path, key)):
                handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(handle, "w") as file:
                    file.write(text)
            context.load_cert_chain(cert_path, key_path)
    return context
