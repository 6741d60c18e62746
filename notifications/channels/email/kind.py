"""E-mail through Django's mail settings (``EMAIL_*``; from ``DEFAULT_FROM_EMAIL``): a text/plain
body with an HTML alternative (autoescaped template). A channel sends to a list of addresses (an
organization distribution list); people are e-mailed without a channel."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email

from notifications.channels.base import (
    ChannelContext,
    ChannelKind,
    FinalDeliveryError,
    PluginField,
    PluginFieldError,
    RenderedMessage,
    SendResult,
    TransientDeliveryError,
)
from notifications.render import email_parts, email_subject


class EmailChannel(ChannelKind):
    kind = "email"
    label = "E-mail"
    description = "Sends to a list of addresses through the server's mail settings (STRONGROOM_EMAIL_*)."
    fields = (
        PluginField(
            "addresses",
            "Addresses",
            input="email",
            help="One address per line (e.g. a team's distribution list).",
            placeholder="platform-team@example.com",
        ),
    )

    def validate(
        self, *, config: Mapping[str, Any], credentials: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        raw = dict(config)
        if isinstance(raw.get("addresses"), str):
            raw["addresses"] = [part for part in raw["addresses"].replace(",", "\n").split() if part]
        cleaned, secrets = super().validate(config=raw, credentials=credentials)
        addresses = cleaned.get("addresses") or []
        if not isinstance(addresses, list) or not addresses:
            raise PluginFieldError("config.addresses", "give at least one address")
        if len(addresses) > 50:
            raise PluginFieldError("config.addresses", "at most 50 addresses")
        for index, address in enumerate(addresses):
            try:
                validate_email(address)
            except ValidationError:
                raise PluginFieldError(f"config.addresses[{index}]", "not a valid e-mail address") from None
        cleaned["addresses"] = addresses
        return cleaned, secrets

    def send(self, ctx: ChannelContext, message: RenderedMessage, *, recipients: Sequence[str] = ()) -> SendResult:
        to = list(recipients) or list(ctx.config.get("addresses") or [])
        if not to:
            raise FinalDeliveryError("no address to send to")
        text, html = email_parts(message)
        mail = EmailMultiAlternatives(
            subject=email_subject(message), body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=to
        )
        mail.attach_alternative(html, "text/html")
        try:
            mail.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused:
            raise FinalDeliveryError("the mail server refused the recipient address") from None
        except smtplib.SMTPAuthenticationError:
            raise FinalDeliveryError("the mail server refused our login (STRONGROOM_EMAIL_USER/PASSWORD)") from None
        except smtplib.SMTPResponseException as exc:
            error = TransientDeliveryError if exc.smtp_code >= 400 and exc.smtp_code < 500 else FinalDeliveryError
            if exc.smtp_code >= 500 and exc.smtp_code not in (550, 551, 552, 553, 554):
                error = TransientDeliveryError
            raise error(f"the mail server answered {exc.smtp_code}") from None
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientDeliveryError(f"the mail server could not be reached ({type(exc).__name__})") from None
        return SendResult({"to_count": len(to)})

    def test(self, ctx: ChannelContext) -> str:
        super().test(ctx)
        return f"test e-mail sent to {len(ctx.config.get('addresses') or [])} address(es)"


def mail_connection_ok() -> bool:
    """True when a connection to the mail server opens (health/diagnostics only)."""
    try:
        connection = get_connection(fail_silently=False)
        connection.open()
        connection.close()
    except Exception:
        return False
    return True
