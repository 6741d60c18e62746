"""What the stream kinds share on the wire: the chain head fields every event carries, the test
event, the private CA a stream may trust, the save-time destination check, and HTTP through the
outbound guard with one status mapping.

Every HTTP request of a kind goes through :func:`post` (``secrets_app.outbound``): public addresses
only unless ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS`` names the host, the checked address is the one
dialled, no redirects, no proxy variables, and the session is bound to the configured URL's host,
so a token or signing key can reach nowhere else.

Errors name the host and a status, never the URL path (a webhook's path can be its secret) and
never a response body (a receiver may echo our token back).
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from audit.streams.base import (
    ChainHead,
    PluginField,
    PluginFieldError,
    StreamContext,
    StreamKind,
    StreamRejected,
    StreamUnavailable,
)
from secrets_app import outbound

TEST_EVENT_TYPE = "strongroom.stream_test"
PEM_MAX_LENGTH = 20000

CA_CERTIFICATE = PluginField(
    "ca_certificate",
    "Trusted CA certificate (PEM)",
    required=False,
    input="textarea",
    max_length=PEM_MAX_LENGTH,
    help="Only for a receiver whose certificate a private CA issued: paste that CA's certificate(s). "
    "When set, only this CA is trusted for this stream (not the system store).",
    placeholder="-----BEGIN CERTIFICATE-----",
)


def timeout() -> float:
    """Seconds for connecting and for each read (``STRONGROOM_AUDIT_STREAM_TIMEOUT``, default 30)."""
    return float(getattr(settings, "STRONGROOM_AUDIT_STREAM_TIMEOUT", 30))


def site_host() -> str:
    """The host name of this Strongroom (``STRONGROOM_SITE_URL``), the ``host`` receivers see."""
    return urlsplit(str(getattr(settings, "SITE_URL", "") or "")).hostname or "strongroom"


# --- what every event carries -----------------------------------------------------------------------


def chain_head_fields(head: ChainHead | None) -> dict[str, Any]:
    """``chain_head_sequence`` / ``chain_head_hash`` (both None before the first block is sealed)."""
    return {
        "chain_head_sequence": head.sequence if head is not None else None,
        "chain_head_hash": head.block_hash if head is not None else None,
    }


def with_chain_head(event: Mapping[str, Any], head: ChainHead | None) -> dict[str, Any]:
    """The event (every exported column, untouched) plus the chain head fields. Receivers recompute
    ``row_hash`` from the exported columns only (docs/audit_export_verify.py), so the extra fields
    do not disturb verification."""
    return {**event, **chain_head_fields(head)}


def stream_test_event(ctx: StreamContext) -> dict[str, Any]:
    """The one event a stream test sends (no ``id``: receivers must not take it for an audit row)."""
    return {
        "type": TEST_EVENT_TYPE,
        "organization_id": ctx.organization_id,
        "stream": ctx.name,
        "sent_at": datetime.now(UTC).isoformat(timespec="microseconds"),
    }


def event_time(event: Mapping[str, Any]) -> datetime:
    """When the event happened (``occurred_at``; ``sent_at`` for the test event), timezone-aware UTC."""
    raw = event.get("occurred_at") or event.get("sent_at")
    moment = datetime.fromisoformat(str(raw)) if raw else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- private CA -------------------------------------------------------------------------------------


def clean_ca_certificate(pem: str | None, *, where: str = "config.ca_certificate") -> str | None:
    """*pem* when it holds at least one PEM certificate, else ``PluginFieldError``."""
    if not pem:
        return None
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(pem.strip().encode())
    except ValueError:
        certificates = []
    if not certificates:
        raise PluginFieldError(where, "must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)")
    return pem.strip() + "\n"


def trust_file(pem: str) -> str:
    """A file holding *pem* for TLS libraries that want a path. CA certificates are public: the file
    is named by its content's hash and written once, atomically."""
    digest = hashlib.sha256(pem.encode()).hexdigest()[:32]
    path = os.path.join(tempfile.gettempdir(), f"strongroom-stream-ca-{digest}.pem")
    if not os.path.exists(path):
        handle, partial = tempfile.mkstemp(prefix="strongroom-stream-ca-", suffix=".tmp")
        with os.fdopen(handle, "w") as file:
            file.write(pem)
        os.replace(partial, path)
    return path


def tls_verify(config: Mapping[str, Any]) -> bool | str:
    """``verify`` for requests/azure-core: the stream's private CA file, else default verification
    (the system store, or ``REQUESTS_CA_BUNDLE`` when an operator set it)."""
    pem = config.get("ca_certificate")
    return trust_file(str(pem)) if pem else True


