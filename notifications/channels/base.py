"""The interface every notification channel kind implements (one folder per kind).

A kind is stateless: the delivery engine (``notifications.services.delivery``) hands it the
channel's decrypted settings and one rendered message, and records what it reports back.

Errors raised by ``send``, ``update`` and ``test`` must be :class:`DeliveryError` whose ``str()``
is safe to store and show: a status code, a Slack error code, an exception class — never a
credential, a webhook URL or a response body that might echo one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from secrets_app import outbound
from secrets_app.plugins import PluginField, PluginFieldError, PluginKind

__all__ = [
    "ChannelContext",
    "ChannelKind",
    "DeliveryError",
    "FinalDeliveryError",
    "PluginField",
    "PluginFieldError",
    "RenderedMessage",
    "SendResult",
    "TransientDeliveryError",
]


class DeliveryError(Exception):
    """A delivery attempt failed. ``retryable``: try again later (after ``retry_after`` seconds
    when the destination said so)."""

    retryable: bool = True

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TransientDeliveryError(DeliveryError):
    """429, 5xx, timeouts, a mail server that is down: retried with backoff."""

    retryable = True


class FinalDeliveryError(DeliveryError):
    """401/403, ``invalid_auth``, ``channel_not_found``, a webhook that is gone: never retried."""

    retryable = False


@dataclass(frozen=True)
class ChannelContext:
    """A decrypted channel for one call. Never logged, never stored."""

    id: int | None
    name: str
    config: Mapping[str, Any]
    credentials: Mapping[str, str]  # in memory only
    organization_id: int | None = None

    def __repr__(self) -> str:  # credentials never appear in logs or tracebacks
        return f"<ChannelContext {self.id} {self.name!r}>"


@dataclass(frozen=True)
class RenderedMessage:
    """What a kind turns into its own format. Every text field may hold user text: each kind
    escapes it for its destination (Slack mrkdwn, Adaptive Card markdown, HTML e-mail)."""

    title: str
    summary: str
    facts: tuple[tuple[str, str], ...] = ()
    link: str = ""
    link_label: str = ""
    severity: str = "info"
    event_kind: str = ""
    status_text: str = ""  # set once the subject is settled ("Merged by alice@example.com")
    follow_up: bool = False  # a short "this is settled" message after the original
    digest_items: tuple[tuple[str, str, str], ...] = ()  # (title, summary, link) for a daily digest


@dataclass
class SendResult:
    external_ref: dict[str, Any] = field(default_factory=dict)  # e.g. Slack {"channel", "ts"}


class ChannelKind(PluginKind):
    """Base of a channel kind.

    Class attributes (besides ``PluginKind``'s): ``supports_update`` — a sent message can be
    replaced in place (Slack bot ``chat.update``); the others get a follow-up message instead.
    """

    supports_update: ClassVar[bool] = False
    url_fields: ClassVar[tuple[str, ...]] = ()  # fields holding a URL the outbound guard must accept

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        cleaned_config, cleaned_credentials = super().validate(config=config, credentials=credentials)
        for name in self.url_fields:
            declared = self.field(name)
            value = (cleaned_credentials if declared.secret else cleaned_config).get(name)
            if not value:
                continue
            try:
                outbound.check_url(str(value), unresolvable_ok=True)
            except outbound.OutboundRefused as refusal:
                # The refusal names the host only (never the path, which holds the webhook's secret).
                raise PluginFieldError(f"{declared.group}.{name}", refusal.reason) from None
        return cleaned_config, cleaned_credentials

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        """Post *message*. *recipients* is used by e-mail for people (no channel)."""
        raise NotImplementedError

    def update(self, ctx: ChannelContext, message: RenderedMessage, external_ref: Mapping[str, Any]) -> SendResult:
        """Replace a message sent earlier (only when ``supports_update``)."""
        raise FinalDeliveryError(f"{self.kind} messages cannot be replaced")

    def test(self, ctx: ChannelContext) -> str:
        """Send a test message. Return a short safe description; raise ``DeliveryError`` otherwise."""
        self.send(
            ctx,
            RenderedMessage(
                title="Strongroom test message",
                summary="Notifications from Strongroom will arrive here.",
                event_kind="notifications.test",
            ),
        )
        return f"test message sent to {ctx.name}"
