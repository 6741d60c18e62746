"""Notification tests: the Slack and Teams emulators, a real SMTP server, fast retries."""

from __future__ import annotations

from typing import Any

import pytest

from tests.notifications.fixtures import notify_settings, slack_api, smtp_server, teams_webhook  # noqa: F401


@pytest.fixture(autouse=True)
def _fast(notify_settings: Any) -> None:  # noqa: F811
    """Every notification test: 127.0.0.1 allowed outbound, zero retry delays."""