# --- the kinds' common base ---------------------------------------------------------------------------


class GuardedStreamKind(StreamKind):
    """A kind whose ``url_fields`` must pass the outbound guard when saved, and whose optional
    ``ca_certificate`` must parse."""

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        if "ca_certificate" in cleaned_config:
            cleaned_config["ca_certificate"] = clean_ca_certificate(cleaned_config["ca_certificate"])
        for name in self.url_fields:
            declared = self.field(name)
            value = (cleaned_credentials if declared.secret else cleaned_config).get(name)
            if not value:
                continue
            try:
                cleaned = outbound.check_url(str(value), unresolvable_ok=True)
            except outbound.OutboundRefused as refusal:
                # The refusal names the host only (never the path, which may hold a secret).
                raise PluginFieldError(f"{declared.group}.{name}", refusal.reason) from None
            (cleaned_credentials if declared.secret else cleaned_config)[name] = cleaned.rstrip("/")
        return cleaned_config, cleaned_credentials


# --- HTTP ---------------------------------------------------------------------------------------------


def post(
    url: str, *, body: bytes, headers: Mapping[str, str], config: Mapping[str, Any], service: str
) -> requests.Response:
    """POST *body* to *url* through the outbound guard (session bound to *url*'s host).
    Connection-level failures and refusals raise :class:`StreamUnavailable` naming the host only."""
    try:
        host = outbound.host_of(url)[0]
    except outbound.OutboundRefused as refusal:
        raise StreamUnavailable(f"{service}: {refusal}") from None
    session = outbound.session(bound_to=[url])
    try:
        return session.post(url, data=body, headers=dict(headers), timeout=timeout(), verify=tls_verify(config))
    except outbound.OutboundRefused as refusal:
        raise StreamUnavailable(f"{service}: {refusal}") from None
    except requests.Timeout:
        raise StreamUnavailable(f"{service}: {host} timed out") from None
    except requests.exceptions.SSLError:
        raise StreamUnavailable(f"{service}: TLS handshake with {host} failed (certificate not trusted?)") from None
    except requests.RequestException as exc:
        inner = outbound.refusal_in(exc)
        if inner is not None:
            raise StreamUnavailable(f"{service}: {inner}") from None
        raise StreamUnavailable(f"{service}: connection to {host} failed ({type(exc).__name__})") from None
    finally:
        session.close()


def retry_after_of(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def raise_for_status(response: requests.Response, *, service: str, detail: str = "") -> None:
    """Return for 2xx; otherwise the error the engine acts on:

    - 401/403 → :class:`StreamUnavailable` with the status (credentials wrong: every batch would fail);
    - 404/405/410 → :class:`StreamUnavailable` (nothing listens at this URL: a setting to fix);
    - 408, 429 and 5xx → :class:`StreamUnavailable` with ``Retry-After``;
    - any other 4xx (400, 413, 422 …) → :class:`StreamRejected` (this batch, split it).

    *detail* (a receiver's error code, already made safe) is appended to the message."""
    status = response.status_code
    if 200 <= status < 300:
        return
    suffix = f" {detail}" if detail else ""
    if status in (401, 403):
        raise StreamUnavailable(f"{service} refused the credentials (HTTP {status}){suffix}", status=status)
    if status in (404, 405, 410):
        raise StreamUnavailable(f"{service} has no intake at this URL (HTTP {status}){suffix}", status=status)
    if status in (408, 429) or status >= 500:
        raise StreamUnavailable(
            f"{service} is unavailable (HTTP {status}){suffix}",
            status=status,
            retry_after=retry_after_of(response.headers),
        )
    raise StreamRejected(f"{service} rejected the batch (HTTP {status}){suffix}", status=status)


def safe_code(value: Any, *, limit: int = 60) -> str:
    """A receiver's error code or short text reduced to harmless characters (no echo of a body)."""
    text = str(value)[:limit]
    return "".join(ch for ch in text if ch.isalnum() or ch in " _-.:")


__all__ = [
    "CA_CERTIFICATE",
    "TEST_EVENT_TYPE",
    "GuardedStreamKind",
    "chain_head_fields",
    "clean_ca_certificate",
    "event_time",
    "post",
    "raise_for_status",
    "retry_after_of",
    "safe_code",
    "site_host",
    "stream_test_event",
    "timeout",
    "tls_verify",
    "trust_file",
    "with_chain_head",
]
