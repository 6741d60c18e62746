"""Fixtures for anything that sends notifications (also imported by other apps' tests)::

    from tests.notifications.fixtures import notify_settings, slack_api, smtp_server, teams_webhook  # noqa: F401

- ``slack_api``: a :class:`~tests.emulators.slack_api.SlackEmulator` (Web API + incoming webhook);
  ``STRONGROOM_SLACK_API_URL`` points at it. Good bot token: ``SLACK_TOKEN``; channel: ``SLACK_CHANNEL``.
- ``teams_webhook``: a :class:`~tests.emulators.teams_webhook.TeamsWebhookEmulator`.
- ``smtp_server``: a real SMTP server (aiosmtpd) on a free port; Django's SMTP backend points at it.
  ``smtp_server.messages`` holds the parsed ``email.message.EmailMessage`` objects received.
- ``notify_settings``: the outbound guard lets 127.0.0.1 through, retry delays are 0 s.
- ``deliver_all()``: run every due delivery in-process (the Celery task's function), repeatedly.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulators.slack_api import SlackEmulator
from tests.emulators.teams_webhook import TeamsWebhookEmulator

SLACK_TOKEN = "xoxb-good-token"
SLACK_CHANNEL = "C0123456789"


@pytest.fixture
def notify_settings(settings: Any) -> Any:
    settings.STRONGROOM_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.STRONGROOM_NOTIFICATIONS_RETRY_DELAYS = [0.0, 0.0, 0.0, 0.0, 0.0]
    settings.STRONGROOM_NOTIFICATIONS_HTTP_TIMEOUT = 5
    settings.SITE_URL = "https://strongroom.example.com"
    return settings


@pytest.fixture
def slack_api(settings: Any) -> Iterator[SlackEmulator]:
    with SlackEmulator(tokens=(SLACK_TOKEN,), channels=(SLACK_CHANNEL,)) as emulator:
        settings.STRONGROOM_SLACK_API_URL = emulator.api_url
        yield emulator


@pytest.fixture
def teams_webhook() -> Iterator[TeamsWebhookEmulator]:
    with TeamsWebhookEmulator() as emulator:
        yield emulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpRecorder:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpRecorder]:
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield recorder
    finally:
        controller.stop()


def deliver_all(rounds: int = 10) -> list[str]:
    """Run every due, pending delivery through the task function until none is left (or *rounds*)."""
    from django.db.models import Q
    from django.utils import timezone

    from notifications.models import Delivery, DeliveryStatus
    from notifications.tasks import delivery_send

    outcomes: list[str] = []
    for _ in range(rounds):
        due = list(
            Delivery.objects.filter(status=DeliveryStatus.PENDING, digest=False)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
            .values_list("pk", flat=True)
        )
        if not due:
            break
        outcomes += [delivery_send(delivery_id) for delivery_id in due]
    return outcomes
