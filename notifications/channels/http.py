"""Outbound HTTP for channel kinds, always through the product's guard (``secrets_app.outbound``):
public addresses only (or the ``STRONGROOM_OUTBOUND_ALLOWED_HOSTS`` escape hatch), the address
checked is the address dialled, no redirects, no proxies, the credential bound to its host.

``slack_sdk`` speaks ``urllib``; :class:`GuardedWebClient` and :class:`GuardedWebhookClient` replace
its one transport method with a guarded ``requests`` session, so its request building, response
parsing and errors stay the SDK's. Transport errors are re-raised as :class:`ChannelUnreachable`
whose text names the host only: a ``requests`` error message quotes the URL, and a webhook URL's
path is its secret.
"""

from __future__ import annotations

import email.message
import io
import logging
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request

import requests
from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient
from slack_sdk.webhook.webhook_response import WebhookResponse

from secrets_app import outbound

# The SDK logs request URLs (a webhook's secret) at debug and transport errors at error: silenced,
# our delivery engine records a safe text instead.
_SDK_LOGGER = logging.getLogger("strongroom.notifications.sdk")
_SDK_LOGGER.setLevel(logging.CRITICAL + 1)
_SDK_LOGGER.propagate = False


class ChannelUnreachable(Exception):
    """A connection-level failure (refused, reset, timeout, TLS). ``str()`` names the host only."""


def timeout() -> float:
    return float(getattr(settings, "STRONGROOM_NOTIFICATIONS_HTTP_TIMEOUT", 10))


def post(
    url: str, *, data: bytes | None = None, json: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    """POST through the guard. ``OutboundRefused`` or ``ChannelUnreachable`` when it cannot."""
    host = outbound.host_of(url)[0]
    session = outbound.session(bound_to=[url])
    try:
        return session.post(url, data=data, json=json, headers=headers or {}, timeout=timeout())
    except outbound.OutboundRefused:
        raise
    except requests.Timeout:
        raise ChannelUnreachable(f"{host}: timed out") from None
    except requests.RequestException as exc:
        refusal = outbound.refusal_in(exc)
        if refusal is not None:
            raise refusal from None
        raise ChannelUnreachable(f"{host}: connection failed ({type(exc).__name__})") from None
    finally:
        session.close()


def _urllib_style(url: str, req: Request) -> tuple[int, email.message.Message, bytes]:
    response = post(url, data=req.data if isinstance(req.data, bytes) else None, headers=dict(req.header_items()))
    headers = email.message.Message()
    for key, value in response.headers.items():
        headers[key] = value
    body = response.content
    if response.status_code >= 400:
        # What urllib would raise: slack_sdk turns it into its own response / error objects.
        raise HTTPError(
            f"https://{outbound.host_of(url)[0]}/",
            response.status_code,
            response.reason or "",
            headers,
            io.BytesIO(body),
        )
    return response.status_code, headers, body


class GuardedWebClient(WebClient):
    """``slack_sdk.WebClient`` whose requests go through the outbound guard (no SDK retries:
    the delivery engine retries with backoff and honours Retry-After itself)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", int(timeout()))
        super().__init__(logger=_SDK_LOGGER, retry_handlers=[], **kwargs)
        self.proxy = None

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        status, headers, body = _urllib_style(url, req)
        charset = headers.get_content_charset() or "utf-8"
        return {"status": status, "headers": headers, "body": body.decode(charset, errors="replace")}


class GuardedWebhookClient(WebhookClient):
    """``slack_sdk.webhook.WebhookClient`` through the outbound guard."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", int(timeout()))
        super().__init__(url, logger=_SDK_LOGGER, retry_handlers=[], **kwargs)
        self.proxy = None

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        status, headers, body = _urllib_style(url, req)
        charset = headers.get_content_charset() or "utf-8"
        return WebhookResponse(
            url=url, status_code=status, body=body.decode(charset, errors="replace"), headers=dict(headers.items())
        )


def retry_after_of(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), or None."""
    if headers is None:
        return None
    value = None
    for key in ("Retry-After", "retry-after"):
        try:
            value = headers.get(key)
        except AttributeError:
            value = None
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            break
    try:
        return max(0.0, float(value)) if value else None
    except (TypeError, ValueError):
        return None
