"""Audit stream tests: the delivery engine's fixtures (``engine_support``) for every test here."""

from __future__ import annotations

from tests.audit.streams.engine_support import org_admin, other_org, receiver, stream_org, stream_workers  # noqa: F401
from tests.notifications.fixtures import notify_settings, smtp_server, teams_webhook  # noqa: F401
